/**
 * Load generator process of the gRPC benchmark (forked by grpc-bench.ts through bench/lib/workers.ts).
 *
 * Unary: `setup` makes one client with one bearer token (one HTTP/2 connection for grpc-js and
 * Connect over h2, a keep-alive agent for Connect over HTTP/1.1) and, for Heartbeat, joins one
 * session per caller; Join callers each join a new room per call (a one-member view);
 * `start` runs `concurrency` closed-loop callers (each sends its next call when the previous one
 * answers) until `stop`. Latency goes to a log histogram shipped with the counters.
 *
 * Streams: `watch` opens WatchPresence streams over `connections` separate HTTP/2 connections and
 * resolves when each has received its first message (the snapshot); they stay open until `close`.
 *
 * The clients are the real ones of test/support/clients.ts (grpc-js generic client with
 * protobuf-es serializers, connect-node): this measures what users run. With `raw` (the
 * benchmark's --raw-clients), unary calls go through raw-h2-client.ts instead, which costs a
 * fraction of their CPU, for when the client libraries saturate before the server.
 */
import { Histogram } from "../lib/histogram.js";
import { serveWorker } from "../lib/workers.js";
import { connectClient, grpcJsClient, rpcErrorOf, type PresenceClient } from "../../test/support/clients.js";
import { Detail } from "../../gen/presence/v1/types_pb.js";
import { rawH2Client } from "./raw-h2-client.js";

export type Transport = "grpc" | "connect-h2" | "connect-h1";
export type UnaryRpc = "join" | "heartbeat";

export type GeneratorCommand =
  | { type: "setup"; transport: Transport; raw: boolean; baseUrl: string; token: string | undefined; concurrency: number; rpc: UnaryRpc; tag: string }
  | { type: "start" }
  | { type: "counters"; resetLatency?: boolean }
  | { type: "stop" }
  | { type: "watch"; transport: "grpc" | "connect-h2"; baseUrl: string; count: number; connections: number; roomSize: number; tag: string }
  | { type: "streams" }
  | { type: "close" };

export interface GeneratorCounters {
  calls: number;
  errors: number;
  firstError: string | null;
  latency: [number, number][];
}

function makeClient(transport: Transport, baseUrl: string, token: string | undefined, ownConnection = false): PresenceClient {
  if (transport === "grpc") return grpcJsClient(baseUrl, token, ownConnection ? { channelOptions: { "grpc.use_local_subchannel_pool": 1 } } : {});
  return connectClient(baseUrl, token, { httpVersion: transport === "connect-h2" ? "2" : "1.1" });
}

function runGenerator(): void {
  let clients: Pick<PresenceClient, "close">[] = [];
  let callers: (() => Promise<unknown>)[] = [];
  let running = false;
  let loops: Promise<void>[] = [];
  const hist = new Histogram();
  let calls = 0;
  let errors = 0;
  let firstError: string | null = null;
  const streams: AbortController[] = [];
  /** Streams that got their snapshot and have not ended since. */
  let openStreams = 0;

  const closeClients = () => {
    for (const c of clients) c.close();
    clients = [];
  };

  async function setup(c: Extract<GeneratorCommand, { type: "setup" }>) {
    closeClients();
    // One client per process: grpc-js and Connect over h2 multiplex every caller on its one
    // connection (as a real service would), Connect over HTTP/1.1 opens one socket per call in flight.
    // --raw-clients: bare node:http2 calls instead of grpc-js / connect-node (not for HTTP/1.1).
    const client: Pick<PresenceClient, "join" | "heartbeat" | "close"> =
      c.raw && c.transport !== "connect-h1" ? rawH2Client(c.baseUrl, c.token, c.transport === "grpc" ? "grpc" : "connect") : makeClient(c.transport, c.baseUrl, c.token);
    clients = [client];
    let n = 0;
    if (c.rpc === "join") {
      callers = Array.from({ length: c.concurrency }, (_, i) => () => client.join({ room: `${c.tag}-${i}-${n++}` }));
    } else {
      const sessions = await Promise.all(Array.from({ length: c.concurrency }, (_, i) => client.join({ room: `${c.tag}-hb-${i}` })));
      callers = sessions.map((s) => {
        const sessionId = s.session!.sessionId;
        return () => client.heartbeat({ sessionId });
      });
    }
    return { callers: callers.length };
  }

  async function loop(call: () => Promise<unknown>) {
    while (running) {
      const t0 = performance.now();
      try {
        await call();
        hist.add(performance.now() - t0);
        calls++;
      } catch (e) {
        errors++;
        if (firstError === null) {
          const r = rpcErrorOf(e);
          firstError = `${r.code} ${r.message}`;
        }
      }
    }
  }

  const counters = (): GeneratorCounters => ({ calls, errors, firstError, latency: hist.counts() });

  async function watch(c: Extract<GeneratorCommand, { type: "watch" }>) {
    const conns = Array.from({ length: c.connections }, () => makeClient(c.transport, c.baseUrl, undefined, true));
    clients.push(...conns);
    let ready = 0;
    let failed = 0;
    let firstFailure: string | null = null;
    const opened: Promise<void>[] = [];
    for (let i = 0; i < c.count; i++) {
      const client = conns[i % conns.length]!;
      const ac = new AbortController();
      streams.push(ac);
      opened.push(
        new Promise<void>((resolve) => {
          let first = true;
          void (async () => {
            try {
              for await (const _m of client.watchPresence({ room: `${c.tag}-${Math.floor(i / c.roomSize)}`, detail: Detail.FULL }, { signal: ac.signal })) {
                if (first) {
                  first = false;
                  ready++;
                  openStreams++;
                  resolve();
                }
              }
            } catch (e) {
              if (!ac.signal.aborted) {
                failed++;
                firstFailure ??= rpcErrorOf(e).message;
              }
            } finally {
              if (!first) openStreams--;
              resolve();
            }
          })();
        }),
      );
      // Open in bursts so that connection set-up and the server's accept queue keep up.
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    // The server opens a few hundred to a few thousand streams per second (each gets a snapshot).
    await Promise.race([Promise.all(opened), new Promise((r) => setTimeout(r, 60_000 + 20 * c.count))]);
    return { ready, failed, firstFailure, rssBytes: process.memoryUsage().rss };
  }

  serveWorker<GeneratorCommand>(async (c) => {
    switch (c.type) {
      case "setup":
        return setup(c);
      case "start":
        calls = errors = 0;
        firstError = null;
        hist.reset();
        running = true;
        loops = callers.map((call) => loop(call));
        return true;
      case "counters": {
        const out = counters();
        if (c.resetLatency) hist.reset();
        return out;
      }
      case "stop":
        running = false;
        await Promise.all(loops);
        return counters();
      case "watch":
        return watch(c);
      case "streams":
        return { open: openStreams };
      case "close":
        running = false;
        for (const s of streams) s.abort();
        closeClients();
        return true;
    }
  });
}

runGenerator();
