/**
 * Session heartbeats per second into one node (issue 14, not a test): unary Heartbeat (64 calls in
 * flight) against HeartbeatBatch (1,000 sessions per call, 4 calls in flight) and against the Track
 * stream (`set_activity` of tracked keys, 256 requests in flight: the stream's own liveness needs no
 * heartbeat at all, this is the per-presence message rate), with the memory store and a local
 * Redis, in one run. The server is `src/main.ts` in its own process; the load comes from this
 * process over gRPC (connect-node, h2c). Server CPU per heartbeat is measured from /proc, so it
 * holds even when the generator or the rest of the machine is the limit.
 *
 *   npm run bench:backends                      CI-sized: 10,000 sessions, 5 s per phase
 *   npm run bench:backends -- --duration 15 --sessions 20000 --stores memory
 *
 * Prints a table and writes bench/results/backends-<date>.json.
 */
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BackendService } from "../gen/presence/v1/backend_pb.js";
import { PresenceService } from "../gen/presence/v1/presence_pb.js";
import { Activity } from "../gen/presence/v1/types_pb.js";
import { startRedis } from "../test/support/redis-harness.js";
import { signTestToken, TEST_SECRET } from "../test/support/tokens.js";
import { trackClient } from "../test/support/track-client.js";
import { startBenchServer } from "./grpc/server.js";
import { cpuSeconds } from "./lib/proc-stats.js";
import { fmt, isoStamp, table } from "./lib/format.js";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const storesArg = process.argv.indexOf("--stores") >= 0 ? process.argv[process.argv.indexOf("--stores") + 1]!.split(",") : ["memory", "redis"];
const SESSIONS = arg("sessions", 10_000);
const DURATION_S = arg("duration", 5);
const BATCH = 1_000;

interface Row {
  store: string;
  method: string;
  heartbeatsPerSec: number;
  serverCpuUsPerHeartbeat: number;
  errors: number;
}

async function timed(pid: number, run: (deadline: number) => Promise<{ count: number; errors: number }>) {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const { count, errors } = await run(t0 + DURATION_S * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  return { perSec: count / seconds, cpuUs: (cpu * 1e6) / Math.max(1, count), errors };
}

async function benchStore(store: string): Promise<Row[]> {
  const redis = store === "redis" ? await startRedis() : undefined;
  const env: Record<string, string> = {
    PRESENCE_SESSION_TTL_MS: "600000",
    PRESENCE_HEARTBEAT_INTERVAL_MS: "300000",
    PRESENCE_TRACK_MAX_MESSAGES_PER_SEC: "1000000",
    PRESENCE_TRACK_BURST: "1000000",
    PRESENCE_MAX_REQUEST_BYTES: "1048576",
    ...(redis ? { PRESENCE_REDIS_URL: redis.url } : {}),
  };
  const server = await startBenchServer(env, null, false);
  const pid = server.node.pid;
  const token = await signTestToken(TEST_SECRET, { sub: "bench-backend", role: "service" });
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createGrpcTransport({ baseUrl: server.node.rpcUrl, interceptors: [bearer] });
  const presence = createClient(PresenceService, transport);
  const backend = createClient(BackendService, transport);
  const rows: Row[] = [];
  try {
    // Sessions made with Join (on behalf of users), 100 per room.
    const ids: string[] = [];
    for (let i = 0; i < SESSIONS; i += 500) {
      const joined = await Promise.all(
        Array.from({ length: Math.min(500, SESSIONS - i) }, (_, j) => presence.join({ room: `bench/hb/${(i + j) % (SESSIONS / 100)}`, onBehalfOf: { userId: `u${i + j}` } })),
      );
      ids.push(...joined.map((r) => r.session!.sessionId));
    }

    const unary = await timed(pid, async (deadline) => {
      let count = 0;
      let errors = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (performance.now() < deadline) {
            const sessionId = ids[next++ % ids.length]!;
            await presence.heartbeat({ sessionId }).then(() => count++, () => errors++);
          }
        }),
      );
      return { count, errors };
    });
    rows.push({ store, method: "unary Heartbeat (64 in flight)", heartbeatsPerSec: unary.perSec, serverCpuUsPerHeartbeat: unary.cpuUs, errors: unary.errors });

    const batches = await timed(pid, async (deadline) => {
      let count = 0;
      let errors = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (performance.now() < deadline) {
            const start = (next++ * BATCH) % ids.length;
            const res = await backend.heartbeatBatch({ heartbeats: ids.slice(start, start + BATCH).map((sessionId) => ({ sessionId })) });
            for (const r of res.results) r.result.case === "lease" ? count++ : errors++;
          }
        }),
      );
      return { count, errors };
    });
    rows.push({ store, method: `HeartbeatBatch (${BATCH}/call, 4 in flight)`, heartbeatsPerSec: batches.perSec, serverCpuUsPerHeartbeat: batches.cpuUs, errors: batches.errors });

    // Track: one stream holding SESSIONS presences; then set_activity at the stream's in-flight cap.
    const stream = trackClient(server.node.rpcUrl, token);
    await stream.open();
    for (let i = 0; i < SESSIONS; i += 1_000) {
      await Promise.all(
        Array.from({ length: Math.min(1_000, SESSIONS - i) }, (_, j) =>
          stream.send({ case: "track", value: { key: `k${i + j}`, room: `bench/track/${(i + j) % (SESSIONS / 100)}`, user: { userId: `t${i + j}` } } }),
        ),
      );
    }
    const track = await timed(pid, async (deadline) => {
      let count = 0;
      let errors = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          while (performance.now() < deadline) {
            const key = `k${next++ % SESSIONS}`;
            await stream.send({ case: "setActivity", value: { key, activity: Activity.ACTIVE } }).then(() => count++, () => errors++);
          }
        }),
      );
      return { count, errors };
    });
    rows.push({ store, method: "Track set_activity (256 in flight, one stream)", heartbeatsPerSec: track.perSec, serverCpuUsPerHeartbeat: track.cpuUs, errors: track.errors });
    stream.abort();
  } finally {
    await server.stop();
    await redis?.stop();
  }
  return rows;
}

const rows: Row[] = [];
for (const store of storesArg) rows.push(...(await benchStore(store)));
console.log(
  table([
    ["store", "method", "session heartbeats/s", "server CPU µs per heartbeat", "errors"],
    ...rows.map((r): [string, ...string[]] => [r.store, r.method, fmt(r.heartbeatsPerSec), fmt(r.serverCpuUsPerHeartbeat, 1), String(r.errors)]),
  ]),
);
const dir = fileURLToPath(new URL("./results/", import.meta.url));
mkdirSync(dir, { recursive: true });
const file = `${dir}backends-${isoStamp(new Date())}.json`;
writeFileSync(file, JSON.stringify({ sessions: SESSIONS, durationS: DURATION_S, rows }, null, 2));
console.log(`wrote ${file}`);
process.exit(0);
