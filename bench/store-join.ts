/**
 * Join through the store alone (not a test): Node CPU and Redis CPU per Join, Redis commands per
 * Join, memory store vs standalone Redis vs a 3-master Redis Cluster, with the same load (issue 16
 * item 2: "Join on Redis ≤ 2× the CPU of Join on the memory store"). Each Join is a first Join of a
 * new session into a new room (what a page load does), `--inflight` at a time, with and without a
 * request id (the SDK sends one with every first Join). No RPC layer: bench:grpc measures the
 * whole server; this isolates what the store costs.
 *
 *   npm run bench:store-join              CI-sized (≈ 30 s)
 *   npm run bench:store-join -- --joins N --inflight N --out FILE
 *   npm run bench:store-join -- --quota count|store|none
 *
 * `--quota`: how the `sessions` quota is checked, as the service does on every first Join:
 * `store` (default) passes `maxSessions` (checked in the step that creates the session), `count`
 * reads `countSessions` before the Join (the service before issue 16's counter: 64 HGETs on Redis),
 * `none` skips it. The quota itself (1,000,000) is never reached.
 *
 * Redis servers are started on free ports (test/support/redis-harness.ts); scripts use Redis TIME.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import type { Redis } from "ioredis";
import { systemClock } from "../src/core/clock.js";
import { createIdSource } from "../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../src/config.js";
import { createMemoryPresenceStore } from "../src/store/memory/memory-store.js";
import { createRedisPresenceStore } from "../src/store/redis/create-redis-store.js";
import { startRedis, startRedisCluster } from "../test/support/redis-harness.js";

interface Row {
  store: string;
  requestId: boolean;
  joinsPerSecond: number;
  nodeCpuUsPerJoin: number;
  redisCpuUsPerJoin: number | null;
  /** Calls a node sends per Join: scripts, MULTI blocks, plain SETs (not the commands inside scripts). */
  redisCommandsPerJoin: number | null;
  /** Every call the node sent per Join (RedisContext.cmd: scripts and plain commands), by name. */
  sentPerJoin: Record<string, number> | null;
  ratioToMemory: number | null;
}

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const JOINS = arg("--joins", 20_000);
const INFLIGHT = arg("--inflight", 64);
const WARMUP = Math.min(2_000, Math.floor(JOINS / 10));
const outIndex = process.argv.indexOf("--out");
const quotaIndex = process.argv.indexOf("--quota");
const QUOTA_MODE = (quotaIndex >= 0 ? process.argv[quotaIndex + 1] : "store") as "store" | "count" | "none";
if (!["store", "count", "none"].includes(QUOTA_MODE)) throw new Error("--quota: store, count or none");
const QUOTA = 1_000_000;
/** Calls the Redis stores sent, by name (RedisStoreObserver.commandDuration). */
const sent = new Map<string, number>();
const observer = { commandDuration: (name: string) => void sent.set(name, (sent.get(name) ?? 0) + 1) };
/** 500 users, like page loads by different people (one user holding thousands of sessions makes the user-status hash, and each Join, O(its sessions)). */
const identityOf = (i: number) => ({ kind: "user" as const, user: { userId: `b${i % 500}`, name: "Bench", avatarUrl: "", metadata: {} } });

type Joiner = Pick<ReturnType<typeof createMemoryPresenceStore>, "join" | "countSessions" | "close">;

async function drive(store: Joiner, n: number, tag: string, requestId: boolean): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const ownerKey = `u:b${i % 500}`;
      if (QUOTA_MODE === "count" && (await store.countSessions(ownerKey)) >= QUOTA) throw new Error("quota reached");
      const maxSessions = QUOTA_MODE === "store" ? QUOTA : undefined;
      await store.join({ room: `${tag}-${i}`, ownerKey, identity: identityOf(i), metadata: { page: "/a" }, requestId: requestId ? `q${i}` : undefined, maxSessions });
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, worker));
  return (performance.now() - t0) / 1000;
}

/** Redis CPU seconds and command calls (INFO) summed over the servers. */
async function redisStats(clients: Redis[]): Promise<{ cpu: number; calls: number }> {
  let cpu = 0;
  let calls = 0;
  for (const c of clients) {
    const info = (await c.info("cpu")) + (await c.info("commandstats"));
    cpu += Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
    // What a node sends (commands inside scripts are counted by Redis too, and left out here):
    // script calls, MULTI blocks (one reply), and the plain SETs the older Join path used.
    for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (["evalsha", "eval", "exec", "set"].includes(m[1]!)) calls += Number(m[2]);
  }
  return { cpu, calls };
}

async function measure(name: string, store: Joiner, clients: Redis[], requestId: boolean): Promise<Omit<Row, "ratioToMemory">> {
  await drive(store, WARMUP, `${name}-w-${requestId}`, requestId);
  const before = await redisStats(clients);
  sent.clear();
  const cpu0 = process.cpuUsage();
  const seconds = await drive(store, JOINS, `${name}-m-${requestId}`, requestId);
  const cpu = process.cpuUsage(cpu0);
  const after = await redisStats(clients);
  return {
    store: name,
    requestId,
    joinsPerSecond: JOINS / seconds,
    nodeCpuUsPerJoin: (cpu.user + cpu.system) / JOINS,
    redisCpuUsPerJoin: clients.length ? ((after.cpu - before.cpu) * 1e6) / JOINS : null,
    redisCommandsPerJoin: clients.length ? (after.calls - before.calls) / JOINS : null,
    sentPerJoin: clients.length ? Object.fromEntries([...sent].map(([k, v]) => [k, Math.round((v / JOINS) * 100) / 100])) : null,
  };
}

const deps = () => ({ clock: systemClock, ids: createIdSource((n) => randomBytes(n)), timings: DEFAULT_TIMINGS, limits: DEFAULT_LIMITS, observer });
const rows: Omit<Row, "ratioToMemory">[] = [];
for (const requestId of [false, true]) {
  const mem = createMemoryPresenceStore(deps());
  rows.push(await measure("memory", mem, [], requestId));
  await mem.close();
}
const redis = await startRedis();
const cluster = await startRedisCluster({ masters: 3 });
try {
  for (const requestId of [false, true]) {
    const store = await createRedisPresenceStore({ url: redis.url, prefix: `b${randomBytes(3).toString("hex")}`, commandTimeoutMs: 5_000, connectTimeoutMs: 10_000, scopeShards: 16 }, deps());
    rows.push(await measure("redis", store, [redis.client()], requestId));
    await store.close();
    const seeds = cluster.seeds.split(",");
    const cstore = await createRedisPresenceStore({ clusterSeeds: seeds, prefix: `b${randomBytes(3).toString("hex")}`, commandTimeoutMs: 5_000, connectTimeoutMs: 10_000, scopeShards: 16 }, deps());
    rows.push(await measure("redis-cluster", cstore, cluster.nodes.map((n) => n.client()), requestId));
    await cstore.close();
  }
} finally {
  await redis.stop();
  await cluster.stop();
}
const memoryCpu = (requestId: boolean) => rows.find((r) => r.store === "memory" && r.requestId === requestId)!.nodeCpuUsPerJoin;
const result: Row[] = rows.map((r) => ({ ...r, ratioToMemory: r.store === "memory" ? null : r.nodeCpuUsPerJoin / memoryCpu(r.requestId) }));
const f = (v: number | null, d = 0) => (v === null ? "–" : v.toFixed(d));
console.log(`store join: ${JOINS} first Joins (new session, new room), ${INFLIGHT} in flight, quota ${QUOTA_MODE}, Node ${process.version}`);
console.log("store          request id  joins/s  Node CPU µs/join  ×memory  Redis CPU µs/join  Redis calls/join");
for (const r of result) {
  const total = r.sentPerJoin ? Object.values(r.sentPerJoin).reduce((a, b) => a + b, 0) : null;
  if (r.sentPerJoin) console.log(`  sent per Join: ${f(total, 2)} (${Object.entries(r.sentPerJoin).map(([k, v]) => `${k} ${v}`).join(", ")})`);
  console.log(`${r.store.padEnd(15)}${String(r.requestId).padEnd(12)}${f(r.joinsPerSecond).padStart(7)}  ${f(r.nodeCpuUsPerJoin, 1).padStart(16)}  ${f(r.ratioToMemory, 2).padStart(7)}  ${f(r.redisCpuUsPerJoin, 1).padStart(17)}  ${f(r.redisCommandsPerJoin, 2).padStart(19)}`);
}
const out = outIndex >= 0 ? process.argv[outIndex + 1]! : `bench/results/store-join-${new Date().toISOString().slice(0, 10)}.json`;
mkdirSync("bench/results", { recursive: true });
writeFileSync(out, JSON.stringify({ benchmark: "store-join", joins: JOINS, inflight: INFLIGHT, quota: QUOTA_MODE, node: process.version, rows: result }, null, 2));
console.log(`written ${out}`);
