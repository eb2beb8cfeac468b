import pg from "pg";
import type { SqlClient, SqlQuery } from "./sql-client.js";

/**
 * SqlClient over a node-postgres pool (production history). The connection string is passed to
 * `pg` as is, so its TLS parameters work: `sslmode=verify-full` with `sslrootcert=/path/ca.pem`
 * (encrypt and check the server; node-postgres treats `require` the same unless
 * `uselibpqcompat=true`), `sslmode=no-verify` (encrypt only), `sslcert`/`sslkey` for client
 * certificates. A connection is made lazily; a pool error (server restart) is reported through
 * `onError` and the pool reconnects on the next query. A connection checked out of the pool (a
 * transaction, or a session holding an advisory lock while its task runs) has no pool listener:
 * its loss (e.g. 57P01 when the server shuts down) is caught here, reported the same way, and the
 * connection is dropped instead of given back (an unhandled 'error' event would end the process).
 */
export interface PgClientOptions {
  url: string;
  /** Connections in the pool (writer, readers, retention). */
  poolSize: number;
  /** A connection attempt slower than this fails (ms). */
  connectTimeoutMs: number;
  /** A statement slower than this is cancelled by the server (ms; `statement_timeout`). */
  statementTimeoutMs: number;
  /** Idle or broken pooled connections (a server restart) are reported here. */
  onError?: (err: Error) => void;
}

export function createPgClient(o: PgClientOptions): SqlClient {
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.poolSize,
    connectionTimeoutMillis: o.connectTimeoutMs,
    statement_timeout: o.statementTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: "presence",
  });
  pool.on("error", (err) => o.onError?.(err));
  const on = (c: pg.PoolClient | pg.Pool): SqlQuery => ({
    async query<R>(text: string, params?: unknown[]) {
      return (await c.query(text, params)).rows as R[];
    },
    async exec(text: string) {
      await c.query(text);
    },
  });
  const withClient = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const c = await pool.connect();
    let broken: Error | undefined;
    const lost = (err: Error) => {
      broken = err;
      o.onError?.(err);
    };
    c.on("error", lost);
    try {
      return await fn(c);
    } catch (e) {
      // A connection that failed mid-statement is not given back to the pool.
      if (!(e as { code?: unknown }).code) broken = e as Error;
      throw e;
    } finally {
      c.off("error", lost);
      c.release(broken);
    }
  };
  return {
    kind: "postgres",
    ...on(pool),
    transaction: (fn) =>
      withClient(async (c) => {
        await c.query("BEGIN");
        try {
          const r = await fn(on(c));
          await c.query("COMMIT");
          return r;
        } catch (e) {
          await c.query("ROLLBACK").catch(() => {});
          throw e;
        }
      }),
    session: (fn) => withClient((c) => fn(on(c))),
    close: () => pool.end(),
  };
}
