import { stringify } from "csv-stringify/sync";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { TokenVerifier } from "../../auth/verify-token.js";
import type { ActivityRecord } from "../../core/activity.js";
import { STATUS_CODES } from "../../core/error-policy.js";
import { PresenceError } from "../../core/presence-error.js";
import type { Logger } from "../../logger.js";
import type { HistoryService } from "../../service/history-service.js";

/**
 * The history export: `GET /v1/history/export` on the RPC port (plain HTTP/1.1 or HTTP/2, next to
 * the Connect handler), streamed as CSV or NDJSON so that a range of any size never sits in the
 * server's memory: rows are read one page at a time (PRESENCE_HISTORY_EXPORT_PAGE_ROWS, default
 * 1,000, keyset-paginated) and the next page is read only after the socket has drained the
 * previous one.
 *
 * Query parameters: `format` (`csv`, default, or `ndjson`), `room` (exact or prefix `*`),
 * `user_id`, `since_ms`, `until_ms` (0 or absent: the last 24 h up to now), `kinds`
 * (comma-separated: join,leave,update,anonymous,status,admin,gap). Authorization:
 * `Authorization: Bearer <token>` with the audit right (admin). Errors before the first byte are
 * JSON `{code, reason, message, field?, limit?}` with the HTTP status of the code; a failure
 * mid-stream (the database went away) aborts the response, so a client never mistakes a truncated
 * export for a complete one (curl: "transfer closed with outstanding read data remaining").
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

/** Routes GET /v1/history/export to the export; everything else goes to `next` (the Connect handler). */
export function withHistoryExport(o: { history: HistoryService; verify: TokenVerifier; log: Logger }, next: (req: Req, res: Res) => void) {
  return (req: Req, res: Res): void => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== EXPORT_PATH) return next(req, res);
    void exportActivity(o, req, res, url.searchParams);
  };
}

async function exportActivity(o: { history: HistoryService; verify: TokenVerifier; log: Logger }, req: Req, res: Res, q: URLSearchParams) {
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  let pages;
  let format;
  try {
    if (req.method !== "GET") throw new PresenceError("INVALID_ARGUMENT", `method: the export accepts GET only (got ${req.method})`, { field: "method" });
    format = q.get("format") ?? "csv";
    if (format !== "csv" && format !== "ndjson") throw new PresenceError("INVALID_ARGUMENT", `format: must be csv or ndjson (got ${JSON.stringify(format.slice(0, 16))})`, { field: "format" });
    const caller = await o.verify(header(req, "authorization"));
    const int = (name: string) => {
      const v = q.get(name) ?? "0";
      if (!/^\d{1,16}$/.test(v)) throw new PresenceError("INVALID_TIME_RANGE", `${name}: must be a time in ms since the Unix epoch`, { field: name });
      return Number(v);
    };
    const kinds = (q.get("kinds") ?? "").split(",").map((k) => k.trim()).filter(Boolean);
    ({ pages } = await o.history.exportActivity(caller, { room: q.get("room") ?? "", userId: q.get("user_id") ?? "", sinceMs: int("since_ms"), untilMs: int("until_ms"), kinds }, abort.signal));
  } catch (e) {
    const err = e instanceof PresenceError ? e : new PresenceError("INTERNAL", "internal error");
    if (err.code === "internal") o.log.error("history export failed", { err: e });
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
    // Without a clean end the client sees a truncated transfer, never a short "complete" file.
    (res as { destroy?: (e?: Error) => void }).destroy?.(e as Error);
    if ("stream" in res) res.stream.close(2); // HTTP/2: RST_STREAM(INTERNAL_ERROR)
  }
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
