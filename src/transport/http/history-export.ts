import { stringify } from "csv-stringify/sync";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { ActivityRecord } from "../../core/activity.js";
import type { Clock } from "../../core/clock.js";
import { STATUS_CODES } from "../../core/error-policy.js";
import { PresenceError } from "../../core/presence-error.js";
import type { Logger } from "../../logger.js";
import type { HistoryService } from "../../service/history-service.js";
import type { CallAdmission } from "./call-admission.js";

/**
 * The history export: `GET /v1/history/export` on the RPC port (plain HTTP/1.1 or HTTP/2, next to
 * the Connect handler), streamed as CSV or NDJSON so that a range of any size never sits in the
 * server's memory: rows are read one page at a time (PRESENCE_HISTORY_EXPORT_PAGE_ROWS, default
 * 1,000, keyset-paginated) and the next page is read only after the socket has drained the
 * previous one.
 *
 * Query parameters: `format` (`csv`, default, or `ndjson`), `room` (exact or prefix `*`),
 * `user_id`, `since_ms`, `until_ms` (0 or absent: the last 24 h up to now), `kinds`
 * (comma-separated: join,leave,update,anonymous,status,admin,gap).
 *
 * Access: the same admission as every Connect/gRPC call on this port (`call-admission.ts`: the
 * bearer token, the client address behind trusted proxies, one charge to the caller's
 * `requests_per_second` quota), then the HistoryService's `audit` check (one exact room: the
 * rights model; across rooms: admins). Errors before the first byte are JSON
 * `{code, reason, message, field?, limit?}` with the HTTP status of the code (QUOTA_EXCEEDED: 429);
 * a failure mid-stream (the database went away, or the caller's token expired: an export is a
 * stream and ends with its token, like a watch) aborts the response, so a client never mistakes a
 * truncated export for a complete one (curl: "transfer closed with outstanding read data remaining").
 *
 * CSV: one header line, then one line per row; the time twice (ISO 8601 UTC and ms); `detail` as
 * JSON; cells starting with `=`, `+`, `-`, `@`, tab or CR are prefixed with `'` (csv-stringify's
 * `escape_formulas`), so a user id cannot become a spreadsheet formula.
 */
export const EXPORT_PATH = "/v1/history/export";

export const CSV_COLUMNS = [
  "time", "time_ms", "kind", "room", "user_id", "connection_id", "reason", "node_id", "remote_address", "user_agent",
  "epoch", "version", "invisible", "users", "connections", "anonymous", "detail", "key",
] as const;


type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

export interface HistoryExportOptions {
  history: HistoryService;
  /** The RPC port's admission (token, origin, request quota), shared with the Connect interceptor. */
  admit: CallAdmission;
  clock: Clock;
  log: Logger;
  /** An export refused before its first byte, by ErrorReason (`presence_rejected_requests_total`). */
  onRejected?: (reason: string) => void;
}

/** Routes GET /v1/history/export to the export; everything else goes to `next` (the Connect handler). */
export function withHistoryExport(o: HistoryExportOptions, next: (req: Req, res: Res) => void) {
  return (req: Req, res: Res): void => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== EXPORT_PATH) return next(req, res);
    void exportActivity(o, req, res, url.searchParams);
  };
}

async function exportActivity(o: HistoryExportOptions, req: Req, res: Res, q: URLSearchParams) {
  const abort = new AbortController();
  let expiry: { cancel(): void } | undefined;
  res.on("close", () => {
    abort.abort();
    expiry?.cancel();
  });
  let pages;
  let format;
  try {
    // Admitted first, like an RPC: even a malformed request costs the caller one request.
    const caller = await o.admit(header(req, "authorization"), req);
    if (req.method !== "GET") throw new PresenceError("INVALID_ARGUMENT", `method: the export accepts GET only (got ${req.method})`, { field: "method" });
    format = q.get("format") ?? "csv";
    if (format !== "csv" && format !== "ndjson") throw new PresenceError("INVALID_ARGUMENT", `format: must be csv or ndjson (got ${JSON.stringify(format.slice(0, 16))})`, { field: "format" });
    const exp = caller.tokenExpiresAtMs;
    if (exp !== undefined) {
      expiry = o.clock.setTimeout(() => {
        o.log.info("history export ended: the caller's token expired", { subject: caller.subject });
        abort.abort(new PresenceError("TOKEN_EXPIRED", "token has expired: the export ends", { field: "authorization" }));
        cut(res);
      }, Math.max(0, exp - o.clock.now()));
    }
    const int = (name: string) => {
      const v = q.get(name) ?? "0";
      if (!/^\d{1,16}$/.test(v)) throw new PresenceError("INVALID_TIME_RANGE", `${name}: must be a time in ms since the Unix epoch`, { field: name });
      return Number(v);
    };
    const kinds = (q.get("kinds") ?? "").split(",").map((k) => k.trim()).filter(Boolean);
    ({ pages } = await o.history.exportActivity(caller, { room: q.get("room") ?? "", userId: q.get("user_id") ?? "", sinceMs: int("since_ms"), untilMs: int("until_ms"), kinds }, abort.signal));
  } catch (e) {
    expiry?.cancel();
    const err = e instanceof PresenceError ? e : new PresenceError("INTERNAL", "internal error");
    if (err.code === "internal") o.log.error("history export failed", { err: e });
    else o.onRejected?.(err.reason);
    res.statusCode = STATUS_CODES[err.code].http;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ code: err.code, reason: err.reason, message: err.message, ...err.detail }));
    return;
  }
  res.statusCode = 200;
  res.setHeader("content-type", format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson");
  res.setHeader("content-disposition", `attachment; filename="presence-activity.${format}"`);
  res.setHeader("cache-control", "no-store");
  try {
    if (format === "csv") await write(res, stringify([[...CSV_COLUMNS]]));
    for await (const page of pages) {
      await write(res, format === "csv" ? stringify(page.map(csvRow), { escape_formulas: true }) : page.map((r) => JSON.stringify(r) + "\n").join(""));
    }
    res.end();
  } catch (e) {
    if (!abort.signal.aborted) o.log.warn("history export aborted mid-stream", { err: e });
    cut(res, e as Error);
  } finally {
    expiry?.cancel();
  }
}

/** Ends a response without a clean end: the client sees a truncated transfer, never a short "complete" file. */
function cut(res: Res, err?: Error): void {
  (res as { destroy?: (e?: Error) => void }).destroy?.(err);
  if ("stream" in res && !res.stream.destroyed) res.stream.close(2); // HTTP/2: RST_STREAM(INTERNAL_ERROR)
}

const csvRow = (r: ActivityRecord) => [
  new Date(r.timeMs).toISOString(), r.timeMs, r.kind, r.room, r.userId, r.connectionId, r.reason, r.nodeId, r.remoteAddr, r.userAgent,
  r.epoch, r.version, r.invisible ? "true" : "false", r.users, r.connections, r.anonymous, JSON.stringify(r.detail), r.key,
];

/** Writes and waits for the socket to drain when its buffer is full (the export's backpressure). */
async function write(res: Res, chunk: string): Promise<void> {
  const r = res as http.ServerResponse;
  if (r.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      r.off("drain", onDrain);
      r.off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error("client went away"));
    r.once("drain", onDrain);
    r.once("close", onClose);
  });
}

const header = (req: Req, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};
