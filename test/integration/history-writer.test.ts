import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ActivityRecord } from "../../src/core/activity.js";
import { systemClock } from "../../src/core/clock.js";
import { createHistoryWriter, type HistoryWriterOptions } from "../../src/history/history-writer.js";
import type { HistoryStore } from "../../src/history/history-store.js";
import { createPgClient } from "../../src/history/sql/pg-client.js";
import { migrate } from "../../src/history/sql/migrations.js";
import { createSqlHistoryStore } from "../../src/history/sql/sql-history-store.js";
import { row } from "../support/history-fixtures.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { sleep } from "../support/processes.js";

/**
 * The history write queue against a real PostgreSQL: batches by size and by age, one write in
 * flight, retries while the server is down with every row stored once when it is back, and a
 * bounded queue whose overflow is counted and recorded as one gap row when writing resumes.
 */
let pg: PostgresInstance;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  for (const c of closers) await c().catch(() => {});
  await pg?.stop();
});

async function setup(over: Partial<HistoryWriterOptions> = {}) {
  const client = createPgClient({ url: await pg.createDatabase(), poolSize: 2, connectTimeoutMs: 1_000, statementTimeoutMs: 5_000 });
  closers.push(() => client.close());
  await migrate(client);
  const store: HistoryStore = createSqlHistoryStore(client, { clock: systemClock });
  const batches: number[] = [];
  const drops: number[] = [];
  let failures = 0;
  const writer = createHistoryWriter({
    store: () => store,
    clock: systemClock,
    nodeId: "n1",
    bootId: "b1",
    batchSize: 100,
    flushIntervalMs: 200,
    maxQueueRows: 10_000,
    retryMaxMs: 200,
    observer: { written: (n) => batches.push(n), dropped: (n) => drops.push(n), failed: () => failures++ },
    ...over,
  });
  const stored = async () => (await store.listActivity({ sinceMs: 0, untilMs: 1e15, kinds: [], includeInvisible: true, newestFirst: false }, undefined, 100_000)).rows;
  return { store, writer, batches, drops, failures: () => failures, stored };
}

async function until(ok: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

const rows = (n: number, from = 0): ActivityRecord[] =>
  Array.from({ length: n }, (_, i) => row({ key: `k${from + i}`, timeMs: Date.now(), kind: "status", userId: `u${from + i}`, reason: "online" }));

describe("history writer on PostgreSQL", () => {
  test("full batches go at once; a partial batch waits for the flush interval", async () => {
    const { writer, batches, stored } = await setup({ flushIntervalMs: 2_000 });
    const start = Date.now();
    for (const r of rows(250)) writer.record(r);
    await until(() => batches.length === 2);
    expect(writer.depth()).toBe(50);
    await until(() => batches.length === 3);
    expect(Date.now() - start).toBeGreaterThanOrEqual(1_990);
    expect(batches).toEqual([100, 100, 50]);
    expect((await stored()).map((r) => r.key)).toEqual(rows(250).map((r) => r.key));
  });

  test("PostgreSQL down: presence keeps recording, the queue holds the rows, every row is stored once after the restart, no gap row", async () => {
    const { writer, failures, stored, drops } = await setup();
    for (const r of rows(30)) writer.record(r);
    await writer.flush();
    await pg.halt();
    try {
      for (const r of rows(150, 30)) writer.record(r);
      await sleep(700);
      expect(failures()).toBeGreaterThan(0);
      expect(writer.depth()).toBe(150);
    } finally {
      await pg.start();
    }
    await writer.flush();
    const got = await stored();
    expect(got.map((r) => r.key)).toEqual(rows(180).map((r) => r.key));
    expect(got.some((r) => r.kind === "gap")).toBe(false);
    expect(drops).toEqual([]);
  });

  test("a full queue drops new rows, counts them, and records one gap row when writing resumes", async () => {
    const { writer, stored, drops } = await setup({ maxQueueRows: 40, batchSize: 10 });
    await pg.halt();
    const first = Date.now();
    try {
      for (const r of rows(100)) writer.record(r);
      expect(writer.depth()).toBe(40);
      expect(drops.reduce((a, b) => a + b, 0)).toBe(60);
    } finally {
      await pg.start();
    }
    await writer.flush();
    await sleep(400); // the gap row goes in the next batch
    const got = await stored();
    const gaps = got.filter((r) => r.kind === "gap");
    expect(got.filter((r) => r.kind === "status").map((r) => r.key)).toEqual(rows(40).map((r) => r.key));
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ reason: "overflow", nodeId: "n1", detail: { dropped: 60 } });
    expect(gaps[0]!.timeMs).toBeGreaterThanOrEqual(first - 5);
    expect(Number(gaps[0]!.detail.untilMs)).toBeGreaterThanOrEqual(gaps[0]!.timeMs);
  });

  test("rows already stored (a batch whose answer was lost) are not duplicated when written again", async () => {
    const { writer, store, stored } = await setup();
    await store.write(rows(60));
    for (const r of rows(100)) writer.record(r);
    await writer.flush();
    expect(await stored()).toHaveLength(100);
  });

  test("close writes what is queued before the deadline and reports what it could not write", async () => {
    const a = await setup();
    for (const r of rows(120)) a.writer.record(r);
    expect(await a.writer.close(5_000)).toEqual({ unwritten: 0 });
    expect(await a.stored()).toHaveLength(120);
    const b = await setup();
    await pg.halt();
    try {
      for (const r of rows(5)) b.writer.record(r);
      expect(await b.writer.close(300)).toEqual({ unwritten: 5 });
      expect(b.drops).toEqual([5]);
    } finally {
      await pg.start();
    }
  });
});
