import type { SqlClient, SqlQuery } from "./sql-client.js";

/**
 * SqlClient over PGlite, PostgreSQL compiled to WebAssembly, running inside this process: the
 * embedded history of `npm start` (no install, same SQL as production). In memory when `dataDir`
 * is undefined (the log ends with the process), else in that directory (kept across restarts).
 *
 * Measured on the 2-core development machine (PGlite 0.5.16, Node 20): start 2.0–2.6 s in memory
 * or on a new directory, 0.2 s on an existing one; about 78,000 rows/s in 100-row batches; memory
 * about 750 MB RSS during start-up and about 460 MB once the start-up garbage is collected (the
 * WebAssembly heap of PostgreSQL). The app starts it off the ready path (see start-history.ts);
 * its start blocks this process's event loop for up to about 0.3 s at a time (WebAssembly
 * compilation; measured with monitorEventLoopDelay on a loaded machine), once, at start-up.
 *
 * PGlite is one connection: statements run one at a time, a transaction holds the database, and
 * `session` is simply that connection (advisory locks are trivially this process's).
 */
export async function createPgliteClient(o: { dataDir?: string }): Promise<SqlClient> {
  // Loaded only when the embedded history is used: PostgreSQL-backed and disabled history never pay for it.
  const { PGlite } = await import("@electric-sql/pglite");
  const db = await PGlite.create(o.dataDir === undefined ? {} : { dataDir: o.dataDir });
  const on = (q: { query: typeof db.query; exec: typeof db.exec }): SqlQuery => ({
    async query<R>(text: string, params?: unknown[]) {
      return (await q.query<R>(text, params)).rows;
    },
    async exec(text: string) {
      await q.exec(text);
    },
  });
  return {
    kind: "pglite",
    ...on(db),
    transaction: (fn) => db.transaction((tx) => fn(on(tx as unknown as typeof db))),
    session: (fn) => fn(on(db)),
    close: () => db.close(),
  };
}
