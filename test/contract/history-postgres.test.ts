import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { PresenceError } from "../../src/core/presence-error.js";
import { createSqlHistoryStore } from "../../src/history/sql/sql-history-store.js";
import { createPgClient } from "../../src/history/sql/pg-client.js";
import { LATEST_VERSION, migrate, MigrationError } from "../../src/history/sql/migrations.js";
import type { SqlClient } from "../../src/history/sql/sql-client.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { row } from "../support/history-fixtures.js";
import { historyStoreContract } from "./history-store.contract.js";

/** The HistoryStore contract and the migration rules on a real PostgreSQL 15 (started by the harness). */
let server: PostgresInstance;
const clients: SqlClient[] = [];
const client = (url: string) => {
  const c = createPgClient({ url, poolSize: 4, connectTimeoutMs: 2_000, statementTimeoutMs: 10_000 });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await server?.stop();
});

historyStoreContract("PostgreSQL", async () => {
  const c = client(await server.createDatabase());
  await migrate(c);
  return createSqlHistoryStore(c, { clock: systemClock });
});

describe("history schema migrations on PostgreSQL", () => {
  test("nodes starting together apply each migration once (advisory lock), later starts apply nothing", async () => {
    const url = await server.createDatabase();
    const results = await Promise.all([1, 2, 3, 4].map(() => migrate(client(url))));
    expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, 0, LATEST_VERSION]);
    expect(results.every((r) => r.version === LATEST_VERSION)).toBe(true);
    const rows = await client(url).query<{ version: number }>("SELECT version FROM presence.schema_migrations ORDER BY version");
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
    expect(await migrate(client(url))).toEqual({ applied: [], version: LATEST_VERSION });
  });

  test("verify mode refuses an unmigrated database and names the command; an edited migration stops the start", async () => {
    const url = await server.createDatabase();
    const all = Array.from({ length: LATEST_VERSION }, (_, i) => i + 1).join(", ");
    await expect(migrate(client(url), "verify")).rejects.toThrow(new RegExp(`migrations ${all} are not applied.*npm run history:migrate`));
    await migrate(client(url));
    await expect(migrate(client(url), "verify")).resolves.toEqual({ applied: [], version: LATEST_VERSION });
    await client(url).query("UPDATE presence.schema_migrations SET checksum = 'edited' WHERE version = 1");
    await expect(migrate(client(url))).rejects.toBeInstanceOf(MigrationError);
  });

  test("npm run history:migrate applies the schema ahead of a deploy; --check tells whether it is needed", async () => {
    const url = await server.createDatabase();
    const run = (...args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile(process.execPath, ["--import", "tsx", "scripts/history-migrate.ts", ...args], { cwd: fileURLToPath(new URL("../..", import.meta.url)), env: { ...process.env, PRESENCE_POSTGRES_URL: url } }, (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code) : 0, out: stdout + stderr }),
        ),
      );
    const all = Array.from({ length: LATEST_VERSION }, (_, i) => i + 1).join(", ");
    expect(await run("--check")).toMatchObject({ code: 1, out: expect.stringContaining(`migrations ${all} are not applied`) });
    expect(await run()).toMatchObject({ code: 0, out: `history schema at version ${LATEST_VERSION} (this server needs ${LATEST_VERSION}); applied now: ${all}\n` });
    expect(await run("--check")).toMatchObject({ code: 0, out: expect.stringMatching(/applied now: none/) });
  });

  test("an unreachable server is HISTORY_UNAVAILABLE; the pool reconnects when it is back", async () => {
    const url = await server.createDatabase();
    const c = client(url);
    await migrate(c);
    const store = createSqlHistoryStore(c, { clock: systemClock });
    await store.write([row({ key: "a", timeMs: 1, kind: "status" })]);
    await server.halt();
    try {
      const err = await store.write([row({ key: "b", timeMs: 2, kind: "status" })]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PresenceError);
      expect((err as PresenceError).reason).toBe("HISTORY_UNAVAILABLE");
      await expect(store.ping()).rejects.toMatchObject({ code: "unavailable" });
    } finally {
      await server.start();
    }
    await expect(store.write([row({ key: "b", timeMs: 2, kind: "status" })])).resolves.toEqual({ inserted: 1 });
  });

  test("the server going away while a connection is checked out (a task holding its advisory lock) is reported, never an unhandled 'error' that ends the process; the next call reconnects", async () => {
    const url = await server.createDatabase();
    const lost: unknown[] = [];
    // One connection: the only one there is is checked out when the server goes away (no idle pooled one to report it).
    const c = createPgClient({ url, poolSize: 1, connectTimeoutMs: 2_000, statementTimeoutMs: 10_000, onError: (e) => lost.push((e as { code?: unknown }).code) });
    clients.push(c);
    await migrate(c);
    const store = createSqlHistoryStore(c, { clock: systemClock });
    let ran = false;
    try {
      await store.exclusive("repair", async () => {
        await server.halt();
        await vi.waitFor(() => expect(lost).toContain("57P01"), { timeout: 5_000, interval: 20 });
        ran = true;
      });
    } finally {
      await server.start();
    }
    expect(ran).toBe(true);
    await expect(store.write([row({ key: "after", timeMs: 3, kind: "status" })])).resolves.toEqual({ inserted: 1 });
    await expect(store.exclusive("repair", async () => "again")).resolves.toBe("again");
  });
});
