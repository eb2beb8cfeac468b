/**
 * The peer benchmark (issue 6), one command: `npm run bench` (CI size, a few minutes) or
 * `npm run bench -- --full` (the issue's sizes, as far as this machine allows). Measures us
 * (dist/main.js, WebSocket bridge, on the uWS engine where it loads and on the ws engine), Soketi 1.6.1 and our Socket.IO presence baseline in the same
 * invocation with the same generator (bench/lib/generator.ts: raw WebSocket clients, one thin
 * protocol adapter per server in bench/lib/peer-client.ts), then our gRPC side (bench/grpc).
 *
 * Scenarios (each against every server, in this order):
 *   1 idle       N clients joined to rooms of 10: server RSS + ½ kernel slab per connection, idle CPU
 *   2 storm      N clients (2,000; 5,000 with --full) join one room within 1 s: time until every view holds all N, server CPU s, messages per client
 *   3 churn      M members watch one room; 200 joins/leaves per s (1,000 with --full) + typing: deliveries/s, join latency p50/p99/p999
 *   4 cursors    100 clients in one room move cursors at 30 Hz: deliveries/s, latency
 *   5 reconnect  N clients in rooms of 10, the server restarts (SIGTERM, same port, Redis-backed for all):
 *                time until all views equal the truth again, spurious join/leave events per client
 *
 * Options: --full  --only idle,storm,...  --servers presence,presence-ws,soketi,socketio (presence = our
 *   uWS engine, left out by default where it does not load; presence-ws = our ws engine)  --pin | --no-pin (default)  --no-grpc
 *   --scale F (multiply the client counts, for development runs)
 *   --profile (CPU profile of our server in storm, churn, cursors and, after the restart, reconnect: top functions in the JSON;
 *     in idle, a sampling heap profile of every server: live bytes per connection by allocating site, in the JSON)
 *   --out FILE
 *
 * Writes bench/results/peers-<date>.json and, for a complete run without --out,
 * bench/results/charts/<scenario>.svg, and prints the table that bench/readme-table.ts puts into
 * bench/README.md (it re-renders the charts from the results file it is given).
 */
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import { startRedis, type RedisInstance } from "../test/support/redis-harness.js";
import { startBenchServer, pin, type BenchServer } from "./lib/bench-servers.js";
import { fmt, isoStamp } from "./lib/format.js";
import type { GenCommand, GenCounters } from "./lib/generator.js";
import { Histogram } from "./lib/histogram.js";
import { serverGc, serverHeapUsed, startProfile, stopProfile, topFunctions } from "./lib/inspector.js";
import { startHeapSampling, stopHeapSampling, summarizeHeap } from "./lib/heap-sampling.js";
import { now, protocolOf, type ServerKind } from "./lib/peer-client.js";
import { uwsAvailable } from "../src/transport/ws/select-engine.js";
import { cpuSeconds, kernelMem, machineBusyS, rssBytes } from "./lib/proc-stats.js";
import { renderCharts, renderTables, SCENARIOS, type BenchResults, type ScenarioName, type ServerFigures } from "./lib/peer-report.js";
import { spawnWorker, type Worker } from "./lib/workers.js";

type Gen = Worker<GenCommand>;
const GENERATOR = fileURLToPath(new URL("./lib/generator.ts", import.meta.url));
const PER_GENERATOR = 5_000;
const log = (s: string) => console.log(s);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Options {
  full: boolean;
  only: ScenarioName[];
  servers: ServerKind[];
  pin: boolean;
  grpc: boolean;
  profile: boolean;
  /** Multiplies the client counts (development runs at tiny sizes). */
  scale: number;
  out?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { full: false, only: [...SCENARIOS], servers: [...(uwsAvailable() ? (["presence"] as const) : []), "presence-ws", "soketi", "socketio"], pin: false, grpc: true, profile: false, scale: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--full") o.full = true;
    else if (a === "--only") o.only = argv[++i]!.split(",") as ScenarioName[];
    else if (a === "--servers") o.servers = argv[++i]!.split(",") as ServerKind[];
    else if (a === "--no-pin") o.pin = false;
    else if (a === "--pin") o.pin = true;
    else if (a === "--no-grpc") o.grpc = false;
    else if (a === "--profile") o.profile = true;
    else if (a === "--scale") o.scale = Number(argv[++i]);
    else if (a === "--out") o.out = argv[++i];
    else throw new Error(`unknown option ${a} (see the header of bench/run.ts)`);
  }
  return o;
}

const sizes = (full: boolean, scale: number) => ({
  idle: Math.ceil((full ? 10_000 : 2_000) * scale),
  // Issue 16 item 4: 2,000 clients into one room, every view complete within 1 s of the last join.
  storm: Math.ceil((full ? 5_000 : 2_000) * scale),
  churnMembers: Math.ceil((full ? 1_000 : 300) * scale),
  // Issue 16 item 6: at 1,000 members, ≥ 500 joins + 500 leaves per second (join latency p99 ≤ 25 ms).
  churnOpsPerS: full ? 1_000 : 200,
  churners: full ? 100 : 40,
  typers: 10,
  typingHz: 2,
  cursorClients: 100,
  cursorHz: 30,
  reconnect: Math.ceil((full ? 10_000 : 2_000) * scale),
  measureS: full ? 15 : 5,
  warmupS: 2,
});
type Sizes = ReturnType<typeof sizes>;

// ---- plumbing ----

const SOURCE_NET = `127.${1 + Math.floor(Math.random() * 254)}.${Math.floor(Math.random() * 256)}`;
let nextSource = 2;
const sourceAddress = () => `${SOURCE_NET}.${nextSource++ % 250 || 2}`;

interface Ctx {
  o: Options;
  sz: Sizes;
  serverCpus?: string;
  genCpus?: string;
}

async function generators(ctx: Ctx, n: number): Promise<Gen[]> {
  const gens = await Promise.all(Array.from({ length: n }, () => spawnWorker<GenCommand>(GENERATOR, [])));
  for (const g of gens) pin(g.pid, ctx.genCpus);
  return gens;
}

async function counters(gens: Gen[]): Promise<GenCounters & { latencyHist: Histogram }> {
  const all = await Promise.all(gens.map((g) => g.call<GenCounters>({ type: "counters" })));
  const h = new Histogram();
  const sum = (k: keyof GenCounters) => all.reduce((s, c) => s + (c[k] as number), 0);
  for (const c of all) h.merge(c.latency);
  return {
    clients: sum("clients"),
    open: sum("open"),
    joined: sum("joined"),
    framesIn: sum("framesIn"),
    bytesIn: sum("bytesIn"),
    snapshotPagesIn: sum("snapshotPagesIn"),
    deliveries: sum("deliveries"),
    joinsSeen: sum("joinsSeen"),
    leavesSeen: sum("leavesSeen"),
    redundantMemberEvents: sum("redundantMemberEvents"),
    earlyMemberEvents: sum("earlyMemberEvents"),
    reclaimRetries: sum("reclaimRetries"),
    freshRejoins: sum("freshRejoins"),
    converged: sum("converged"),
    over: sum("over"),
    under: sum("under"),
    unjoined: sum("unjoined"),
    lastConvergedAt: Math.max(...all.map((c) => c.lastConvergedAt)),
    reconnects: sum("reconnects"),
    lastReconnectAt: Math.max(...all.map((c) => c.lastReconnectAt)),
    sent: sum("sent"),
    latency: [],
    latencyHist: h,
  };
}

/** Opens `users.length` clients spread over generators of at most PER_GENERATOR clients each. */
async function openClients(gens: Gen[], kind: ServerKind, port: number, users: string[], rooms: string[], opts: { join: boolean; countOnly: boolean; probes: number; headerOnly?: boolean }) {
  const per = Math.ceil(users.length / gens.length);
  const r = await Promise.all(
    gens.map((g, i) =>
      g.call<{ connected: number; joined: number; failed: number }>({
        type: "open",
        kind: protocolOf(kind),
        port,
        localAddress: sourceAddress(),
        users: users.slice(i * per, (i + 1) * per),
        rooms: rooms.slice(i * per, (i + 1) * per),
        probes: i === 0 ? opts.probes : 0,
        countOnly: opts.countOnly,
        join: opts.join,
        headerOnly: opts.headerOnly ?? false,
      }),
    ),
  );
  return { connected: r.reduce((s, x) => s + x.connected, 0), joined: r.reduce((s, x) => s + x.joined, 0), failed: r.reduce((s, x) => s + x.failed, 0) };
}

/** CPU seconds of the server and of the generators, and machine busy time, for a window. */
function cpuMeter(server: BenchServer, gens: Gen[]) {
  const read = () => ({ t: now(), server: cpuSeconds(server.pid), gens: gens.map((g) => cpuSeconds(g.pid)), machine: machineBusyS().busy });
  const a = read();
  return () => {
    const b = read();
    const s = (b.t - a.t) / 1000;
    const genPerProcess = b.gens.map((x, i) => (100 * (x - a.gens[i]!)) / s);
    const genPct = genPerProcess.reduce((x, y) => x + y, 0);
    const serverPct = (100 * (b.server - a.server)) / s;
    return {
      seconds: s,
      serverCpuS: b.server - a.server,
      serverPct,
      generatorPct: genPct,
      generatorMaxProcessPct: Math.max(0, ...genPerProcess),
      machinePct: (100 * (b.machine - a.machine)) / s,
      generatorShare: genPct / Math.max(1e-9, genPct + serverPct),
    };
  };
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(everyMs);
  }
  return false;
}

const q = (h: Histogram, x: number) => h.quantile(x);

/** Our server's resync and drop counters (summed over labels), to explain a figure; {} for peers. */
async function ourCounters(server: BenchServer): Promise<Record<string, number>> {
  if (!server.metricsUrl) return {};
  const names = ["presence_resyncs_total", "presence_ws_slow_consumer_resyncs_total", "presence_ws_frames_dropped_total", "presence_ws_frames_sent_total", "presence_history_rows_written_total", "presence_history_rows_dropped_total"];
  try {
    const text = await (await fetch(server.metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
    const out: Record<string, number> = {};
    for (const line of text.split("\n")) {
      const name = names.find((x) => line.startsWith(x) && (line[x.length] === " " || line[x.length] === "{"));
      if (name) out[name] = (out[name] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return out;
  } catch {
    return {};
  }
}

// ---- scenarios ----

async function idle(ctx: Ctx, kind: ServerKind): Promise<ServerFigures> {
  const n = ctx.sz.idle;
  const server = await startBenchServer(kind, { inspect: true, cpus: ctx.serverCpus });
  const gens = await generators(ctx, Math.ceil(n / PER_GENERATOR));
  try {
    await sleep(1_000);
    if (server.insp) await serverGc(server.insp);
    const rss0 = rssBytes(server.pid);
    const heap0 = server.insp ? await serverHeapUsed(server.insp) : NaN;
    const k0 = kernelMem();
    const cpu = cpuMeter(server, gens);
    if (ctx.o.profile && server.insp) await startHeapSampling(server.insp);
    const users = Array.from({ length: n }, (_, i) => `idle-${i}`);
    const rooms = users.map((_, i) => `idle-room-${Math.floor(i / 10)}`);
    const r = await openClients(gens, kind, server.port, users, rooms, { join: true, countOnly: false, probes: 0 });
    const c = cpu();
    await sleep(2_000);
    if (server.insp) await serverGc(server.insp);
    await sleep(200);
    const rss1 = rssBytes(server.pid);
    const heap1 = server.insp ? await serverHeapUsed(server.insp) : NaN;
    const k1 = kernelMem();
    const heapProfile = ctx.o.profile && server.insp ? summarizeHeap(await stopHeapSampling(server.insp), r.joined) : undefined;
    if (heapProfile) log(`    ${kind}: sampled live heap ${fmt(heapProfile.totalPerConnection)} B per connection; by own site: ${heapProfile.byOwnSite.slice(0, 8).map((x) => `${x.site} ${fmt(x.bytesPerConnection)}`).join("; ")}`);
    const idleCpu = cpuMeter(server, gens);
    await sleep(ctx.sz.measureS * 1000);
    const ic = idleCpu();
    const rssPer = (rss1 - rss0) / r.joined;
    // The server's half of the kernel objects of each loopback connection (the generator holds the other end).
    const slabHalf = (Number.isFinite(k1.socketSlabBytes) ? k1.socketSlabBytes - k0.socketSlabBytes : k1.slabBytes - k0.slabBytes) / r.joined / 2;
    const memPer = rssPer + Math.max(0, slabHalf);
    log(`    ${kind}: ${fmt(r.joined)}/${fmt(n)} joined (${fmt(r.failed)} failed) in ${fmt(c.seconds, 1)} s; RSS ${fmt(rssPer)} B + ½ kernel socket objects ${fmt(slabHalf)} B per connection (JS heap ${fmt((heap1 - heap0) / r.joined)} B of it); idle CPU ${fmt(ic.serverPct, 2)}% of a core`);
    return {
      metrics: {
        memoryPerConnection: memPer,
        rssPerConnection: rssPer,
        connectionsPerGiB: 2 ** 30 / memPer,
        idleCpuPercent: ic.serverPct,
        idleCpuUsPerConnectionSecond: (ic.serverCpuS * 1e6) / ic.seconds / r.joined,
        connectSeconds: c.seconds,
      },
      detail: { connections: n, joined: r.joined, failed: r.failed, rssBefore: rss0, rssAfter: rss1, jsHeapPerConnection: (heap1 - heap0) / r.joined, slabDelta: k1.slabBytes - k0.slabBytes, socketSlabDelta: k1.socketSlabBytes - k0.socketSlabBytes, tcpMemDelta: k1.tcpMemBytes - k0.tcpMemBytes, ...(heapProfile ? { heapProfile } : {}) },
      generator: { cpuPercent: c.generatorPct, maxProcessPercent: c.generatorMaxProcessPct, share: c.generatorShare, processes: gens.length, machineBusyPercent: c.machinePct, otherProcessesPercent: Math.max(0, c.machinePct - c.serverPct - c.generatorPct) },
    };
  } finally {
    await Promise.all(gens.map((g) => g.close()));
    await server.stop();
  }
}

async function storm(ctx: Ctx, kind: ServerKind): Promise<ServerFigures> {
  const n = ctx.sz.storm;
  const server = await startBenchServer(kind, { inspect: ctx.o.profile && protocolOf(kind) === "presence", cpus: ctx.serverCpus });
  const gens = await generators(ctx, 2);
  try {
    const users = Array.from({ length: n }, (_, i) => `storm-${i}`);
    const r = await openClients(gens, kind, server.port, users, users.map(() => "storm"), { join: false, countOnly: false, probes: 0 });
    await Promise.all(gens.map((g) => g.call({ type: "target", target: r.connected })));
    await sleep(500);
    const t0 = now() + 200;
    const cpu = cpuMeter(server, gens);
    if (ctx.o.profile && server.insp) await startProfile(server.insp);
    await Promise.all(gens.map((g) => g.call({ type: "storm", at: t0, spreadMs: 1_000 })));
    let last: Awaited<ReturnType<typeof counters>> | undefined;
    const ok = await waitFor(async () => ((last = await counters(gens)), last.converged >= r.connected), 120_000, 25);
    const c = cpu();
    const profile = ctx.o.profile && server.insp ? topFunctions(await stopProfile(server.insp), 20) : undefined;
    const ours = await ourCounters(server);
    const conv = ok ? (last!.lastConvergedAt - t0) / 1000 : NaN;
    log(`    ${kind}: ${fmt(r.connected)} clients, ${ok ? `converged in ${fmt(conv, 2)} s` : `did not converge within 120 s (${fmt(last!.converged)} views complete, ${fmt(last!.over)} over, ${fmt(last!.under)} under, ${fmt(last!.unjoined)} not joined)`}; server CPU ${fmt(c.serverCpuS, 2)} s, generators ${fmt((c.generatorPct * c.seconds) / 100, 2)} CPU-s; ${fmt(last!.framesIn / r.connected, 1)} messages (${fmt(last!.snapshotPagesIn / r.connected, 1)} snapshot pages), ${fmt(last!.bytesIn / r.connected / 1024)} KiB per client${Object.keys(ours).length ? ` (${Object.entries(ours).map(([k, v]) => `${k.replace("presence_", "")} ${fmt(v)}`).join(", ")})` : ""}`);
    return {
      metrics: { convergenceSeconds: conv, serverCpuSeconds: c.serverCpuS, messagesPerClient: last!.framesIn / r.connected },
      detail: { clients: r.connected, failed: r.failed, converged: last!.converged, bytesPerClient: last!.bytesIn / r.connected, snapshotPagesPerClient: last!.snapshotPagesIn / r.connected, generatorCpuSeconds: (c.generatorPct * c.seconds) / 100, timedOutAfterSeconds: ok ? null : 120, windowSeconds: c.seconds, ...ours, ...(profile ? { profile } : {}) },
      generator: { cpuPercent: c.generatorPct, maxProcessPercent: c.generatorMaxProcessPct, share: c.generatorShare, processes: gens.length, machineBusyPercent: c.machinePct, otherProcessesPercent: Math.max(0, c.machinePct - c.serverPct - c.generatorPct) },
    };
  } finally {
    await Promise.all(gens.map((g) => g.close()));
    await server.stop();
  }
}

async function churn(ctx: Ctx, kind: ServerKind): Promise<ServerFigures> {
  const { churnMembers: m, churners, typers } = ctx.sz;
  const server = await startBenchServer(kind, { inspect: ctx.o.profile && protocolOf(kind) === "presence", cpus: ctx.serverCpus });
  const [watchG, driveG] = await generators(ctx, 2);
  const gens = [watchG!, driveG!];
  try {
    const users = Array.from({ length: m }, (_, i) => `member-${i}`);
    const w = await openClients([watchG!], kind, server.port, users, users.map(() => "churn"), { join: true, countOnly: true, probes: 20, headerOnly: true });
    const dUsers = Array.from({ length: churners + typers }, (_, i) => `churner-${i}`);
    await openClients([driveG!], kind, server.port, dUsers, dUsers.map(() => "churn"), { join: false, countOnly: true, probes: 0 });
    await driveG!.call({ type: "churn", opsPerS: ctx.sz.churnOpsPerS, typers, typingHz: ctx.sz.typingHz });
    await sleep(ctx.sz.warmupS * 1000);
    await Promise.all(gens.map((g) => g.call({ type: "resetStats" })));
    const cpu = cpuMeter(server, gens);
    if (ctx.o.profile && server.insp) await startProfile(server.insp);
    await sleep(ctx.sz.measureS * 1000);
    const c = cpu();
    const [wc, dc] = [await counters([watchG!]), await counters([driveG!])];
    const profile = ctx.o.profile && server.insp ? topFunctions(await stopProfile(server.insp), 20) : undefined;
    await driveG!.call({ type: "stopLoad" });
    const dps = wc.deliveries / c.seconds;
    const h = wc.latencyHist;
    const ours = await ourCounters(server);
    log(`    ${kind}: ${fmt(w.joined)} members; ${fmt(dc.sent / c.seconds)} mutations/s sent; ${fmt(dps)} deliveries/s; join latency p50/p99/p999 ${fmt(q(h, 0.5), 1)}/${fmt(q(h, 0.99), 1)}/${fmt(q(h, 0.999), 1)} ms; server ${fmt(c.serverPct)}% CPU; generator ${fmt(c.generatorPct)}%`);
    return {
      metrics: { mutationsPerSecond: dc.sent / c.seconds, deliveriesPerSecond: dps, latencyP50Ms: q(h, 0.5), latencyP99Ms: q(h, 0.99), latencyP999Ms: q(h, 0.999), serverCpuPercent: c.serverPct },
      detail: { members: w.joined, mutationsPerSecond: dc.sent / c.seconds, latencySamples: h.count, seconds: c.seconds, ...ours, ...(profile ? { profile } : {}) },
      generator: { cpuPercent: c.generatorPct, maxProcessPercent: c.generatorMaxProcessPct, share: c.generatorShare, processes: gens.length, machineBusyPercent: c.machinePct, otherProcessesPercent: Math.max(0, c.machinePct - c.serverPct - c.generatorPct) },
    };
  } finally {
    await Promise.all(gens.map((g) => g.close()));
    await server.stop();
  }
}

async function cursors(ctx: Ctx, kind: ServerKind): Promise<ServerFigures> {
  const n = ctx.sz.cursorClients;
  const server = await startBenchServer(kind, { inspect: ctx.o.profile && protocolOf(kind) === "presence", cpus: ctx.serverCpus });
  const gens = await generators(ctx, 1);
  try {
    const users = Array.from({ length: n }, (_, i) => `cursor-${i}`);
    const r = await openClients(gens, kind, server.port, users, users.map(() => "cursors"), { join: true, countOnly: false, probes: 10, headerOnly: true });
    await gens[0]!.call({ type: "cursors", hz: ctx.sz.cursorHz });
    await sleep(ctx.sz.warmupS * 1000);
    await gens[0]!.call({ type: "resetStats" });
    const cpu = cpuMeter(server, gens);
    if (ctx.o.profile && server.insp) await startProfile(server.insp);
    await sleep(ctx.sz.measureS * 1000);
    const c = cpu();
    const k = await counters(gens);
    const profile = ctx.o.profile && server.insp ? topFunctions(await stopProfile(server.insp), 20) : undefined;
    await gens[0]!.call({ type: "stopLoad" });
    const h = k.latencyHist;
    const dps = k.deliveries / c.seconds;
    log(`    ${kind}: ${fmt(r.joined)} clients; ${fmt(k.sent / c.seconds)} moves/s sent; ${fmt(dps)} positions delivered/s in ${fmt(k.framesIn / c.seconds)} messages/s; latency p50/p99 ${fmt(q(h, 0.5), 1)}/${fmt(q(h, 0.99), 1)} ms; server ${fmt(c.serverPct)}% CPU`);
    return {
      metrics: { deliveriesPerSecond: dps, messagesPerSecond: k.framesIn / c.seconds, latencyP50Ms: q(h, 0.5), latencyP99Ms: q(h, 0.99), serverCpuPercent: c.serverPct },
      detail: { clients: r.joined, movesPerSecond: k.sent / c.seconds, seconds: c.seconds, ...(profile ? { profile } : {}) },
      generator: { cpuPercent: c.generatorPct, maxProcessPercent: c.generatorMaxProcessPct, share: c.generatorShare, processes: gens.length, machineBusyPercent: c.machinePct, otherProcessesPercent: Math.max(0, c.machinePct - c.serverPct - c.generatorPct) },
    };
  } finally {
    await Promise.all(gens.map((g) => g.close()));
    await server.stop();
  }
}

/** The reconnect storm waits this long for every view to equal the truth, then reports "did not converge". */
const RECONNECT_WAIT_S = 60;

async function reconnect(ctx: Ctx, kind: ServerKind): Promise<ServerFigures> {
  const n = ctx.sz.reconnect;
  let redis: RedisInstance | undefined;
  let server: BenchServer | undefined;
  let gens: Gen[] = [];
  try {
    redis = await startRedis();
    pin(redis.pid, ctx.genCpus);
    const profiling = ctx.o.profile && protocolOf(kind) === "presence";
    server = await startBenchServer(kind, { inspect: profiling, cpus: ctx.serverCpus, redisUrl: redis.url });
    gens = await generators(ctx, Math.ceil(n / PER_GENERATOR));
    const users = Array.from({ length: n }, (_, i) => `rc-${i}`);
    const rooms = users.map((_, i) => `rc-room-${Math.floor(i / 10)}`);
    const r = await openClients(gens, kind, server.port, users, rooms, { join: true, countOnly: false, probes: 0 });
    await Promise.all(gens.map((g) => g.call({ type: "target", target: 10 })));
    const settled = await waitFor(async () => (await counters(gens)).converged >= r.joined, 30_000);
    await Promise.all(gens.map((g) => g.call({ type: "reconnect", jitterMs: 1_000 })));
    await Promise.all(gens.map((g) => g.call({ type: "resetStats" })));
    const tKill = now();
    const genCpu0 = gens.map((g) => cpuSeconds(g.pid));
    const { exitedAt } = await server.restart();
    const tReady = now();
    if (profiling && server.insp) await startProfile(server.insp); // the rejoins, not the start-up
    let last: Awaited<ReturnType<typeof counters>> | undefined;
    const ok = await waitFor(async () => ((last = await counters(gens)), last.reconnects >= r.joined && last.converged >= r.joined), RECONNECT_WAIT_S * 1000, 25);
    const windowS = (now() - tKill) / 1000;
    const genPerProcess = gens.map((g, i) => (100 * (cpuSeconds(g.pid) - genCpu0[i]!)) / windowS);
    const genPct = genPerProcess.reduce((x, y) => x + y, 0);
    const newServerCpuS = cpuSeconds(server.pid);
    const profile = profiling && server.insp ? topFunctions(await stopProfile(server.insp), 20) : undefined;
    const fromReady = ok ? (last!.lastConvergedAt - tReady) / 1000 : NaN;
    const fromKill = ok ? (last!.lastConvergedAt - tKill) / 1000 : NaN;
    log(
      `    ${kind}: ${fmt(r.joined)} clients${settled ? "" : " (not all views settled before the restart)"}; restart took ${fmt((tReady - tKill) / 1000, 2)} s (exit ${fmt((exitedAt - tKill) / 1000, 2)} s); ` +
        `last rejoin answered ${fmt((last!.lastReconnectAt - tReady) / 1000, 2)} s after ready; ` +
        `${ok ? `views equal the truth ${fmt(fromReady, 2)} s after the new server was ready (${fmt(fromKill, 2)} s after SIGTERM)` : `did not converge within ${RECONNECT_WAIT_S} s: ${fmt(last!.converged)} of ${fmt(r.joined)} views complete (${fmt(last!.over)} over, ${fmt(last!.under)} under the truth, ${fmt(last!.unjoined)} not joined), ${fmt(last!.reconnects)} reconnects`}; ` +
        `${fmt(last!.joinsSeen / r.joined, 2)} join + ${fmt(last!.leavesSeen / r.joined, 2)} leave events per client` +
        (protocolOf(kind) === "presence" ? `; ${fmt(last!.reclaimRetries)} reclaims refused and tried again, ${fmt(last!.freshRejoins)} refused with SESSION_NOT_FOUND (joined afresh)` : ` (${fmt(last!.redundantMemberEvents)} redundant, ${fmt(last!.earlyMemberEvents)} before the subscription answer)`),
    );
    return {
      metrics: { convergenceAfterReadySeconds: fromReady, convergenceAfterSigtermSeconds: fromKill, spuriousJoinsPerClient: last!.joinsSeen / r.joined, spuriousLeavesPerClient: last!.leavesSeen / r.joined },
      detail: {
        clients: r.joined,
        restartSeconds: (tReady - tKill) / 1000,
        reconnects: last!.reconnects,
        /** Ours: reclaims refused for another reason than SESSION_NOT_FOUND and tried again; refused with it and joined afresh. */
        reclaimRetries: last!.reclaimRetries,
        freshRejoins: last!.freshRejoins,
        /** When the last client had its join answered again, after the new server was ready. */
        lastRejoinAfterReadySeconds: (last!.lastReconnectAt - tReady) / 1000,
        converged: last!.converged,
        settledBeforeRestart: settled,
        timedOutAfterSeconds: ok ? null : RECONNECT_WAIT_S,
        /** Peers: member events a count-based client would have miscounted (see PeerClient.members). */
        redundantMemberEvents: last!.redundantMemberEvents,
        memberEventsBeforeAnswer: last!.earlyMemberEvents,
        viewsOver: last!.over,
        viewsUnder: last!.under,
        notJoined: last!.unjoined,
        newServerCpuSeconds: newServerCpuS,
        store: protocolOf(kind) === "presence" ? "Redis store" : "Redis adapter",
        ...(profile ? { profile } : {}),
      },
      generator: { cpuPercent: genPct, maxProcessPercent: Math.max(0, ...genPerProcess), share: genPct / Math.max(1e-9, genPct + (100 * newServerCpuS) / windowS), processes: gens.length },
    };
  } finally {
    await Promise.all(gens.map((g) => g.close()));
    await server?.stop();
    await redis?.stop();
  }
}

const RUNNERS: Record<ScenarioName, (ctx: Ctx, kind: ServerKind) => Promise<ServerFigures>> = { idle, storm, churn, cursors, reconnect };

// ---- gRPC side (bench/grpc, another module) ----

type GrpcBenchResult = NonNullable<BenchResults["grpc"]>;

async function grpcSide(full: boolean): Promise<GrpcBenchResult | { skipped: string }> {
  const file = new URL("./grpc/grpc-bench.ts", import.meta.url);
  if (!existsSync(fileURLToPath(file))) return { skipped: "bench/grpc/grpc-bench.ts is not there" };
  try {
    const mod = (await import(file.href)) as { runGrpcBench?: (o: { full: boolean; log?: (l: string) => void }) => Promise<GrpcBenchResult> };
    if (typeof mod.runGrpcBench !== "function") return { skipped: "bench/grpc/grpc-bench.ts exports no runGrpcBench" };
    return await mod.runGrpcBench({ full, log: (l) => log(`    ${l}`) });
  } catch (e) {
    return { skipped: `gRPC benchmark failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

// ---- main ----

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const sz = sizes(o.full, o.scale);
  const cores = os.cpus().length;
  const ctx: Ctx = { o, sz, ...(o.pin && cores >= 2 ? { serverCpus: "0", genCpus: `1-${cores - 1}` } : {}) };
  const started = new Date();
  log(`node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? "?"}); ${o.full ? "full" : "CI"} size; ${ctx.serverCpus ? `server pinned to CPU ${ctx.serverCpus}, generators and Redis to CPU ${ctx.genCpus} (taskset)` : "not pinned"}`);
  const results: BenchResults = {
    benchmark: "peers",
    startedAt: started.toISOString(),
    machine: { cores, cpu: os.cpus()[0]?.model ?? "?", memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadavg: os.loadavg() },
    options: { ...o },
    sizes: sz,
    pinning: ctx.serverCpus ? { server: ctx.serverCpus, generatorsAndRedis: ctx.genCpus! } : null,
    scenarios: {},
    grpc: null,
    notes: [],
  };
  for (const name of o.only) {
    log(`(${SCENARIOS.indexOf(name) + 1}) ${name}`);
    const per: Partial<Record<ServerKind, ServerFigures | { error: string }>> = {};
    for (const kind of o.servers) {
      try {
        per[kind] = await RUNNERS[name](ctx, kind);
      } catch (e) {
        const msg = e instanceof Error ? e.message.split("\n")[0]! : String(e);
        log(`    ${kind}: FAILED: ${msg}`);
        per[kind] = { error: msg };
      }
      await sleep(1_000);
    }
    results.scenarios[name] = per;
  }
  if (o.grpc) {
    log("(6) gRPC side (bench/grpc)");
    const g = await grpcSide(o.full);
    if ("skipped" in g) {
      log(`    skipped: ${g.skipped}`);
      results.notes.push(`gRPC side skipped: ${g.skipped}`);
    } else results.grpc = g;
  }
  results.finishedAt = new Date().toISOString();
  const stamp = isoStamp(started);
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(new URL("./charts/", dir), { recursive: true });
  const out = o.out ?? fileURLToPath(new URL(`peers-${stamp}.json`, dir));
  writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
  // A development run with --out (or a partial one) leaves the committed charts alone.
  const charts = !o.out && o.only.length === SCENARIOS.length;
  if (charts) for (const [name, svg] of Object.entries(renderCharts(results))) writeFileSync(new URL(`./charts/${name}.svg`, dir), svg);
  log("");
  log(renderTables(results, `bench/results/${out.split("/").pop()}`));
  log(`written ${out}${charts ? " and bench/results/charts/*.svg" : ""}; put the tables (and charts) into bench/README.md with: node --import tsx bench/readme-table.ts ${out}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
