import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { SqlClient, SqlQuery } from "./sql-client.js";

/**
 * SqlClient over PGlite, PostgreSQL compiled to WebAssembly: the embedded history of `npm start`
 * (no install, same SQL as production). In memory when `dataDir` is undefined (the log ends with
 * the process), else in that directory (kept across restarts).
 *
 * PGlite runs in a worker thread (pglite-worker.ts): its start (initdb in WebAssembly) and its
 * statements run synchronously on the thread that owns it, 2–13 s of CPU at start-up on this
 * 2-core machine depending on load, with pauses of up to 0.9 s, which the server's event loop must
 * not take. Measured (PGlite 0.5.16, Node 20): start 2–3 s on a quiet machine in memory or on a new
 * directory, 0.2 s on an existing one; about 78,000 rows/s in 100-row batches; about 460 MB RSS
 * once started (the WebAssembly heap), about 750 MB during start-up.
 *
 * PGlite is one connection. Statements of different callers may run in any order; a transaction
 * holds the connection from BEGIN to COMMIT (other statements wait for it here, so none runs inside
 * someone else's transaction); `session` is simply that connection (advisory locks are trivially
 * this process's).
 */
export async function createPgliteClient(o: { dataDir?: string; sharedBuffersMb: number }): Promise<SqlClient> {
  const self = fileURLToPath(import.meta.url);
  const script = new URL(`./pglite-worker${extname(self)}`, import.meta.url);
  // From the TypeScript sources (tsx, vitest) the worker registers tsx's loader first; built JavaScript needs none.
  const worker =
    extname(self) === ".ts"
      ? new Worker(`import("tsx/esm/api").then((t) => { t.register(); return import(${JSON.stringify(script.href)}); });`, { eval: true, workerData: { dataDir: o.dataDir, sharedBuffersMb: o.sharedBuffersMb } })
      : new Worker(script, { workerData: { dataDir: o.dataDir, sharedBuffersMb: o.sharedBuffersMb } });
  worker.unref();
  let next = 1;
  const pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();
  let failed: Error | undefined;
  const fail = (e: Error) => {
    failed ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on("message", (m: { id: number; rows?: unknown[]; error?: { message: string; code?: string } }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {}));
    else p.resolve(m.rows ?? []);
  });
  worker.on("error", (e) => fail(e));
  worker.on("exit", (code) => fail(Object.assign(new Error(`the embedded history database stopped (worker exit ${code})`), { code: "57P01" })));
  const call = (msg: { op: "query"; text: string; params?: unknown[] } | { op: "exec"; text: string } | { op: "close" }, id = next++): Promise<unknown[]> =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed);
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...msg });
    });
  // The worker answers id 0 once PGlite has started (or failed to).
  await new Promise<unknown[]>((resolve, reject) => pending.set(0, { resolve, reject }));

  // A transaction holds the one connection: statements of others wait until it ends.
  let held: Promise<void> = Promise.resolve();
  const direct: SqlQuery = {
    async query<R>(text: string, params?: unknown[]) {
      return (await call({ op: "query", text, params })) as R[];
    },
    async exec(text: string) {
      await call({ op: "exec", text });
    },
  };
  // Waits until no transaction holds the connection (one that began meanwhile is waited for too).
  const idle = async () => {
    for (let h = held; ; h = held) {
      await h;
      if (h === held) return;
    }
  };
  const outside: SqlQuery = {
    async query<R>(text: string, params?: unknown[]) {
      await idle();
      return direct.query<R>(text, params);
    },
    async exec(text: string) {
      await idle();
      return direct.exec(text);
    },
  };
  return {
    kind: "pglite",
    ...outside,
    async transaction(fn) {
      let release!: () => void;
      const before = held;
      held = held.then(() => new Promise<void>((r) => (release = r)));
      await before;
      try {
        await direct.exec("BEGIN");
        try {
          const r = await fn(direct);
          await direct.exec("COMMIT");
          return r;
        } catch (e) {
          await direct.exec("ROLLBACK").catch(() => {});
          throw e;
        }
      } finally {
        release();
      }
    },
    session: (fn) => fn(outside),
    async close() {
      if (!failed) await call({ op: "close" }).catch(() => {});
      await worker.terminate();
    },
  };
}
