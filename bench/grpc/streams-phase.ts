/**
 * Streams phase of the gRPC benchmark: how many open WatchPresence streams one server holds per
 * GiB. For each client kind (grpc-js; Connect over h2) a fresh server (memory store) is started,
 * GC'd through the inspector and its RSS read; generator processes then open N streams (full
 * detail, rooms of `roomSize` watchers) over separate HTTP/2 connections of `perConnection`
 * streams each (the server allows 10,000 concurrent streams per session: one-port-server.ts),
 * wait for every stream's snapshot, settle, GC again and read RSS and JS heap again.
 * Streams per GiB = 2³⁰ ÷ (RSS growth ÷ streams). Kernel memory is left out: a few hundred TCP
 * connections carry all the streams, so it is negligible per stream.
 */
import { fileURLToPath } from "node:url";
import { serverGc, serverHeapUsed } from "../lib/inspector.js";
import { rssBytes } from "../lib/proc-stats.js";
import { spawnWorker, type Worker } from "../lib/workers.js";
import type { GeneratorCommand } from "./generator.js";
import { pin, startBenchServer, type BenchServer, type PinPlan } from "./server.js";

export interface StreamsOptions {
  clients: ("grpc" | "connect-h2")[];
  streams: number;
  perConnection: number;
  /** Streams per generator process. */
  perGenerator: number;
  roomSize: number;
  pin: PinPlan | null;
}

export interface StreamsRow {
  client: "grpc" | "connect-h2";
  requested: number;
  ready: number;
  /** Streams still open when RSS was read: the divisor of the per-stream figures. */
  open: number;
  failed: number;
  firstFailure: string | null;
  connections: number;
  openSeconds: number;
  server: { rssBefore: number; rssAfter: number; heapBefore: number; heapAfter: number };
  rssPerStream: number;
  heapPerStream: number;
  streamsPerGiB: number;
  /** RSS of all generator processes together after opening (baseline included). */
  generatorRss: number;
}

const GENERATOR = fileURLToPath(new URL("./generator.ts", import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function streamsPhase(o: StreamsOptions, log: (s: string) => void): Promise<StreamsRow[]> {
  const rows: StreamsRow[] = [];
  for (const client of o.clients) {
    let server: BenchServer | undefined;
    const gens: Worker<GeneratorCommand>[] = [];
    try {
      // A generator busy opening thousands of streams can ack a PING late: with the default 10 s
      // timeout the server would drop its connections (and the streams being measured).
      server = await startBenchServer(
        { PRESENCE_MAX_WATCHERS: String(Math.max(50_000, o.streams + 1_000)), PRESENCE_H2_PING_TIMEOUT_MS: "600000" },
        o.pin?.server ?? null,
      );
      const nGen = Math.ceil(o.streams / o.perGenerator);
      for (let i = 0; i < nGen; i++) {
        const g = await spawnWorker<GeneratorCommand>(GENERATOR, []);
        if (o.pin) pin(g.pid, o.pin.generators);
        gens.push(g);
      }
      await sleep(1_000);
      await serverGc(server.insp!);
      const rssBefore = rssBytes(server.node.pid);
      const heapBefore = await serverHeapUsed(server.insp!);
      const t0 = performance.now();
      let connections = 0;
      const results = await Promise.all(
        gens.map((g, i) => {
          const count = Math.min(o.perGenerator, o.streams - i * o.perGenerator);
          const conns = Math.ceil(count / o.perConnection);
          connections += conns;
          return g.call<{ ready: number; failed: number; firstFailure: string | null; rssBytes: number }>({
            type: "watch",
            transport: client,
            baseUrl: server!.node.rpcUrl,
            count,
            connections: conns,
            roomSize: o.roomSize,
            tag: `w${i}`,
          });
        }),
      );
      const openSeconds = (performance.now() - t0) / 1000;
      const ready = results.reduce((s, r) => s + r.ready, 0);
      const failed = results.reduce((s, r) => s + r.failed, 0);
      log(`  ${client}: ${ready.toLocaleString("en-US")} streams ready, ${failed} failed, over ${connections} connections in ${openSeconds.toFixed(1)} s; settling 2 s …`);
      await sleep(2_000);
      await serverGc(server.insp!);
      await sleep(200);
      const rssAfter = rssBytes(server.node.pid);
      const heapAfter = await serverHeapUsed(server.insp!);
      // Per stream still open now, not per stream that was once ready.
      const open = (await Promise.all(gens.map((g) => g.call<{ open: number }>({ type: "streams" })))).reduce((s, r) => s + r.open, 0);
      const n = Math.max(1, open);
      const rssPerStream = (rssAfter - rssBefore) / n;
      rows.push({
        client,
        requested: o.streams,
        ready,
        open,
        failed,
        firstFailure: results.find((r) => r.firstFailure)?.firstFailure ?? null,
        connections,
        openSeconds,
        server: { rssBefore, rssAfter, heapBefore, heapAfter },
        rssPerStream,
        heapPerStream: (heapAfter - heapBefore) / n,
        streamsPerGiB: 2 ** 30 / rssPerStream,
        generatorRss: results.reduce((s, r) => s + r.rssBytes, 0),
      });
    } finally {
      await Promise.all(gens.map((g) => g.close()));
      await server?.stop();
    }
  }
  return rows;
}
