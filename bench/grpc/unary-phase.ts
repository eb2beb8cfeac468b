/**
 * Unary phase of the gRPC benchmark: Join and Heartbeat calls per second and their latency, for
 * each transport (grpc-js; Connect over h2; Connect over HTTP/1.1), against one server process
 * per store (memory, Redis). The same total concurrency is used for every transport, split over
 * the generator processes. Each window: `warmupS` of load, then `durationS` measured; CPU of the
 * server (process and main thread), of the generators and of the whole machine come from /proc.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { isoStamp } from "../lib/format.js";
import { Histogram } from "../lib/histogram.js";
import { startProfile, stopProfile, topFunctions } from "../lib/inspector.js";
import { cpuSeconds, machineBusyS } from "../lib/proc-stats.js";
import { spawnWorker, type Worker } from "../lib/workers.js";
import { signTestToken, TEST_SECRET } from "../../test/support/tokens.js";
import { startRedis, type RedisInstance } from "../../test/support/redis-harness.js";
import type { GeneratorCommand, GeneratorCounters, Transport, UnaryRpc } from "./generator.js";
import { busyOnly, profileAreas } from "./profile-areas.js";
import type { BareKind } from "./bare-server.js";
import { pin, startBareServer, startBenchServer, type BenchServer, type PinPlan } from "./server.js";

export type Store = "memory" | "redis";

/** Who answers: our server, or a bare framework (bench/grpc/bare-server.ts) as the reference. */
export type ServerKind = "ours" | BareKind;

/** The transports each reference serves (bare grpc-js speaks gRPC only; connect-node on h2 serves gRPC and Connect). */
export const REFERENCE_TRANSPORTS: Record<BareKind, Transport[]> = { "grpc-js": ["grpc"], "connect-node": ["grpc", "connect-h2"] };

export interface UnaryOptions {
  stores: Store[];
  transports: Transport[];
  rpcs: UnaryRpc[];
  /** Calls in flight in total (split over the generators). */
  concurrency: number;
  generators: number;
  warmupS: number;
  durationS: number;
  /** Bare node:http2 generator clients (raw-h2-client.ts) instead of grpc-js / connect-node. */
  rawClients: boolean;
  /** Anonymous callers instead of a bearer token per generator. */
  anonymous: boolean;
  pin: PinPlan | null;
  /** Seconds of CPU profile per RPC and HTTP/2 transport (memory store), after the measured windows; 0 = none. */
  profileS: number;
  /** Reference servers measured in the same run, after ours (their own windows, same generators and load). */
  references: BareKind[];
}

export interface UnaryRow {
  server: ServerKind;
  /** Our server's store; "none" for a reference server. */
  store: Store | "none";
  transport: Transport;
  rpc: UnaryRpc;
  seconds: number;
  callsPerSecond: number;
  errors: number;
  firstError: string | null;
  latencyMs: { p50: number; p99: number; p999: number };
  /** % of one core. */
  cpuPercent: { server: number; serverMainThread: number; generators: number; redis: number | null; machine: number };
  /** Generators' CPU ÷ the machine's busy CPU. */
  generatorShare: number;
  serverCpuUsPerCall: number;
  generatorCpuUsPerCall: number;
  bottleneck: string;
}

export interface UnaryProfile {
  server: ServerKind;
  transport: Transport;
  rpc: UnaryRpc;
  /** The .cpuprofile (bench/results/tmp/, git-ignored): open it in Chrome DevTools or VS Code. */
  file: string;
  /** Busy (non-idle) self time by area, %. */
  areas: { area: string; busyPercent: number }[];
  /** Functions with the most self time, % of busy samples. */
  top: { fn: string; busyPercent: number }[];
}

const GENERATOR = fileURLToPath(new URL("./generator.ts", import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function unaryPhase(o: UnaryOptions, log: (s: string) => void): Promise<{ rows: UnaryRow[]; profiles: UnaryProfile[] }> {
  const rows: UnaryRow[] = [];
  const profiles: UnaryProfile[] = [];
  const targets: { server: ServerKind; store: Store | "none"; transports: Transport[] }[] = [
    ...o.stores.map((store) => ({ server: "ours" as const, store, transports: o.transports })),
    ...o.references.map((kind) => ({ server: kind, store: "none" as const, transports: REFERENCE_TRANSPORTS[kind].filter((t) => o.transports.includes(t)) })),
  ];
  for (const target of targets) {
    let redis: RedisInstance | undefined;
    let server: BenchServer | undefined;
    const gens: Worker<GeneratorCommand>[] = [];
    const store = target.store;
    const profile = o.profileS > 0 && store !== "redis";
    try {
      if (target.server === "ours") {
        const env: Record<string, string> = {};
        if (store === "redis") {
          redis = await startRedis();
          env.PRESENCE_REDIS_URL = redis.url;
        }
        // The inspector only when profiling: an attached session is not free (see bench/README.md).
        server = await startBenchServer(env, o.pin?.server ?? null, profile);
      } else {
        server = await startBareServer(target.server, o.pin?.server ?? null, profile);
      }
      for (let i = 0; i < o.generators; i++) {
        const g = await spawnWorker<GeneratorCommand>(GENERATOR, []);
        if (o.pin) pin(g.pid, o.pin.generators);
        gens.push(g);
      }
      const tokens = await Promise.all(gens.map((_, i) => (o.anonymous ? undefined : signTestToken(TEST_SECRET, { sub: `bench-${i}`, name: `Bench ${i}` }, 6 * 3600))));
      const perGen = Math.ceil(o.concurrency / o.generators);
      const who = target.server === "ours" ? store : `bare ${target.server}`;
      for (const transport of target.transports) {
        for (const rpc of o.rpcs) {
          const row = await window(server, gens, redis, { server: target.server, store, raw: o.rawClients, transport, rpc, tokens, perGen }, o);
          log(
            `  ${who.padEnd(17)} ${transport.padEnd(10)} ${rpc.padEnd(9)} ${Math.round(row.callsPerSecond).toLocaleString("en-US").padStart(7)} calls/s  p50/p99 ${row.latencyMs.p50.toFixed(1)}/${row.latencyMs.p99.toFixed(1)} ms  server ${row.cpuPercent.server.toFixed(0)}% (main ${row.cpuPercent.serverMainThread.toFixed(0)}%) ${row.serverCpuUsPerCall.toFixed(0)} µs/call  generators ${row.cpuPercent.generators.toFixed(0)}%${row.errors ? `  ERRORS ${row.errors}: ${row.firstError}` : ""}`,
          );
          rows.push(row);
        }
      }
      if (profile && server.insp) {
        for (const transport of target.transports.filter((t) => t !== "connect-h1")) {
          for (const rpc of o.rpcs) {
            await setupAll(gens, { server: target.server, raw: o.rawClients, transport, rpc, tokens, perGen }, server, store);
            await Promise.all(gens.map((g) => g.call({ type: "start" })));
            await sleep(500);
            await startProfile(server.insp);
            await sleep(o.profileS * 1000);
            const p = await stopProfile(server.insp);
            await Promise.all(gens.map((g) => g.call({ type: "stop" })));
            const file = fileURLToPath(new URL(`../results/tmp/grpc-bench-${target.server}-${transport}-${rpc}-${isoStamp(new Date())}.cpuprofile`, import.meta.url));
            mkdirSync(dirname(file), { recursive: true });
            writeFileSync(file, JSON.stringify(p));
            // Reported relative to the repository (results files and the README are committed).
            profiles.push({ server: target.server, transport, rpc, file: relative(fileURLToPath(new URL("../..", import.meta.url)), file), areas: profileAreas(p), top: busyOnly(topFunctions(p, 16)) });
          }
        }
      }
    } finally {
      await Promise.all(gens.map((g) => g.close()));
      await server?.stop();
      await redis?.stop();
    }
  }
  return { rows, profiles };
}

interface WindowSpec {
  server: ServerKind;
  store: Store | "none";
  raw: boolean;
  transport: Transport;
  rpc: UnaryRpc;
  tokens: (string | undefined)[];
  perGen: number;
}

function setupAll(gens: Worker<GeneratorCommand>[], w: Omit<WindowSpec, "store">, server: BenchServer, store: Store | "none") {
  return Promise.all(
    gens.map((g, i) =>
      g.call({ type: "setup", transport: w.transport, raw: w.raw, baseUrl: server.node.rpcUrl, token: w.tokens[i], concurrency: w.perGen, rpc: w.rpc, tag: `${w.server}-${store}-${w.transport}-${w.rpc}-g${i}-${Date.now()}` }),
    ),
  );
}

async function window(server: BenchServer, gens: Worker<GeneratorCommand>[], redis: RedisInstance | undefined, w: WindowSpec, o: UnaryOptions): Promise<UnaryRow> {
  await setupAll(gens, w, server, w.store);
  await Promise.all(gens.map((g) => g.call({ type: "start" })));
  await sleep(o.warmupS * 1000);
  const snap = () => ({
    server: cpuSeconds(server.node.pid),
    main: cpuSeconds(server.node.pid, server.node.pid),
    gens: gens.reduce((s, g) => s + cpuSeconds(g.pid), 0),
    redis: redis ? cpuSeconds(redis.pid) : 0,
    machine: machineBusyS().busy,
    t: performance.now(),
  });
  const c0 = await Promise.all(gens.map((g) => g.call<GeneratorCounters>({ type: "counters", resetLatency: true })));
  const s0 = snap();
  await sleep(o.durationS * 1000);
  const s1 = snap();
  const c1 = await Promise.all(gens.map((g) => g.call<GeneratorCounters>({ type: "stop" })));
  const seconds = (s1.t - s0.t) / 1000;
  // Calls answered within the window; the latency histograms were reset at its start.
  const calls = c1.reduce((s, c) => s + c.calls, 0) - c0.reduce((s, c) => s + c.calls, 0);
  const errors = c1.reduce((s, c) => s + c.errors, 0);
  const hist = new Histogram();
  for (const c of c1) hist.merge(c.latency);
  const pct = (a: number, b: number) => (100 * (b - a)) / seconds;
  const cpuPercent = {
    server: pct(s0.server, s1.server),
    serverMainThread: pct(s0.main, s1.main),
    generators: pct(s0.gens, s1.gens),
    redis: redis ? pct(s0.redis, s1.redis) : null,
    machine: pct(s0.machine, s1.machine),
  };
  const genCores = o.pin ? o.pin.generatorCpus : Infinity;
  const bottleneck =
    cpuPercent.serverMainThread >= 90
      ? "server event loop"
      : cpuPercent.generators >= 90 * Math.min(genCores, gens.length)
        ? "generators"
        : cpuPercent.machine >= 185
          ? "machine (both cores busy)"
          : (cpuPercent.redis ?? 0) >= 90
            ? "redis"
            : "none saturated (closed loop: concurrency × round trip)";
  return {
    server: w.server,
    store: w.store,
    transport: w.transport,
    rpc: w.rpc,
    seconds,
    callsPerSecond: calls / seconds,
    errors,
    firstError: c1.find((c) => c.firstError)?.firstError ?? null,
    latencyMs: { p50: hist.quantile(0.5), p99: hist.quantile(0.99), p999: hist.quantile(0.999) },
    cpuPercent,
    generatorShare: (s1.gens - s0.gens) / Math.max(1e-9, s1.machine - s0.machine),
    serverCpuUsPerCall: ((s1.server - s0.server) * 1e6) / Math.max(1, calls),
    generatorCpuUsPerCall: ((s1.gens - s0.gens) * 1e6) / Math.max(1, calls),
    bottleneck,
  };
}
