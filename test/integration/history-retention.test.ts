import { afterAll, beforeAll, expect, test } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { durableChange } from "../../src/core/durable-status.js";
import { unknownUser } from "../../src/core/user-status.js";
import { migrate } from "../../src/history/sql/migrations.js";
import { createPgClient } from "../../src/history/sql/pg-client.js";
import { createSqlHistoryStore } from "../../src/history/sql/sql-history-store.js";
import { connectClient } from "../support/clients.js";
import { row } from "../support/history-fixtures.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { sleep } from "../support/processes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * The retention timer itself (the contract suite tests `prune` as a call): a server on a real
 * PostgreSQL with retention every second (PRESENCE_HISTORY_RETENTION_INTERVAL_MS=1000, the
 * smallest allowed), the shortest retention (1 day) and batches of 50 rows. Before the server
 * starts, the database gets 1,000 activity rows two days old, 10 rows just inside the retention,
 * and durable statuses of two users (one not seen for 40 days, beyond PRESENCE_LAST_SEEN_RETENTION_MS,
 * one seen an hour ago). While the timer runs, a client joins and leaves a room all the time.
 * Then: the old rows and the old status are gone, deleted in short transactions of at most 50 rows
 * (PostgreSQL's statement log, `log_statement=all`, shows each DELETE), counted in
 * presence_history_retention_deleted_rows_total; everything inside the retention and every row the
 * client caused meanwhile is there.
 */
const DAY = 86_400_000;
const OLD = 1_000;
const BATCH = 50;
let pg: PostgresInstance;
let server: TestServer;
let dbUrl: string;

beforeAll(async () => {
  pg = await startPostgres({ extraArgs: ["-c", "log_statement=all", "-c", "log_parameter_max_length=0"] });
  dbUrl = await pg.createDatabase();
  const c = createPgClient({ url: dbUrl, poolSize: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000 });
  await migrate(c);
  const store = createSqlHistoryStore(c, { clock: systemClock });
  const now = Date.now();
  await store.write(Array.from({ length: OLD }, (_, i) => row({ key: `old${i}`, timeMs: now - 2 * DAY + i, kind: "join", room: "/ret/old", userId: `u${i % 7}` })));
  await store.write(Array.from({ length: 10 }, (_, i) => row({ key: `recent${i}`, timeMs: now - DAY + 3_600_000 + i, kind: "join", room: "/ret/recent", userId: "u" })));
  const status = (userId: string, lastSeenMs: number) => durableChange({ ...unknownUser(userId), lastSeenMs, visibleLastSeenMs: lastSeenMs }, lastSeenMs);
  await store.saveUserStatus([status("long-gone", now - 40 * DAY), status("recent", now - 3_600_000)]);
  await c.close();
  server = await startTestServer({
    PRESENCE_HISTORY: "postgres",
    PRESENCE_POSTGRES_URL: dbUrl,
    PRESENCE_HISTORY_FLUSH_MS: "50",
    PRESENCE_HISTORY_RETENTION_MS: String(DAY),
    PRESENCE_HISTORY_RETENTION_INTERVAL_MS: "1000",
    PRESENCE_HISTORY_RETENTION_BATCH_ROWS: String(BATCH),
  });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await pg?.stop();
});

test("the retention timer deletes old activity and statuses in batches while the node keeps writing", async () => {
  await server.app.history.ready;
  const started = Date.now();
  const pool = pg.pool(dbUrl);
  const count = async (room: string) => Number((await pool.query("SELECT count(*)::int AS n FROM presence.activity WHERE room = $1", [room])).rows[0].n);
  const client = connectClient(server.baseUrl, await signTestToken(TEST_SECRET, { sub: "writer" }));
  let joins = 0;
  let stop = false;
  const churn = (async () => {
    while (!stop) {
      const j = await client.join({ room: "/ret/live", metadata: {} });
      joins++;
      await client.leave({ sessionId: j.session!.sessionId, room: "/ret/live" });
      await sleep(20);
    }
  })();
  const deadline = Date.now() + 20_000;
  while ((await count("/ret/old")) > 0 && Date.now() < deadline) await sleep(200);
  // Writes go on across at least one more run of the timer.
  await sleep(1_200);
  stop = true;
  await churn;
  await server.app.history.writer.flush();

  expect(await count("/ret/old")).toBe(0);
  expect(await count("/ret/recent")).toBe(10);
  expect(joins).toBeGreaterThan(10);
  const live = (await pool.query("SELECT kind, count(*)::int AS n FROM presence.activity WHERE room = '/ret/live' AND user_id = 'writer' GROUP BY kind ORDER BY kind")).rows;
  expect(live).toEqual([
    { kind: "join", n: joins },
    { kind: "leave", n: joins },
  ]);
  const statuses = (await pool.query("SELECT user_id FROM presence.user_status WHERE user_id IN ('long-gone', 'recent')")).rows.map((r: { user_id: string }) => r.user_id);
  expect(statuses).toEqual(["recent"]);
  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`presence_history_retention_deleted_rows_total\\{table="activity"\\} ${OLD}\\b`));
  expect(metrics).toMatch(/presence_history_retention_deleted_rows_total\{table="user_status"\} 1\b/);
  // One short transaction per batch: OLD / BATCH full batches and a last, short one (later runs add
  // one DELETE each, finding nothing; far fewer runs than batches happened in this test).
  const deletes = pg.logs().split("\n").filter((l) => l.includes("DELETE FROM presence.activity WHERE seq IN"));
  const runs = Math.ceil((Date.now() - started) / 1_000) + 1;
  expect(runs).toBeLessThan(OLD / BATCH);
  expect(deletes.length).toBeGreaterThanOrEqual(OLD / BATCH + 1);
  client.close?.();
});
