/**
 * Scenario 6: our gRPC side (not a test). Unary Join and Heartbeat throughput and latency over gRPC
 * (`@grpc/grpc-js`) and the Connect protocol (connect-node, h2 and HTTP/1.1), with the memory and
 * the Redis store; then open WatchPresence streams per GiB of server memory; and a CPU profile of
 * the server during the unary calls.
 *
 *   npm run bench:grpc                 CI-sized (~80 s)
 *   npm run bench:grpc -- --full       10 s windows, 50,000 streams (several minutes: opening
 *                                      streams slows as they accumulate, see bench/README.md)
 *
 * Options (override the preset): --concurrency N (calls in flight in total, 64)  --generators N
 * (generator processes, 2)  --duration S  --warmup S  --stores memory,redis  --rpcs join,heartbeat  --transports
 * grpc,connect-h2,connect-h1  --stream-clients grpc,connect-h2  --redis-transports …  --anonymous (no bearer token)  --raw-clients
 * (unary load from bare node:http2 calls, raw-h2-client.ts, instead of grpc-js / connect-node)  --streams N
 * --per-connection N (streams per HTTP/2 connection, 1,000)  --per-generator N (streams per
 * generator process, 5,000)  --room-size N (watchers per room, 10)  --pin / --no-pin (server on
 * CPU 0, generators on the others, with taskset; on by default)  --profile S (seconds of server
 * CPU profile per RPC, 2; 0 = none)  --skip-unary  --skip-streams  --out FILE
 *
 * `runGrpcBench({ full })` is what bench/run.ts imports; run alone, this file prints a table and
 * writes bench/results/grpc-<date>.json. See bench/README.md for what each row means.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import { fmt, isoStamp, table } from "../lib/format.js";
import type { Transport, UnaryRpc } from "./generator.js";
import { pinPlan } from "./server.js";
import { streamsPhase, type StreamsOptions, type StreamsRow } from "./streams-phase.js";
import { unaryPhase, type ServerKind, type Store, type UnaryOptions, type UnaryProfile, type UnaryRow } from "./unary-phase.js";

/** One of our figures against a reference measured in the same run (bench/grpc/bare-server.ts). */
export interface GrpcRatioRow {
  metric: string;
  unit: string;
  ours: number;
  reference: number;
  /** Which reference: "bare grpc-js", "bare connect-node", or a goal ("goal"). */
  referenceName: string;
  /** ours ÷ reference. */
  ratio: number;
  /** The issue's goal for the ratio (≤), when there is one. */
  goal: number | null;
}

export interface GrpcBenchResult {
  rows: Array<{ metric: string; unit: string; grpc: number | null; connect: number | null }>;
  /** Server CPU per call against the bare frameworks, and stream memory against its goal. */
  ratios: GrpcRatioRow[];
  notes: string[];
  generatorCpuShare: number | null;
}

interface Options {
  full: boolean;
  unary: UnaryOptions & { redisTransports: Transport[] };
  streams: StreamsOptions;
  skipUnary: boolean;
  skipStreams: boolean;
  out?: string;
}

const list = <T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T[] => {
  const items = (v ?? "").split(",").filter(Boolean);
  for (const x of items) if (!allowed.includes(x as T)) throw new Error(`${flag}: ${x} is not one of ${allowed.join(", ")}`);
  return items as T[];
};

export function parseGrpcArgs(argv: string[], full = argv.includes("--full")): Options {
  const transports: Transport[] = ["grpc", "connect-h2", "connect-h1"];
  const o: Options = {
    full,
    unary: {
      stores: ["memory", "redis"],
      transports,
      redisTransports: full ? transports : ["grpc", "connect-h2"],
      rpcs: ["join", "heartbeat"],
      concurrency: 64,
      generators: 2,
      warmupS: full ? 2 : 1,
      durationS: full ? 10 : 3,
      rawClients: false,
      anonymous: false,
      pin: pinPlan(),
      profileS: 2,
      references: ["grpc-js", "connect-node"],
    },
    streams: { clients: ["grpc", "connect-h2"], streams: full ? 50_000 : 5_000, perConnection: 1_000, perGenerator: 5_000, roomSize: 10, pin: null },
    skipUnary: false,
    skipStreams: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (min = 1) => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < min) throw new Error(`${a} needs a number ≥ ${min}`);
      return v;
    };
    if (a === "--full") continue;
    else if (a === "--concurrency") o.unary.concurrency = Math.floor(num());
    else if (a === "--generators") o.unary.generators = Math.floor(num());
    else if (a === "--duration") o.unary.durationS = num();
    else if (a === "--warmup") o.unary.warmupS = num(0);
    else if (a === "--stores") o.unary.stores = list(argv[++i], ["memory", "redis"] as const, a);
    else if (a === "--transports") o.unary.transports = list(argv[++i], transports, a);
    else if (a === "--redis-transports") o.unary.redisTransports = list(argv[++i], transports, a);
    else if (a === "--rpcs") o.unary.rpcs = list(argv[++i], ["join", "heartbeat"] as const, a);
    else if (a === "--anonymous") o.unary.anonymous = true;
    else if (a === "--raw-clients") o.unary.rawClients = true;
    else if (a === "--streams") o.streams.streams = Math.floor(num());
    else if (a === "--stream-clients") o.streams.clients = list(argv[++i], ["grpc", "connect-h2"] as const, a);
    else if (a === "--per-connection") o.streams.perConnection = Math.min(10_000, Math.floor(num()));
    else if (a === "--per-generator") o.streams.perGenerator = Math.floor(num());
    else if (a === "--room-size") o.streams.roomSize = Math.floor(num());
    else if (a === "--pin") o.unary.pin = pinPlan();
    else if (a === "--no-pin") o.unary.pin = null;
    else if (a === "--profile") o.unary.profileS = num(0);
    else if (a === "--skip-unary") o.skipUnary = true;
    else if (a === "--no-references") o.unary.references = [];
    else if (a === "--skip-streams") o.skipStreams = true;
    else if (a === "--out") o.out = argv[++i];
    else throw new Error(`unknown option ${a} (see the header of bench/grpc/grpc-bench.ts)`);
  }
  o.streams.pin = o.unary.pin;
  return o;
}

interface RawResult {
  unary: UnaryRow[];
  profiles: UnaryProfile[];
  streams: StreamsRow[];
}

async function runPhases(o: Options, log: (s: string) => void): Promise<RawResult> {
  let unary: UnaryRow[] = [];
  let profiles: UnaryProfile[] = [];
  let streams: StreamsRow[] = [];
  if (!o.skipUnary) {
    log(`(6a) unary Join/Heartbeat: ${o.unary.concurrency} calls in flight over ${o.unary.generators} generator processes, ${o.unary.warmupS} s + ${o.unary.durationS} s per window${o.unary.pin ? `, server pinned to CPU ${o.unary.pin.server}, generators to ${o.unary.pin.generators}` : ", not pinned"}`);
    for (const store of o.unary.stores) {
      const r = await unaryPhase({ ...o.unary, stores: [store], references: [], transports: store === "redis" ? o.unary.redisTransports : o.unary.transports }, log);
      unary = unary.concat(r.rows);
      profiles = profiles.concat(r.profiles);
    }
    if (o.unary.references.length > 0) {
      const r = await unaryPhase({ ...o.unary, stores: [] }, log);
      unary = unary.concat(r.rows);
      profiles = profiles.concat(r.profiles);
    }
  }
  if (!o.skipStreams) {
    log(`(6b) WatchPresence streams: ${fmt(o.streams.streams)} per client kind, ${fmt(o.streams.perConnection)} per HTTP/2 connection`);
    streams = await streamsPhase(o.streams, log);
  }
  return { unary, profiles, streams };
}

const RPC_NAME: Record<UnaryRpc, string> = { join: "Join", heartbeat: "Heartbeat" };

/** Issue 16 item 6: at most 15 KB of server memory per idle WatchPresence stream (≥ 65,000 per GiB). */
const STREAM_GOAL_BYTES = 15_000;

function summarise(o: Options, r: RawResult): GrpcBenchResult {
  const rows: GrpcBenchResult["rows"] = [];
  const find = (store: Store, t: Transport, rpc: UnaryRpc) => r.unary.find((x) => x.server === "ours" && x.store === store && x.transport === t && x.rpc === rpc);
  for (const store of o.unary.stores) {
    for (const rpc of o.unary.rpcs) {
      const g = find(store, "grpc", rpc);
      const c = find(store, "connect-h2", rpc);
      const h1 = find(store, "connect-h1", rpc);
      if (!g && !c && !h1) continue;
      const add = (metric: string, unit: string, f: (x: UnaryRow) => number) => rows.push({ metric: `${store}: ${RPC_NAME[rpc]} ${metric}`, unit, grpc: g ? f(g) : null, connect: c ? f(c) : null });
      add("throughput", "calls/s", (x) => x.callsPerSecond);
      add("latency p50", "ms", (x) => x.latencyMs.p50);
      add("latency p99", "ms", (x) => x.latencyMs.p99);
      add("latency p99.9", "ms", (x) => x.latencyMs.p999);
      add("server CPU per call", "µs", (x) => x.serverCpuUsPerCall);
      add("generator CPU per call", "µs", (x) => x.generatorCpuUsPerCall);
      if (h1) {
        rows.push({ metric: `${store}: ${RPC_NAME[rpc]} throughput, Connect over HTTP/1.1`, unit: "calls/s", grpc: null, connect: h1.callsPerSecond });
        rows.push({ metric: `${store}: ${RPC_NAME[rpc]} server CPU per call, Connect over HTTP/1.1`, unit: "µs", grpc: null, connect: h1.serverCpuUsPerCall });
      }
    }
  }
  if (r.streams.length > 0) {
    const g = r.streams.find((x) => x.client === "grpc");
    const c = r.streams.find((x) => x.client === "connect-h2");
    const add = (metric: string, unit: string, f: (x: StreamsRow) => number) => rows.push({ metric, unit, grpc: g ? f(g) : null, connect: c ? f(c) : null });
    add("WatchPresence streams open when measured", "streams", (x) => x.open);
    add("WatchPresence streams per GiB (server RSS)", "streams/GiB", (x) => x.streamsPerGiB);
    add("server RSS per stream", "bytes", (x) => x.rssPerStream);
    add("  of which JS heap", "bytes", (x) => x.heapPerStream);
  }
  const ratios: GrpcRatioRow[] = [];
  const ref = (server: ServerKind, t: Transport, rpc: UnaryRpc) => r.unary.find((x) => x.server === server && x.transport === t && x.rpc === rpc);
  for (const store of o.unary.stores) {
    for (const rpc of o.unary.rpcs) {
      const pairs: [Transport, ServerKind, number | null][] = [
        ["grpc", "grpc-js", 1.5],
        ["grpc", "connect-node", null],
        ["connect-h2", "connect-node", null],
      ];
      for (const [t, kind, goal] of pairs) {
        const ours = find(store, t, rpc);
        const bare = ref(kind, t, rpc);
        if (!ours || !bare) continue;
        const label = t === "grpc" ? "gRPC" : "Connect (h2)";
        ratios.push({ metric: `${store}: ${RPC_NAME[rpc]} over ${label}, server CPU per call`, unit: "µs", ours: ours.serverCpuUsPerCall, reference: bare.serverCpuUsPerCall, referenceName: `bare ${kind}`, ratio: ours.serverCpuUsPerCall / bare.serverCpuUsPerCall, goal });
      }
    }
  }
  for (const s of r.streams) {
    ratios.push({ metric: `idle WatchPresence stream (${s.client === "grpc" ? "gRPC" : "Connect h2"}), server RSS`, unit: "bytes", ours: s.rssPerStream, reference: STREAM_GOAL_BYTES, referenceName: "goal (15 KB)", ratio: s.rssPerStream / STREAM_GOAL_BYTES, goal: 1 });
  }
  const notes: string[] = [];
  notes.push(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, Node ${process.version}; shared with other jobs: compare ratios (gRPC ÷ Connect), not absolute figures`);
  notes.push(
    o.unary.pin
      ? `pinned with taskset: server on CPU ${o.unary.pin.server}, generators on ${o.unary.pin.generators} (Redis not pinned)`
      : "not pinned (--no-pin): server and generators share every core",
  );
  notes.push(`unary: ${o.unary.concurrency} calls in flight in total over ${o.unary.generators} generator processes (one HTTP/2 connection each; HTTP/1.1: one socket per call in flight), clients: ${o.unary.rawClients ? "bare node:http2 (--raw-clients; HTTP/1.1 still connect-node)" : "grpc-js and connect-node"}, ${o.unary.anonymous ? "anonymous" : "one bearer token (HS256 JWT) per generator"}; Join joins a new room per call, Heartbeat keeps one session per caller alive`);
  for (const u of r.unary) {
    notes.push(
      `${u.server === "ours" ? u.store : `bare ${u.server}`} ${u.transport} ${u.rpc}: ${fmt(u.callsPerSecond)} calls/s, CPU % of a core: server ${fmt(u.cpuPercent.server)} (main thread ${fmt(u.cpuPercent.serverMainThread)}), generators ${fmt(u.cpuPercent.generators)}${u.cpuPercent.redis === null ? "" : `, redis ${fmt(u.cpuPercent.redis)}`}, machine ${fmt(u.cpuPercent.machine)}/${os.cpus().length * 100}; generator share ${fmt(100 * u.generatorShare)}%; limit: ${u.bottleneck}${u.errors ? `; ${u.errors} errors (first: ${u.firstError})` : ""}`,
    );
  }
  for (const p of r.profiles) {
    notes.push(`server CPU profile, ${p.server === "ours" ? "ours" : `bare ${p.server}`} ${p.transport} ${RPC_NAME[p.rpc]} (memory store; ${p.file}), busy time by area: ${p.areas.slice(0, 12).map((a) => `${a.area} ${fmt(a.busyPercent, 1)}%`).join(", ")}`);
    notes.push(`  top functions (self, % of busy): ${p.top.slice(0, 10).map((t) => `${fmt(t.busyPercent, 1)}% ${t.fn}`).join("; ")}`);
  }
  for (const s of r.streams) {
    notes.push(`streams ${s.client}: ${fmt(s.ready)} of ${fmt(s.requested)} ready, ${fmt(s.open)} still open when measured (${s.failed} failed${s.firstFailure ? `: ${s.firstFailure}` : ""}) over ${s.connections} connections in ${fmt(s.openSeconds, 1)} s; server RSS ${fmt(s.server.rssBefore / 2 ** 20, 1)} → ${fmt(s.server.rssAfter / 2 ** 20, 1)} MiB after GC; generators' RSS ${fmt(s.generatorRss / 2 ** 20)} MiB`);
  }
  const shares = r.unary.map((u) => u.generatorShare);
  return { rows, ratios, notes, generatorCpuShare: shares.length ? Math.max(...shares) : null };
}

/** Runs scenario 6 (CI-sized, or full with `full`) and returns its rows for bench/run.ts. */
export async function runGrpcBench(opts: { full: boolean; log?: (line: string) => void; argv?: string[] }): Promise<GrpcBenchResult> {
  const o = parseGrpcArgs(opts.argv ?? [], opts.full);
  return summarise(o, await runPhases(o, opts.log ?? (() => {})));
}

function formatCell(v: number | null, unit: string): string {
  if (v === null) return "";
  return fmt(v, unit === "ms" ? 2 : unit === "µs" ? 1 : 0);
}

/** The ratio table: ours against the references measured in the same run. */
export function grpcRatioTable(r: GrpcBenchResult): string {
  return table([
    ["figure", "unit", "ours", "reference", "", "ours ÷ reference", "goal"],
    ...r.ratios.map((x): [string, ...string[]] => [x.metric, x.unit, fmt(x.ours, 0), fmt(x.reference, 0), x.referenceName, fmt(x.ratio, 2), x.goal === null ? "" : `≤ ${x.goal} (${x.ratio <= x.goal ? "met" : "missed"})`]),
  ]);
}

export function grpcTable(r: GrpcBenchResult): string {
  return table([
    ["metric", "unit", "gRPC (grpc-js)", "Connect", "gRPC ÷ Connect"],
    ...r.rows.map((x): [string, ...string[]] => [x.metric, x.unit, formatCell(x.grpc, x.unit), formatCell(x.connect, x.unit), x.grpc !== null && x.connect ? fmt(x.grpc / x.connect, 2) : ""]),
  ]);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseGrpcArgs(argv);
  const started = new Date();
  const raw = await runPhases(o, (s) => console.log(s));
  const result = summarise(o, raw);
  console.log(`\n${grpcTable(result)}\n`);
  if (result.ratios.length > 0) console.log(`${grpcRatioTable(result)}\n`);
  for (const n of result.notes) console.log(`- ${n}`);
  const out = o.out ?? fileURLToPath(new URL(`../results/grpc-${isoStamp(started)}.json`, import.meta.url));
  mkdirSync(fileURLToPath(new URL("../results/", import.meta.url)), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ benchmark: "grpc", startedAt: started.toISOString(), machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? "?", node: process.version }, options: o, result, raw }, null, 2) + "\n",
  );
  console.log(`written ${out}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
