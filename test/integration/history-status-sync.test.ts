import { loadConfig } from "../../src/config.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import type { UserSettingsChange } from "../../src/core/commit.js";
import { durableChange } from "../../src/core/durable-status.js";
import { unknownUser, type UserStatusRecord } from "../../src/core/user-status.js";
import type { DurableUserStatus, HistoryStore } from "../../src/history/history-store.js";
import { migrate } from "../../src/history/sql/migrations.js";
import { createPgClient } from "../../src/history/sql/pg-client.js";
import { createPgliteClient } from "../../src/history/sql/pglite-client.js";
import type { SqlClient } from "../../src/history/sql/sql-client.js";
import { createSqlHistoryStore } from "../../src/history/sql/sql-history-store.js";
import { createStatusSync } from "../../src/history/status-sync.js";
import { startPostgres } from "../support/postgres-harness.js";

/**
 * The durable user status of one node, on the embedded PGlite: write-through coalesced per user,
 * the restore cache (loaded, kept current by local commits, merged with changes made while it
 * reloads), a blank record after a data loss never erasing durable flags, un-hiding written through
 * at once, and the lookup bounded
 * in time against a frozen PostgreSQL.
 */
let db: SqlClient;
let store: HistoryStore;
beforeAll(async () => {
  db = await createPgliteClient({ sharedBuffersMb: loadConfig({}).history.embeddedSharedBuffersMb });
  await migrate(db);
  store = createSqlHistoryStore(db, { clock: systemClock });
}, 60_000);
afterAll(async () => {
  await db?.close();
});

const st = (userId: string, updatedMs: number, over: Partial<DurableUserStatus> = {}): DurableUserStatus => ({
  userId,
  lastSeenMs: 1_000,
  visibleLastSeenMs: 1_000,
  customStatus: "",
  invisible: false,
  updatedMs,
  customStatusMs: 0,
  invisibleMs: 0,
  ...over,
});
/** A status commit: a SetStatus (with what it set) or a session's change (none). */
const commit = (userId: string, timeMs: number, record: Partial<UserStatusRecord>, settings?: UserSettingsChange) =>
  durableChange({ ...unknownUser(userId), state: "online", lastSeenMs: 1_000, visibleLastSeenMs: 1_000, ...record }, timeMs, settings);

describe("status sync", () => {
  it("writes every change through (folded per user), caches flagged users, keeps flags against a blank record, writes un-hiding at once", async () => {
    const errors: unknown[] = [];
    const sync = createStatusSync({ store: () => store, clock: systemClock, flushMs: 10, maxQueueUsers: 100, cacheUsers: 100, timeoutMs: 1_000, onError: (e) => errors.push(e), onDropped: () => {} });
    sync.committed(commit("ana", 1, { customStatus: "first" }, { customStatus: "first" }));
    sync.committed(commit("ana", 2, { customStatus: "lunch" }, { customStatus: "lunch" }));
    sync.committed(commit("eve", 3, { invisible: true, visibleLastSeenMs: 900, customStatus: "secret" }, { invisible: true, customStatus: "secret" }));
    await sync.writer.flush();
    expect((await sync.load(["ana", "eve", "nobody"])).map((s) => [s.userId, s.customStatus, s.invisible]).sort()).toEqual([
      ["ana", "lunch", false],
      ["eve", "secret", true],
    ]);
    expect(sync.restoreOf("eve")).toEqual({ lastSeenMs: 1_000, visibleLastSeenMs: 900, customStatus: "secret", invisible: true, changedAtMs: 3 });
    expect(sync.restoreOf("nobody")).toBeUndefined();
    // The store lost its data and re-created eve's record without her flags (no restore reached
    // it), then she left: the blank record's commits never erase them, her last seen moves on.
    sync.committed(commit("eve", 4, { lastSeenMs: 0, visibleLastSeenMs: 0 }));
    sync.committed(commit("eve", 5, { state: "offline", lastSeenMs: 5_000, visibleLastSeenMs: 5_000 }));
    await sync.writer.flush();
    expect((await sync.load(["eve"]))[0]).toMatchObject({ invisible: true, customStatus: "secret", lastSeenMs: 5_000, visibleLastSeenMs: 900 });
    expect(sync.hint("eve")).toMatchObject({ invisible: true, lastSeenMs: 5_000, visibleLastSeenMs: 900 });
    // She turns visible right away, before any other change (her record came back invisible): written through at once.
    sync.committed(commit("eve", 6, { customStatus: "secret" }, { invisible: false }));
    await sync.writer.flush();
    expect((await sync.load(["eve"]))[0]).toMatchObject({ invisible: false, customStatus: "secret", visibleLastSeenMs: 5_000, invisibleMs: 6 });
    sync.committed(commit("eve", 7, {}, { customStatus: "" }));
    expect(sync.hint("eve")).toBeUndefined(); // nothing left to restore
    expect(errors).toEqual([]);
  });

  it("reloads the cache from the database, keeping changes committed while it reloads", async () => {
    await store.saveUserStatus([st("zed", 10, { invisible: true, invisibleMs: 10 }), st("kim", 10, { customStatus: "busy", customStatusMs: 10 })]);
    const sync = createStatusSync({ store: () => store, clock: systemClock, flushMs: 10, maxQueueUsers: 100, cacheUsers: 100, timeoutMs: 1_000, onError: () => {}, onDropped: () => {} });
    const reload = sync.refresh();
    sync.committed(commit("zed", 20, {}, { invisible: false })); // un-hidden here while the query runs
    await reload;
    expect(sync.hint("zed")).toBeUndefined();
    expect(sync.hint("kim")?.customStatus).toBe("busy");
  });

  it("answers [] within its timeout when the database does not answer (PostgreSQL frozen with SIGSTOP)", async () => {
    const pg = await startPostgres();
    const url = await pg.createDatabase();
    const setup = createPgClient({ url, poolSize: 1, connectTimeoutMs: 10_000, statementTimeoutMs: 10_000 });
    await migrate(setup);
    await createSqlHistoryStore(setup, { clock: systemClock }).saveUserStatus([st("ana", 1, { customStatus: "here" })]);
    await setup.close();
    // A new pool connects only now, to a postmaster that no longer answers.
    const client = createPgClient({ url, poolSize: 1, connectTimeoutMs: 10_000, statementTimeoutMs: 10_000 });
    const sync = createStatusSync({ store: () => createSqlHistoryStore(client, { clock: systemClock }), clock: systemClock, flushMs: 10, maxQueueUsers: 100, cacheUsers: 100, timeoutMs: 50, onError: () => {}, onDropped: () => {} });
    try {
      process.kill(pg.pid, "SIGSTOP");
      try {
        const t = Date.now();
        expect(await sync.load(["ana"])).toEqual([]);
        expect(Date.now() - t).toBeLessThan(1_000);
      } finally {
        process.kill(pg.pid, "SIGCONT");
      }
      // Once it answers, the same lookup finds her.
      await new Promise((r) => setTimeout(r, 200));
      expect((await createStatusSync({ store: () => createSqlHistoryStore(client, { clock: systemClock }), clock: systemClock, flushMs: 10, maxQueueUsers: 100, cacheUsers: 100, timeoutMs: 5_000, onError: () => {}, onDropped: () => {} }).load(["ana"])).map((x) => x.customStatus)).toEqual(["here"]);
    } finally {
      await client.close().catch(() => {});
      await pg.stop();
    }
  }, 30_000);
});
