import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loggedEvents, percentile, recordedRows, startChurn, type LoggedEvent } from "../support/history-churn.js";
import { closeAll, scrapeSum } from "../support/node-fault-kit.js";
import { startNode, stopAllNodes, type NodeProcess } from "../support/node-process.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { sleep } from "../support/processes.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";

/*
 * F-H2 (issue 13): PostgreSQL, the history database, stops while two nodes serve churn on Redis.
 * Presence must not notice: Join latency during the outage is compared with the latency before it
 * (both printed). A node that waited on the database would fail its calls or wait out the
 * history's retries (500 ms apart here) while it is down; so: no churn call fails, the median stays
 * where it was (under 3× the median before + 20 ms), and at most 1% of the joins during the outage
 * take 500 ms or more (a loaded test machine gives a few slow ones either way; the p99 is printed). When PostgreSQL is back the log catches
 * up: every committed membership event once, no duplicates (retried batches are idempotent), and
 * no gap row, because the queues held everything.
 *
 * Second case: a tiny queue bound (30 rows per node) and a 5 s outage: the queues overflow, the
 * drops are counted (`presence_history_rows_dropped_total`), one gap row per overflowing node is
 * written when writing resumes, and, because the outage was shorter than the rooms' logs keep
 * events, the repair still records every dropped event (the gap row stays, saying where rows were
 * dropped on the write path). PRESENCE_TEST_PG_OUTAGE_MS sets the first outage (default 30,000, as
 * the issue asks: the test takes about 50 s).
 */
const OUTAGE_MS = Number(process.env.PRESENCE_TEST_PG_OUTAGE_MS ?? 30_000);
const ROOMS = ["/pgdown/a", "/pgdown/b", "/pgdown/c"] as const;
const ENV = {
  PRESENCE_SESSION_TTL_MS: "3000",
  PRESENCE_HEARTBEAT_INTERVAL_MS: "500",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_HISTORY: "postgres",
  PRESENCE_HISTORY_FLUSH_MS: "200",
  PRESENCE_HISTORY_RETRY_MAX_MS: "500",
  PRESENCE_HISTORY_REPAIR_INTERVAL_MS: "1000",
  PRESENCE_HISTORY_REPAIR_SETTLE_MS: "1000",
  PRESENCE_POSTGRES_CONNECT_TIMEOUT_MS: "500",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "2000",
};

let redis: RedisInstance;
let pg: PostgresInstance;
beforeAll(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
});
afterEach(async () => {
  closeAll();
  await stopAllNodes();
});
afterAll(async () => {
  await Promise.all([redis?.stop(), pg?.stop()]);
});

async function twoNodes(dbUrl: string, extra: Record<string, string> = {}): Promise<[NodeProcess, NodeProcess]> {
  const env = { ...ENV, ...extra, PRESENCE_REDIS_URL: redis.url, PRESENCE_POSTGRES_URL: dbUrl };
  const nodes = (await Promise.all([startNode({ ...env, PRESENCE_NODE_ID: "node-a" }), startNode({ ...env, PRESENCE_NODE_ID: "node-b" })])) as [NodeProcess, NodeProcess];
  for (const n of nodes) void n.exited.then((e) => exits.set(n, `${n.env.PRESENCE_NODE_ID} exited (${e.code ?? e.signal}):\n${n.logs().slice(-2_000)}`));
  return nodes;
}

/** Both nodes outlived the outage (a node that died of it is named with its last log lines, not found later as a refused fetch). */
const exits = new Map<NodeProcess, string>();
function expectAlive(...nodes: NodeProcess[]): void {
  expect(nodes.map((n) => exits.get(n) ?? "running")).toEqual(nodes.map(() => "running"));
}

/** Waits until the log holds as many rows as the rooms' logs have events (or 30 s), then compares. */
async function compareWithTruth(dbUrl: string, rpcUrl: string) {
  const pool = pg.pool(dbUrl);
  const deadline = Date.now() + 30_000;
  let truth: LoggedEvent[] = [];
  let rows = await recordedRows(pool, ROOMS);
  for (;;) {
    truth = (await Promise.all(ROOMS.map((r) => loggedEvents(rpcUrl, r)))).flat();
    rows = await recordedRows(pool, ROOMS);
    // Both are read again each time: a call in flight when the churn stopped may still commit.
    if ((rows.length === truth.length && truth.every((t, i) => rows[i] !== undefined)) || Date.now() > deadline) break;
    await sleep(500);
  }
  const key = (x: { room: string; epoch: string; version: number }) => `${x.room} ${x.epoch} ${x.version}`;
  const keys = rows.map(key);
  const missing = truth.map(key).filter((k) => !keys.includes(k));
  const duplicated = keys.filter((k, i) => keys.indexOf(k) !== i);
  const extra = keys.filter((k) => !truth.some((t) => key(t) === k));
  const gaps = (await pool.query("SELECT node_id, (detail->>'dropped')::int AS dropped FROM presence.activity WHERE kind = 'gap' AND reason = 'overflow' ORDER BY node_id")).rows as { node_id: string; dropped: number }[];
  return { truth, rows, missing, duplicated, extra, gaps };
}

describe("F-H2 PostgreSQL stopped during churn", () => {
  it(`presence carries on through a ${OUTAGE_MS / 1000} s outage; the log catches up with no duplicates and no gap row`, async () => {
    const dbUrl = await pg.createDatabase();
    const [a, b] = await twoNodes(dbUrl);
    const churn = await startChurn({ nodes: () => [a.rpcUrl, b.rpcUrl], rooms: ROOMS, users: 6, intervalMs: 40, heartbeatMs: 500 });
    await sleep(4_000);
    const before = churn.joins.map((j) => j.ms);
    const downAt = Date.now();
    await pg.halt();
    await sleep(OUTAGE_MS);
    const during = churn.joins.filter((j) => j.atMs > downAt + 500).map((j) => j.ms);
    const queued = (await scrapeSum(a.adminUrl, "presence_history_queue_rows")) + (await scrapeSum(b.adminUrl, "presence_history_queue_rows"));
    const failedWrites = (await scrapeSum(a.adminUrl, "presence_history_write_errors_total")) + (await scrapeSum(b.adminUrl, "presence_history_write_errors_total"));
    await pg.start();
    await sleep(2_000);
    expectAlive(a, b);
    await churn.stop({ abandon: false });
    const r = await compareWithTruth(dbUrl, b.rpcUrl);
    const [p50b, p99b, p50d, p99d] = [percentile(before, 50), percentile(before, 99), percentile(during, 50), percentile(during, 99)];
    console.log(
      `F-H2: Join latency before the outage p50 ${p50b.toFixed(1)} ms p99 ${p99b.toFixed(1)} ms (${before.length} joins); ` +
        `during it p50 ${p50d.toFixed(1)} ms p99 ${p99d.toFixed(1)} ms (${during.length} joins); ${queued} rows queued at the end of the outage, ${failedWrites} failed writes; ` +
        `${r.truth.length} events, ${r.rows.length} recorded, gap rows ${r.gaps.length}`,
    );
    expect(during.length).toBeGreaterThan(50);
    expect(churn.errors).toBe(0);
    expect(p50d).toBeLessThan(3 * p50b + 20);
    expect(during.filter((ms) => ms >= 500).length).toBeLessThanOrEqual(Math.ceil(during.length / 100));
    expect(queued).toBeGreaterThan(0);
    expect(failedWrites).toBeGreaterThan(0);
    expect({ missing: r.missing, duplicated: r.duplicated, extra: r.extra, gaps: r.gaps }).toEqual({ missing: [], duplicated: [], extra: [], gaps: [] });
    expect(r.rows.length).toBe(r.truth.length);
  }, OUTAGE_MS + 90_000);

  it("with a small queue bound the overflow is counted, a gap row names it, and the repair records the dropped events", async () => {
    const dbUrl = await pg.createDatabase();
    const [a, b] = await twoNodes(dbUrl, { PRESENCE_HISTORY_MAX_QUEUE_ROWS: "30" });
    const churn = await startChurn({ nodes: () => [a.rpcUrl, b.rpcUrl], rooms: ROOMS, users: 6, intervalMs: 20, heartbeatMs: 500 });
    await sleep(2_000);
    await pg.halt();
    await sleep(5_000);
    const dropped = (await scrapeSum(a.adminUrl, "presence_history_rows_dropped_total")) + (await scrapeSum(b.adminUrl, "presence_history_rows_dropped_total"));
    await pg.start();
    await sleep(1_000);
    expectAlive(a, b);
    await churn.stop({ abandon: false });
    const r = await compareWithTruth(dbUrl, b.rpcUrl);
    console.log(`F-H2 small queue: ${dropped} rows dropped during the outage; gap rows ${JSON.stringify(r.gaps)}; ${r.truth.length} events, ${r.rows.length} recorded after the repair`);
    expect(dropped).toBeGreaterThan(0);
    expect(r.gaps.length).toBeGreaterThanOrEqual(1);
    expect(r.gaps.reduce((n, g) => n + g.dropped, 0)).toBeGreaterThan(0);
    expect({ missing: r.missing, duplicated: r.duplicated, extra: r.extra }).toEqual({ missing: [], duplicated: [], extra: [] });
  }, 90_000);
});
