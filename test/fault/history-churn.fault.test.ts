import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loggedEvents, percentile, recordedRows, startChurn, type LoggedEvent } from "../support/history-churn.js";
import { closeAll } from "../support/node-fault-kit.js";
import { startNode, stopAllNodes, type NodeProcess } from "../support/node-process.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { sleep } from "../support/processes.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";

/*
 * F-H1 (issue 13): two nodes on one Redis record the activity log in one PostgreSQL while clients
 * churn (joins, leaves, heartbeats, sessions abandoned until they time out), and one node is
 * killed with SIGKILL right after a burst of joins through it, so its write queue holds rows it
 * never writes (node A writes every 10 s; it dies after about 3.5 s). Afterwards every session
 * is abandoned, the survivor reaps them all, and the test compares the log with the ground truth,
 * the rooms' own event logs replayed from version 1: every committed join and leave (and anonymous
 * change) is in the activity log exactly once, with its kind, connection and reason; per room,
 * versions grow with time; timeouts carry reason `timeout`; rows the killed node never wrote were
 * recorded by the survivor's repair from the rooms' logs (`recovered`), and the rest name the node
 * that committed them. About 25 s.
 */
const ROOMS = ["/h/a", "/h/b", "/h/c", "/h/d"] as const;
const ENV = {
  PRESENCE_SESSION_TTL_MS: "1500",
  PRESENCE_HEARTBEAT_INTERVAL_MS: "300",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_HISTORY: "postgres",
  PRESENCE_HISTORY_FLUSH_MS: "500",
  PRESENCE_HISTORY_REPAIR_INTERVAL_MS: "1000",
  PRESENCE_HISTORY_REPAIR_SETTLE_MS: "1000",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "2000",
};

let redis: RedisInstance;
let pg: PostgresInstance;
let dbUrl: string;
beforeAll(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  dbUrl = await pg.createDatabase();
});
afterAll(async () => {
  closeAll();
  await stopAllNodes();
  await Promise.all([redis?.stop(), pg?.stop()]);
});

describe("F-H1 activity log after churn on two nodes, one killed with SIGKILL mid-batch", () => {
  it("records every committed join and leave exactly once, in version order, timeouts attributed", async () => {
    const env = { ...ENV, PRESENCE_REDIS_URL: redis.url, PRESENCE_POSTGRES_URL: dbUrl };
    // Node A writes only every 10 s (or 1,000 rows): the burst and whatever it committed since its last write are queued when it dies.
    const [a, b] = (await Promise.all([
      startNode({ ...env, PRESENCE_NODE_ID: "node-a", PRESENCE_HISTORY_FLUSH_MS: "10000", PRESENCE_HISTORY_BATCH_ROWS: "1000" }),
      startNode({ ...env, PRESENCE_NODE_ID: "node-b" }),
    ])) as [NodeProcess, NodeProcess];
    let alive = [a.rpcUrl, b.rpcUrl];
    const churn = await startChurn({ nodes: () => alive, rooms: ROOMS, users: 8, intervalMs: 25, heartbeatMs: 300 });
    await sleep(3_000);
    // A burst through node A, then SIGKILL: its queue holds these rows (flush every 500 ms).
    await churn.burst(a.rpcUrl, 30);
    alive = [b.rpcUrl];
    await a.kill9();
    const killedAt = Date.now();
    await sleep(3_000);
    await churn.stop({ abandon: true });

    // Quiescence: every session timed out and was reaped by B; then B's writer and repair run.
    const pool = pg.pool(dbUrl);
    const deadline = Date.now() + 20_000;
    let truth: LoggedEvent[] = [];
    for (;;) {
      truth = (await Promise.all(ROOMS.map((r) => loggedEvents(b.rpcUrl, r)))).flat();
      const rows = await recordedRows(pool, ROOMS);
      const empty = (await Promise.all(ROOMS.map(async (r) => (await loggedEvents(b.rpcUrl, r)).at(-1)))).every((e) => e === undefined || e.timeMs < Date.now() - 1_500);
      if (empty && rows.length === truth.length) break;
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    const rows = await recordedRows(pool, ROOMS);
    const key = (x: { room: string; epoch: string; version: number }) => `${x.room} ${x.epoch} ${x.version}`;
    const recorded = new Map<string, (typeof rows)[number][]>();
    for (const r of rows) recorded.set(key(r), [...(recorded.get(key(r)) ?? []), r]);

    const missing = truth.filter((t) => !recorded.has(key(t))).map(key);
    const duplicated = [...recorded].filter(([, rs]) => rs.length > 1).map(([k]) => k);
    const extra = rows.filter((r) => !truth.some((t) => key(t) === key(r))).map(key);
    const wrong = truth
      .map((t) => [t, recorded.get(key(t))?.[0]] as const)
      .filter(([t, r]) => r && (r.kind !== t.kind || r.connection_id !== t.connectionId || r.reason !== t.reason))
      .map(([t, r]) => `${key(t)}: logged ${t.kind}/${t.connectionId}/${t.reason}, recorded ${r!.kind}/${r!.connection_id}/${r!.reason}`);
    const outOfOrder = ROOMS.flatMap((room) => {
      const rs = rows.filter((r) => r.room === room);
      return rs.filter((r, i) => i > 0 && rs[i - 1]!.epoch === r.epoch && rs[i - 1]!.at_ms > r.at_ms).map(key);
    });
    const recoveredRows = rows.filter((r) => r.recovered);
    const timeouts = rows.filter((r) => r.kind === "leave" && r.reason === "timeout");
    const byNode = (n: string) => rows.filter((r) => r.node_id === n).length;
    console.log(
      `F-H1: ${truth.length} committed membership events in ${ROOMS.length} rooms, ${rows.length} recorded ` +
        `(node-a ${byNode("node-a")}, node-b ${byNode("node-b")}, recovered from the rooms' logs ${recoveredRows.length}); ` +
        `${timeouts.length} timeouts; joins p50 ${percentile(churn.joins.map((j) => j.ms), 50).toFixed(1)} ms; ${churn.errors} churn calls failed (the killed node's)`,
    );
    expect({ missing, duplicated, extra, wrong, outOfOrder }).toEqual({ missing: [], duplicated: [], extra: [], wrong: [], outOfOrder: [] });
    expect(truth.length).toBeGreaterThan(100);
    // Everything node A committed died in its queue and was recovered; everything else names its node.
    expect(recoveredRows.length).toBeGreaterThanOrEqual(30);
    expect(byNode("node-a")).toBe(0);
    expect(rows.filter((r) => !r.recovered && r.node_id !== "node-a" && r.node_id !== "node-b")).toEqual([]);
    // Timeouts after the kill were committed (reaped) by the survivor.
    expect(timeouts.length).toBeGreaterThan(0);
    expect(timeouts.filter((r) => !r.recovered && r.at_ms > killedAt && r.node_id !== "node-b")).toEqual([]);
  }, 90_000);
});
