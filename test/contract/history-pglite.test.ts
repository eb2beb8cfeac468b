import { loadConfig } from "../../src/config.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { createSqlHistoryStore } from "../../src/history/sql/sql-history-store.js";
import { createPgliteClient } from "../../src/history/sql/pglite-client.js";
import { LATEST_VERSION, migrate } from "../../src/history/sql/migrations.js";
import type { SqlClient } from "../../src/history/sql/sql-client.js";
import { historyStoreContract } from "./history-store.contract.js";

/**
 * The HistoryStore contract on the embedded default: PGlite in memory. One instance for the file
 * (its start takes 2–3 s and ~450 MB): each test starts from truncated tables.
 */
let db: SqlClient;
beforeAll(async () => {
  db = await createPgliteClient({ sharedBuffersMb: loadConfig({}).history.embeddedSharedBuffersMb });
  await migrate(db);
}, 60_000);
afterAll(async () => {
  await db?.close();
});

historyStoreContract("PGlite (embedded)", async () => {
  await db.exec("TRUNCATE presence.activity, presence.user_status RESTART IDENTITY");
  return createSqlHistoryStore(db, { clock: systemClock });
});

describe("history schema migrations on PGlite", () => {
  test("applied once; a second run applies nothing", async () => {
    expect(await migrate(db)).toEqual({ applied: [], version: LATEST_VERSION });
    expect(await migrate(db, "verify")).toEqual({ applied: [], version: LATEST_VERSION });
  });
});
