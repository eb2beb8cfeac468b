/**
 * A mass expiry through the Redis reaper alone (not a test): N sessions in rooms of 100 expire at
 * once (a node or a backend with thousands of presences gone), then one reaper pass claims them and
 * leaves their rooms with TIMEOUT. Wall time and Node CPU of that pass per
 * PRESENCE_REAPER_CONCURRENCY (buckets worked on at once; 1 = the walk one bucket after the other
 * that came before it), on a standalone Redis started on a free port. Time is a shared fake clock
 * (scripts read it), so the expiry is exact and nothing else runs.
 *
 *   npm run bench:reaper                            10,000 sessions, concurrency 1, 8 and 32
 *   npm run bench:reaper -- --sessions N --concurrency 1,8 --latency-ms 1 --out FILE
 *
 * `--latency-ms` (default 0: connected directly) adds that one-way delay between the node and Redis
 * (a TCP forwarder, test/support/tcp-forwarder.ts), as between two machines: with Redis on the same box, a pass is
 * bound by CPU, and the buckets worked on at once matter when round trips dominate.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadavg } from "node:os";
import { createFakeClock } from "../src/core/fake-clock.js";
import { createIdSource } from "../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../src/config.js";
import { createRedisPresenceStore } from "../src/store/redis/create-redis-store.js";
import { startRedis } from "../test/support/redis-harness.js";
import { startTcpForwarder } from "../test/support/tcp-forwarder.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1]!;
};
const SESSIONS = Number(arg("--sessions", "10000"));
const LEVELS = arg("--concurrency", "1,8,32").split(",").map(Number);
const OUT = arg("--out", "");
const LATENCY_MS = Number(arg("--latency-ms", "0"));
const JOIN_INFLIGHT = 64;
const TTL_MS = 60_000;

interface Row {
  concurrency: number;
  latencyMs: number;
  sessions: number;
  passMs: number;
  leavesPerSecond: number;
  nodeCpuMs: number;
  ratioToSequential: number | null;
}

const redis = await startRedis();
const link = LATENCY_MS > 0 ? await startTcpForwarder(redis.port) : null;
link?.setLatency(LATENCY_MS);
const rows: Row[] = [];
try {
  for (const concurrency of LEVELS) {
    const clock = createFakeClock(Date.now());
    const store = await createRedisPresenceStore(
      { url: link ? `redis://127.0.0.1:${link.port}` : redis.url, prefix: `b${randomBytes(4).toString("hex")}`, commandTimeoutMs: 10_000, connectTimeoutMs: 10_000, scopeShards: 16 },
      { clock, ids: createIdSource((n) => randomBytes(n)), timings: { ...DEFAULT_TIMINGS, sessionTtlMs: TTL_MS }, limits: { ...DEFAULT_LIMITS, reaperConcurrency: concurrency }, fixedTime: true },
    );
    try {
      let next = 0;
      const joiner = async () => {
        while (next < SESSIONS) {
          const i = next++;
          await store.join({ room: `room${Math.floor(i / 100)}`, ownerKey: `u:${i}`, identity: { kind: "user", user: { userId: `u${i}`, name: "Bench", avatarUrl: "", metadata: {} } }, metadata: {} });
        }
      };
      await Promise.all(Array.from({ length: JOIN_INFLIGHT }, joiner));
      clock.advance(TTL_MS + 1);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await store.reap();
      const passMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (r.expiredSessions !== SESSIONS || r.leaves !== SESSIONS) throw new Error(`one pass reaped ${r.expiredSessions} sessions / ${r.leaves} leaves of ${SESSIONS}`);
      const sequential = rows.find((x) => x.concurrency === 1);
      rows.push({
        concurrency,
        latencyMs: LATENCY_MS,
        sessions: SESSIONS,
        passMs: Math.round(passMs),
        leavesPerSecond: Math.round((SESSIONS / passMs) * 1000),
        nodeCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        ratioToSequential: sequential ? Math.round((passMs / sequential.passMs) * 100) / 100 : null,
      });
      console.log(JSON.stringify(rows.at(-1)));
    } finally {
      await store.close();
    }
  }
} finally {
  await link?.close();
  await redis.stop();
}
const load = loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`\n| concurrency | latency (ms, one way) | sessions | one pass (ms) | leaves/s | Node CPU (ms) | time vs 1 |\n|---|---|---|---|---|---|---|`);
for (const r of rows) console.log(`| ${r.concurrency} | ${r.latencyMs} | ${r.sessions} | ${r.passMs} | ${r.leavesPerSecond} | ${r.nodeCpuMs} | ${r.ratioToSequential ?? "—"} |`);
console.log(`load average ${load}`);
if (OUT) {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), load, rows }, null, 2));
}
