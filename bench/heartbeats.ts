/**
 * Heartbeat and node-refresh throughput of one node on a real Redis (not a test).
 *
 *   npm run bench:heartbeats              CI-sized (≤ 30 s)
 *   npm run bench:heartbeats -- --full    longer runs, more sessions
 *
 * Options (override the preset): --sessions N  --rooms N  --duration S (per phase)  --warmup S
 * --inflight N (concurrent heartbeat callers)  --refresh-batch N  --refresh-inflight N
 * --pin (pin redis-server to the last core and Node to the others with taskset; off by default,
 * see bench/README.md)  --profile (a V8 CPU profile of each measured phase, written to
 * bench/results/tmp/, git-ignored)  --out FILE
 *
 * Starts its own redis-server on a free port (test/support/redis-harness.ts, never 6379), creates
 * a RedisPresenceStore with createRedisPresenceStore (real time), joins the sessions, then measures
 * (a) `store.heartbeat()` with a bounded number of concurrent callers and (b) `store.refresh(ids)`
 * in batches of attached sessions: throughput, Redis commands per heartbeat (INFO commandstats),
 * Redis and Node CPU, call latency. Prints a table and writes bench/results/heartbeats-<date>.json.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { systemClock } from "../src/core/clock.js";
import { createIdSource } from "../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../src/config.js";
import { createRedisPresenceStore } from "../src/store/redis/create-redis-store.js";
import type { RedisPresenceStore } from "../src/store/redis/redis-store.js";
import { startRedis, type RedisInstance } from "../test/support/redis-harness.js";
import { Histogram } from "./lib/histogram.js";

// ---- options ----

interface Options {
  full: boolean;
  sessions: number;
  rooms: number;
  durationS: number;
  warmupS: number;
  inflight: number;
  refreshBatch: number;
  refreshInflight: number;
  pin: boolean;
  /** Writes a V8 CPU profile of each measured phase to bench/results/tmp/. */
  profile: boolean;
  out?: string;
}

function parseArgs(argv: string[]): Options {
  const full = argv.includes("--full");
  const o: Options = full
    ? { full, sessions: 100_000, rooms: 5_000, durationS: 30, warmupS: 3, inflight: 2_000, refreshBatch: 1_000, refreshInflight: 8, pin: false, profile: false }
    : { full, sessions: 10_000, rooms: 500, durationS: 5, warmupS: 1, inflight: 2_000, refreshBatch: 1_000, refreshInflight: 8, pin: false, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === "--full") continue;
    else if (a === "--sessions") o.sessions = Math.floor(num());
    else if (a === "--rooms") o.rooms = Math.floor(num());
    else if (a === "--duration") o.durationS = num();
    else if (a === "--warmup") o.warmupS = num();
    else if (a === "--inflight") o.inflight = Math.floor(num());
    else if (a === "--refresh-batch") o.refreshBatch = Math.floor(num());
    else if (a === "--refresh-inflight") o.refreshInflight = Math.floor(num());
    else if (a === "--pin") o.pin = true;
    else if (a === "--no-pin") o.pin = false;
    else if (a === "--profile") o.profile = true;
    else if (a === "--out") o.out = argv[++i];
    else throw new Error(`unknown option ${a} (see the header of bench/heartbeats.ts)`);
  }
  return o;
}

// ---- Redis INFO snapshots ----

interface RedisSnapshot {
  calls: Map<string, number>;
  usec: Map<string, number>;
  cpuS: number;
}

async function redisSnapshot(c: Redis): Promise<RedisSnapshot> {
  const text = (await c.info("all")) as string;
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  let cpuS = 0;
  for (const line of text.split("\r\n")) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) {
      calls.set(m[1]!, Number(m[2]));
      usec.set(m[1]!, Number(m[3]));
    }
    const cpu = /^used_cpu_(sys|user):([\d.]+)/.exec(line);
    if (cpu) cpuS += Number(cpu[2]);
  }
  return { calls, usec, cpuS };
}

/** Busy CPU seconds of the whole machine (all processes, from /proc/stat); null where unavailable. */
function machineBusyS(): number | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const hz = 100; // USER_HZ
    const [user, nice, system, , , irq, softirq, steal] = f as number[];
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / hz;
  } catch {
    return null;
  }
}

// ---- a measured phase ----

interface PhaseResult {
  name: string;
  /** Unit of work: one session heartbeat or one session refreshed. */
  operations: number;
  seconds: number;
  perSecond: number;
  errors: number;
  /** Latency of one store call (a heartbeat, or a refresh of one batch). */
  latencyMs: { p50: number; p90: number; p99: number; max: number; calls: number };
  redis: {
    /** Every command counted by INFO commandstats (commands run inside scripts included), minus our INFO calls. */
    totalCalls: number;
    callsPerOp: number;
    evalshaCalls: number;
    evalshaPerOp: number;
    /** Sessions per EVALSHA (batch size). */
    opsPerEvalsha: number;
    byCommand: Record<string, number>;
    /** Time Redis spent executing EVALSHA (commandstats usec, script-internal commands included) per session. */
    evalshaUsPerOp: number;
    /** Of which inside the commands the script called (zscore, hget, zadd, time, …) per session. */
    innerCommandsUsPerOp: number;
    /** Redis process CPU (all threads) as % of one core. */
    cpuPercent: number;
    cpuUsPerOp: number;
  };
  /** CPU used on the machine by processes other than this one and redis-server, % of one core (noise indicator). */
  otherProcessesCpuPercent: number | null;
  /** Node CPU of this process (store + load generator) and its event-loop utilisation (0..1). */
  node: { cpuPercent: number; cpuUsPerOp: number; eventLoopUtilization: number };
  /**
   * Sessions/s if Redis and this Node process each had a core to themselves: 1e6 / the larger
   * of their CPU µs per session. Robust to other load on the machine, unlike `perSecond`.
   */
  cpuBoundCeilingPerSecond: number;
}

interface Driver {
  /** Starts the callers; they run until `stop()` resolves. */
  start(): void;
  stop(): Promise<void>;
  ops: number;
  errors: number;
  latency: Histogram;
  maxMs: number;
}

async function measure(name: string, driver: Driver, metrics: Redis, o: Options): Promise<PhaseResult> {
  driver.start();
  await sleep(o.warmupS * 1000);
  const r0 = await redisSnapshot(metrics);
  const m0 = machineBusyS();
  const c0 = process.cpuUsage();
  const e0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const profiler = o.profile ? await startProfile() : null;
  driver.ops = 0;
  driver.errors = 0;
  driver.maxMs = 0;
  driver.latency.reset();
  await sleep(o.durationS * 1000);
  const ops = driver.ops;
  const errors = driver.errors;
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const elu = performance.eventLoopUtilization(e0).utilization;
  const m1 = machineBusyS();
  const r1 = await redisSnapshot(metrics);
  if (profiler) log(`  CPU profile: ${await profiler.stop(name)}`);
  const latency = {
    p50: driver.latency.quantile(0.5),
    p90: driver.latency.quantile(0.9),
    p99: driver.latency.quantile(0.99),
    max: driver.maxMs,
    calls: driver.latency.count,
  };
  await driver.stop();

  const byCommand: Record<string, number> = {};
  let totalCalls = 0;
  let innerUs = 0;
  for (const [cmd, n] of r1.calls) {
    const d = n - (r0.calls.get(cmd) ?? 0);
    if (cmd === "info") continue;
    if (d > 0) byCommand[cmd] = d;
    totalCalls += d;
    if (cmd !== "evalsha" && cmd !== "eval") innerUs += (r1.usec.get(cmd) ?? 0) - (r0.usec.get(cmd) ?? 0);
  }
  const evalshaCalls = byCommand["evalsha"] ?? 0;
  const evalshaUs = (r1.usec.get("evalsha") ?? 0) - (r0.usec.get("evalsha") ?? 0);
  const redisCpuS = r1.cpuS - r0.cpuS;
  const nodeCpuS = (c1.user + c1.system) / 1e6;
  const otherS = m0 === null || m1 === null ? null : Math.max(0, m1 - m0 - redisCpuS - nodeCpuS);
  return {
    name,
    operations: ops,
    seconds,
    perSecond: ops / seconds,
    errors,
    latencyMs: latency,
    redis: {
      totalCalls,
      callsPerOp: totalCalls / ops,
      evalshaCalls,
      evalshaPerOp: evalshaCalls / ops,
      opsPerEvalsha: ops / evalshaCalls,
      byCommand,
      evalshaUsPerOp: evalshaUs / ops,
      innerCommandsUsPerOp: innerUs / ops,
      cpuPercent: (100 * redisCpuS) / seconds,
      cpuUsPerOp: (redisCpuS * 1e6) / ops,
    },
    otherProcessesCpuPercent: otherS === null ? null : (100 * otherS) / seconds,
    node: { cpuPercent: (100 * nodeCpuS) / seconds, cpuUsPerOp: (nodeCpuS * 1e6) / ops, eventLoopUtilization: elu },
    cpuBoundCeilingPerSecond: ops / Math.max(redisCpuS, nodeCpuS),
  };
}

interface Session {
  sessionId: string;
  ownerKey: string;
}

/** `inflight` callers, each heartbeating the next session as soon as its previous call returned. */
function heartbeatDriver(store: RedisPresenceStore, sessions: Session[], inflight: number): Driver {
  let running = false;
  let next = 0;
  const loops: Promise<void>[] = [];
  const d: Driver = {
    ops: 0,
    errors: 0,
    maxMs: 0,
    latency: new Histogram(),
    start() {
      running = true;
      for (let k = 0; k < inflight; k++) loops.push(loop());
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
  async function loop(): Promise<void> {
    while (running) {
      const s = sessions[next++ % sessions.length]!;
      const t = performance.now();
      try {
        await store.heartbeat(s);
        d.ops++;
      } catch {
        d.errors++;
      }
      const ms = performance.now() - t;
      d.latency.add(ms);
      if (ms > d.maxMs) d.maxMs = ms;
    }
  }
  return d;
}

/** `inflight` callers, each refreshing the next batch of sessions (ops = sessions refreshed). */
function refreshDriver(store: RedisPresenceStore, sessions: Session[], batch: number, inflight: number): Driver {
  const batches: string[][] = [];
  for (let i = 0; i < sessions.length; i += batch) batches.push(sessions.slice(i, i + batch).map((s) => s.sessionId));
  let running = false;
  let next = 0;
  const loops: Promise<void>[] = [];
  const d: Driver = {
    ops: 0,
    errors: 0,
    maxMs: 0,
    latency: new Histogram(),
    start() {
      running = true;
      for (let k = 0; k < inflight; k++) loops.push(loop());
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
  async function loop(): Promise<void> {
    while (running) {
      const ids = batches[next++ % batches.length]!;
      const t = performance.now();
      try {
        const { missing } = await store.refresh(ids);
        d.ops += ids.length - missing.length;
        d.errors += missing.length;
      } catch {
        d.errors += ids.length;
      }
      const ms = performance.now() - t;
      d.latency.add(ms);
      if (ms > d.maxMs) d.maxMs = ms;
    }
  }
  return d;
}

// ---- set-up helpers ----

const log = (s: string) => console.log(s);

async function startProfile(): Promise<{ stop(name: string): Promise<string> }> {
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  return {
    async stop(name) {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      const dir = new URL("./results/tmp/", import.meta.url);
      mkdirSync(dir, { recursive: true });
      const file = new URL(`heartbeats-${name}-${isoStamp(new Date())}.cpuprofile`, dir).pathname;
      writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Pins Redis to the last core and this process to the others (all threads); null when not possible. */
function pin(redis: RedisInstance, enabled: boolean): { redisCpus: string; nodeCpus: string } | null {
  const n = os.cpus().length;
  if (!enabled || n < 2) return null;
  const redisCpus = String(n - 1);
  const nodeCpus = n === 2 ? "0" : `0-${n - 2}`;
  try {
    execFileSync("taskset", ["-a", "-pc", redisCpus, String(redis.pid)], { stdio: "ignore" });
    execFileSync("taskset", ["-a", "-pc", nodeCpus, String(process.pid)], { stdio: "ignore" });
    return { redisCpus, nodeCpus };
  } catch {
    return null;
  }
}

async function joinAll(store: RedisPresenceStore, n: number, rooms: number): Promise<Session[]> {
  const sessions: Session[] = new Array(n);
  const parallel = 500;
  for (let base = 0; base < n; base += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, n - base) }, async (_, k) => {
        const i = base + k;
        const userId = `user${i}`;
        const ownerKey = `u:${userId}`;
        const r = await store.join({
          room: `room${i % rooms}`,
          ownerKey,
          identity: { kind: "user", user: { userId, name: `User ${i}`, avatarUrl: "", metadata: {} } },
          metadata: { page: "/doc" },
        });
        sessions[i] = { sessionId: r.session.sessionId, ownerKey };
      }),
    );
  }
  return sessions;
}

// ---- output ----

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";

const fmtOrNa = (n: number | null) => (n === null ? "n/a" : fmt(n, 1));

function table(rows: [string, ...string[]][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

function report(phases: PhaseResult[]): string {
  const [hb, rf] = phases as [PhaseResult, PhaseResult];
  const rows: [string, ...string[]][] = [
    ["", "heartbeat()", "refresh(batch)"],
    ["sessions updated / s", fmt(hb.perSecond), fmt(rf.perSecond)],
    ["ceiling if Redis and Node had a core each (CPU-bound)", fmt(hb.cpuBoundCeilingPerSecond), fmt(rf.cpuBoundCeilingPerSecond)],
    ["errors", fmt(hb.errors), fmt(rf.errors)],
    ["Redis commands / session (commandstats, incl. inside scripts)", fmt(hb.redis.callsPerOp, 2), fmt(rf.redis.callsPerOp, 2)],
    ["EVALSHA calls (total)", fmt(hb.redis.evalshaCalls), fmt(rf.redis.evalshaCalls)],
    ["sessions per EVALSHA", fmt(hb.redis.opsPerEvalsha, 1), fmt(rf.redis.opsPerEvalsha, 1)],
    ["Redis CPU, % of a core", fmt(hb.redis.cpuPercent, 1), fmt(rf.redis.cpuPercent, 1)],
    ["Redis CPU µs / session", fmt(hb.redis.cpuUsPerOp, 2), fmt(rf.redis.cpuUsPerOp, 2)],
    ["  of which EVALSHA µs / session (commandstats)", fmt(hb.redis.evalshaUsPerOp, 2), fmt(rf.redis.evalshaUsPerOp, 2)],
    ["  of which commands inside the script µs / session", fmt(hb.redis.innerCommandsUsPerOp, 2), fmt(rf.redis.innerCommandsUsPerOp, 2)],
    ["Node CPU, % of a core (store + load generator)", fmt(hb.node.cpuPercent, 1), fmt(rf.node.cpuPercent, 1)],
    ["Node CPU µs / session", fmt(hb.node.cpuUsPerOp, 2), fmt(rf.node.cpuUsPerOp, 2)],
    ["Node event-loop utilisation", fmt(hb.node.eventLoopUtilization, 2), fmt(rf.node.eventLoopUtilization, 2)],
    ["other processes' CPU, % of a core (noise)", fmtOrNa(hb.otherProcessesCpuPercent), fmtOrNa(rf.otherProcessesCpuPercent)],
    ["call latency p50 ms", fmt(hb.latencyMs.p50, 2), fmt(rf.latencyMs.p50, 2)],
    ["call latency p90 ms", fmt(hb.latencyMs.p90, 2), fmt(rf.latencyMs.p90, 2)],
    ["call latency p99 ms", fmt(hb.latencyMs.p99, 2), fmt(rf.latencyMs.p99, 2)],
    ["call latency max ms", fmt(hb.latencyMs.max, 2), fmt(rf.latencyMs.max, 2)],
  ];
  return table(rows);
}

// ---- main ----

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = new Date();
  let redis: RedisInstance | undefined;
  let store: RedisPresenceStore | undefined;
  try {
    redis = await startRedis();
    const pinned = pin(redis, o.pin);
    const metrics = redis.client();
    const redisVersion = /redis_version:(\S+)/.exec((await metrics.info("server")) as string)?.[1] ?? "?";
    log(`redis-server ${redisVersion} on 127.0.0.1:${redis.port} (pid ${redis.pid}), node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})`);
    log(
      pinned
        ? `pinned with taskset: redis-server on CPU ${pinned.redisCpus}, this Node process (store + load generator) on CPU ${pinned.nodeCpus}`
        : o.pin
          ? "not pinned (a single core, or taskset failed): Redis and Node share the cores"
          : "not pinned (default; --pin to pin with taskset): the scheduler spreads Redis and Node over the cores",
    );
    store = await createRedisPresenceStore(
      { url: redis.url, prefix: "bench", commandTimeoutMs: 10_000, connectTimeoutMs: 10_000, scopeShards: 16 },
      { clock: systemClock, ids: createIdSource((n) => randomBytes(n)), timings: DEFAULT_TIMINGS, limits: DEFAULT_LIMITS },
    );

    const tj = performance.now();
    const sessions = await joinAll(store, o.sessions, o.rooms);
    const joinS = (performance.now() - tj) / 1000;
    log(`joined ${fmt(o.sessions)} sessions in ${fmt(o.rooms)} rooms in ${fmt(joinS, 1)} s (${fmt(o.sessions / joinS)} joins/s)`);

    log(`(a) heartbeat(): ${fmt(o.inflight)} callers in flight, ${o.warmupS} s warm-up + ${o.durationS} s …`);
    const hb = await measure("heartbeat", heartbeatDriver(store, sessions, o.inflight), metrics, o);

    await Promise.all(sessions.map((s) => store!.attach(s)));
    log(`(b) refresh(): batches of ${fmt(o.refreshBatch)} sessions, ${o.refreshInflight} batches in flight, ${o.warmupS} s warm-up + ${o.durationS} s …`);
    const rf = await measure("refresh", refreshDriver(store, sessions, o.refreshBatch, o.refreshInflight), metrics, o);

    log("");
    log(report([hb, rf]));
    log("");
    const target = 200_000;
    log(`target ≥ ${fmt(target)} heartbeats/s per node: heartbeat() ${fmt((100 * hb.perSecond) / target)}%, refresh() ${fmt((100 * rf.perSecond) / target)}% of target`);
    log("physical reference (performance-anchors.md §10): ~0.55–0.7M batched score updates/s on this class of 2-core box");

    const result = {
      benchmark: "heartbeats",
      startedAt: started.toISOString(),
      machine: {
        cores: os.cpus().length,
        cpu: os.cpus()[0]?.model ?? "?",
        memGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        redis: redisVersion,
        pinned,
      },
      options: o,
      setup: { sessions: o.sessions, rooms: o.rooms, joinSeconds: joinS, joinsPerSecond: o.sessions / joinS },
      targetHeartbeatsPerSecond: target,
      phases: [hb, rf],
    };
    const out = o.out ?? new URL(`./results/heartbeats-${isoStamp(started)}.json`, import.meta.url).pathname;
    mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
    log(`written ${out}`);
  } finally {
    await store?.close().catch(() => {});
    await redis?.stop();
  }
}

/** ISO 8601 basic-time stamp usable in a file name: 2026-08-25T101112Z. */
function isoStamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "");
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
