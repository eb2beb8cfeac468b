import { parentPort, workerData } from "node:worker_threads";

/**
 * The embedded PGlite, in its own thread (started by pglite-client.ts): PostgreSQL compiled to
 * WebAssembly runs initdb and every statement synchronously on the thread that owns it, for
 * seconds at start-up on a busy machine, so it must not be the server's event loop. Messages:
 * `{ id, op: "query", text, params }`, `{ id, op: "exec", text }`, `{ id, op: "close" }`; answers
 * `{ id, rows }` or `{ id, error: { message, code } }` (the SQLSTATE, so errors map as in-process).
 */
type Request = { id: number; op: "query"; text: string; params?: unknown[] } | { id: number; op: "exec"; text: string } | { id: number; op: "close" };

const port = parentPort!;
const { dataDir, sharedBuffersMb } = workerData as { dataDir?: string; sharedBuffersMb: number };
const { PGlite } = await import("@electric-sql/pglite");
let db: Awaited<ReturnType<typeof PGlite.create>>;
try {
  // shared_buffers on the command line (PGlite's own start parameters kept): PostgreSQL's 128 MB
  // default is most of PGlite's resident memory and far more cache than an embedded log needs.
  const startParams = [...PGlite.defaultStartParams, "-c", `shared_buffers=${sharedBuffersMb}MB`];
  db = await PGlite.create(dataDir === undefined ? { startParams } : { dataDir, startParams });
  port.postMessage({ id: 0, rows: [] });
} catch (e) {
  port.postMessage({ id: 0, error: { message: (e as Error).message, code: undefined } });
  throw e;
}

port.on("message", (m: Request) => {
  void (async () => {
    try {
      if (m.op === "query") port.postMessage({ id: m.id, rows: (await db.query(m.text, m.params)).rows });
      else if (m.op === "exec") {
        await db.exec(m.text);
        port.postMessage({ id: m.id, rows: [] });
      } else {
        await db.close();
        port.postMessage({ id: m.id, rows: [] });
        port.close();
      }
    } catch (e) {
      const err = e as { message?: string; code?: unknown };
      port.postMessage({ id: m.id, error: { message: String(err.message ?? e), code: typeof err.code === "string" ? err.code : undefined } });
    }
  })();
});
