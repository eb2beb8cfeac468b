import { PresenceError } from "../../core/presence-error.js";

/**
 * The narrow SQL surface the history store needs, so one set of queries serves PostgreSQL
 * (node-postgres pool) and the embedded PGlite. Parameters are `$1…`; arrays are sent as
 * PostgreSQL arrays. Column values come back as the driver gives them: convert bigints with
 * `Number()` (node-postgres returns int8 as a string).
 */
export interface SqlQuery {
  /** One statement with parameters; resolves with its rows. */
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
}

export interface SqlClient extends SqlQuery {
  /** What backs it, for logs and docs: "postgres" or "pglite". */
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` inside BEGIN … COMMIT on one connection (ROLLBACK if it throws). */
  transaction<T>(fn: (q: SqlQuery) => Promise<T>): Promise<T>;
  /** Runs `fn` on one connection held for its duration (session-level advisory locks). */
  session<T>(fn: (q: SqlQuery) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Maps a database failure to a PresenceError. Connection failures, shutdowns, timeouts and
 * resource errors (SQLSTATE classes 08, 53, 57, 58; no SQLSTATE at all: a socket error) are
 * `unavailable` / HISTORY_UNAVAILABLE; anything else is a bug, `internal` (never leaked).
 */
export function historyError(err: unknown): PresenceError {
  if (err instanceof PresenceError) return err;
  const code = (err as { code?: unknown })?.code;
  const sqlState = typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (sqlState === undefined || /^(08|53|57|58)/.test(sqlState)) {
    return new PresenceError("HISTORY_UNAVAILABLE", "history: the history database is unavailable; retry with backoff", {}, { cause: err });
  }
  return new PresenceError("INTERNAL", "internal error", {}, { cause: err });
}
