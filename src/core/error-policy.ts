/**
 * The error policy of the presence platform, in one place: for every `presence.v1.ErrorReason`
 * the status code it travels with (gRPC, Connect and the WebSocket ErrorFrame), the WebSocket
 * close code used when the error ends a socket, and what a client should do next. The server
 * transports (`transport/connect/to-connect-error.ts`, `transport/ws/close-codes.ts`) and the
 * client SDK (`packages/client/src/errors.ts`, the reconnect loop) read these tables; `docs/errors.md` is
 * generated from them (`npm run docs`), and a test keeps `errors.proto` / `frames.proto` and the
 * page in step with them.
 *
 * Dependency-free on purpose (no generated code, no Connect): the SDK bundles this file.
 *
 * To add a reason: a value in `errors.proto` (numbers reserved per track, see the team plan),
 * one row in `ERROR_REASONS`, then `npm run docs`.
 */

/**
 * What a client should do after an error:
 * - `never`: terminal, the same request cannot succeed (fix the input, the token or the rights);
 * - `backoff`: transient, try again after a jittered exponential backoff (reconnect, re-watch);
 * - `rejoin`: the session is gone, join again at once (a new session is made);
 * - `new_token`: reconnect with a fresh token (terminal when the token is a fixed string).
 */
export type RetryPolicy = "never" | "backoff" | "rejoin" | "new_token";

interface StatusCodeRow {
  /** The gRPC status number (= Connect's `Code`, the `code` of a WebSocket ErrorFrame). */
  readonly grpc: number;
  /** The HTTP status of a Connect unary error (Connect protocol specification). */
  readonly http: number;
  /** Advice for an error of this code that carries no reason (e.g. from the RPC layer or a proxy). */
  readonly retry: RetryPolicy;
}

/** gRPC status codes by their lower_snake name (the name clients see). */
export const STATUS_CODES = {
  canceled: { grpc: 1, http: 499, retry: "backoff" },
  unknown: { grpc: 2, http: 500, retry: "backoff" },
  invalid_argument: { grpc: 3, http: 400, retry: "never" },
  deadline_exceeded: { grpc: 4, http: 504, retry: "backoff" },
  not_found: { grpc: 5, http: 404, retry: "never" },
  already_exists: { grpc: 6, http: 409, retry: "never" },
  permission_denied: { grpc: 7, http: 403, retry: "never" },
  resource_exhausted: { grpc: 8, http: 429, retry: "backoff" },
  failed_precondition: { grpc: 9, http: 400, retry: "never" },
  aborted: { grpc: 10, http: 409, retry: "backoff" },
  out_of_range: { grpc: 11, http: 400, retry: "never" },
  unimplemented: { grpc: 12, http: 501, retry: "never" },
  internal: { grpc: 13, http: 500, retry: "backoff" },
  unavailable: { grpc: 14, http: 503, retry: "backoff" },
  data_loss: { grpc: 15, http: 500, retry: "backoff" },
  unauthenticated: { grpc: 16, http: 401, retry: "never" },
} as const satisfies Record<string, StatusCodeRow>;

export type StatusCodeName = keyof typeof STATUS_CODES;

interface CloseCodeRow {
  /** The close code on the wire (`presence.v1.CloseCode`). */
  readonly code: number;
  /** The close frame's reason text (short: a close frame carries at most 123 bytes of it). */
  readonly text: string;
  /** The ErrorReason a client reports for this close; null for the normal close. */
  readonly reason: string | null;
  /** When the server sends it (the comment of the `frames.proto` value). */
  readonly meaning: string;
}

/**
 * WebSocket close codes of the bridge (`presence.v1.CloseCode`, names without the `CLOSE_CODE_`
 * prefix). The range tells the client its next move (house style §3.5): 4000–4499 reconnect with
 * backoff, 4500–4999 do not reconnect; a test holds every row to the range of its reason's advice.
 */
export const CLOSE_CODES = {
  NORMAL: { code: 1000, text: "bye", reason: null, meaning: "Normal close (client or server); the session ends at once." },
  DRAINING: { code: 4000, text: "draining", reason: "DRAINING", meaning: "The node is shutting down: reconnect (to another node) and reclaim the session." },
  SLOW_CONSUMER: { code: 4001, text: "slow consumer", reason: "SLOW_CONSUMER", meaning: "The socket stayed over its send-buffer cap for longer than the stall limit." },
  SERVER_ERROR: { code: 4002, text: "server error", reason: "INTERNAL", meaning: "Unexpected server failure." },
  TOKEN_EXPIRED: { code: 4003, text: "token expired", reason: "TOKEN_EXPIRED", meaning: "The token expired: reconnect with a fresh token." },
  UNAVAILABLE: { code: 4004, text: "unavailable", reason: "STORE_UNAVAILABLE", meaning: "The presence store is unavailable, or the process is full: retry with backoff." },
  SESSION_ENDED: { code: 4005, text: "session ended", reason: "SESSION_NOT_FOUND", meaning: "The socket's session is gone (kicked, purged or reaped): reconnect; a new session is made." },
  RATE_LIMITED: { code: 4006, text: "rate limited", reason: "RATE_LIMITED", meaning: "Frames sent faster than the per-socket rate limit: reconnect with backoff." },
  QUOTA_EXCEEDED: { code: 4010, text: "quota exceeded", reason: "QUOTA_EXCEEDED", meaning: "A per-caller quota is used up (docs/security.md): reconnect later, with backoff." },
  STORE_OVER_BUDGET: { code: 4011, text: "store over budget", reason: "STORE_OVER_BUDGET", meaning: "The store is over its memory budget: no new sessions for now; reconnect later, with backoff." },
  BAD_REQUEST: { code: 4500, text: "bad request", reason: "INVALID_ARGUMENT", meaning: "Malformed, truncated or unknown frame." },
  UNAUTHENTICATED: { code: 4501, text: "unauthenticated", reason: "UNAUTHENTICATED", meaning: "Invalid token (or none while anonymous access is off)." },
  FORBIDDEN: { code: 4502, text: "forbidden", reason: "PERMISSION_DENIED", meaning: "Permission denied." },
  TOO_LARGE: { code: 4503, text: "too large", reason: "MESSAGE_TOO_LARGE", meaning: "Frame larger than the message limit (PRESENCE_MAX_REQUEST_BYTES); over twice it the WebSocket engine cuts the connection (uws: 1006, no close frame; ws: 1009)." },
} as const satisfies Record<string, CloseCodeRow>;

export type CloseCodeName = keyof typeof CLOSE_CODES;

interface ReasonRow {
  readonly code: StatusCodeName;
  /** The close code when this error ends a WebSocket; null where it never does (admin API). */
  readonly close: CloseCodeName | null;
  readonly retry: RetryPolicy;
  /** When the server answers it (the comment of the `errors.proto` value). */
  readonly when: string;
}

/** The one table: every `presence.v1.ErrorReason` (name without `ERROR_REASON_`) and its policy. */
export const ERROR_REASONS = {
  INVALID_ROOM: { code: "invalid_argument", close: "BAD_REQUEST", retry: "never", when: "Room name empty, over the byte limit, with control characters or invalid UTF-8." },
  INVALID_ARGUMENT: { code: "invalid_argument", close: "BAD_REQUEST", retry: "never", when: "Any other malformed field or list over its size limit (ids, cursor element, custom status, request body that is not a valid message)." },
  METADATA_TOO_LARGE: { code: "resource_exhausted", close: "BAD_REQUEST", retry: "never", when: "Member metadata over its byte or entry limit (PRESENCE_MAX_METADATA_BYTES, PRESENCE_MAX_METADATA_ENTRIES)." },
  TOO_MANY_ROOMS: { code: "resource_exhausted", close: "BAD_REQUEST", retry: "never", when: "A session would be in more rooms than PRESENCE_MAX_ROOMS_PER_SESSION, or a socket would watch more than PRESENCE_WS_MAX_WATCHES_PER_SOCKET." },
  TOO_MANY_WATCHERS: { code: "resource_exhausted", close: "UNAVAILABLE", retry: "backoff", when: "The process holds PRESENCE_MAX_WATCHERS watch streams: retry later (or on another node)." },
  SESSION_NOT_FOUND: { code: "not_found", close: "SESSION_ENDED", retry: "rejoin", when: "Unknown, expired, reaped or foreign session (all answer the same, so ids cannot be probed): join again." },
  UNAUTHENTICATED: { code: "unauthenticated", close: "UNAUTHENTICATED", retry: "never", when: "No credential while anonymous access is off, or a call that needs a token (admin API)." },
  TOKEN_INVALID: { code: "unauthenticated", close: "UNAUTHENTICATED", retry: "never", when: "Malformed token, bad signature, unknown key, wrong issuer or audience." },
  TOKEN_EXPIRED: { code: "unauthenticated", close: "TOKEN_EXPIRED", retry: "new_token", when: "Token past its `exp`: reconnect with a fresh one." },
  PERMISSION_DENIED: { code: "permission_denied", close: "FORBIDDEN", retry: "never", when: "The caller may not do this (e.g. `on_behalf_of` without the service role, anonymous typing, admin API without the admin role)." },
  SLOW_CONSUMER: { code: "resource_exhausted", close: "SLOW_CONSUMER", retry: "backoff", when: "A watch stream or socket did not read for the stall limit (PRESENCE_WATCHER_STALL_MS, PRESENCE_WS_STALL_MS): watch again from the last position." },
  DRAINING: { code: "unavailable", close: "DRAINING", retry: "backoff", when: "The node is shutting down: reconnect (to another node) and reclaim the session." },
  STORE_UNAVAILABLE: { code: "unavailable", close: "UNAVAILABLE", retry: "backoff", when: "The presence store cannot be reached or answered too slowly: retry with backoff." },
  INTERNAL: { code: "internal", close: "SERVER_ERROR", retry: "backoff", when: "A bug; the message never leaks internals." },
  NODE_ALIVE: { code: "failed_precondition", close: null, retry: "never", when: "AdminService.PurgeNode of a node seen alive within the dead bound, without `force`." },
  NODE_NOT_FOUND: { code: "not_found", close: null, retry: "never", when: "AdminService.PurgeNode of a node that no registry entry and no session names." },
  RATE_LIMITED: { code: "resource_exhausted", close: "RATE_LIMITED", retry: "backoff", when: "A WebSocket sent frames faster than PRESENCE_WS_MAX_FRAMES_PER_SEC (closed with 4006), or more than PRESENCE_WS_MAX_PENDING_FRAMES not yet answered (that frame is refused)." },
  MESSAGE_TOO_LARGE: { code: "resource_exhausted", close: "TOO_LARGE", retry: "never", when: "A request body or WebSocket frame over PRESENCE_MAX_REQUEST_BYTES." },
  ROOM_FORBIDDEN: { code: "permission_denied", close: "FORBIDDEN", retry: "never", when: "The caller has no right to this operation on this room (capability, configured defaults, per-room role, hook: docs/security.md); the message names the operation and the room." },
  STATUS_FORBIDDEN: { code: "permission_denied", close: "FORBIDDEN", retry: "never", when: "The caller may not read or watch other users' status at all (users it may not see are answered as unknown users, never with this error)." },
  QUOTA_EXCEEDED: { code: "resource_exhausted", close: "QUOTA_EXCEEDED", retry: "backoff", when: "A per-caller quota is used up (open watches, watched user ids, sessions, new rooms per minute, calls per second: docs/security.md); `field` names the quota and `limit` its value." },
  AUTH_UNAVAILABLE: { code: "unavailable", close: "UNAVAILABLE", retry: "backoff", when: "The authorization hook or the remote key set (JWKS) did not answer in time: access is refused until it does (fail closed); retry with backoff." },
  STORE_OVER_BUDGET: { code: "resource_exhausted", close: "STORE_OVER_BUDGET", retry: "backoff", when: "The store is over its memory budget (PRESENCE_STORE_MEMORY_BUDGET_BYTES): new rooms and sessions are refused for now, existing ones keep working; retry later." },
  ROOM_FULL: { code: "resource_exhausted", close: null, retry: "backoff", when: "A Join would add one participant more than a managed room's max_participants (rooms.proto)." },
  ROOM_ENDED: { code: "failed_precondition", close: null, retry: "never", when: "The room was ended and refuses joins until its tombstone time has passed (PRESENCE_ROOM_TOMBSTONE_MS)." },
  ROOM_NOT_FOUND: { code: "not_found", close: null, retry: "never", when: "UpdateRoom or EndRoom of a room that is not managed (create it with CreateRoom)." },
  ROOM_EXISTS: { code: "already_exists", close: null, retry: "never", when: "CreateRoom of a room that is managed already." },
  PRESENCE_TOO_LARGE: { code: "resource_exhausted", close: null, retry: "never", when: "Typed presence over its byte or key limit (PRESENCE_MAX_PRESENCE_BYTES, PRESENCE_MAX_PRESENCE_KEYS)." },
  TOO_MANY_SCOPES: { code: "resource_exhausted", close: null, retry: "never", when: "A session would carry more scopes than PRESENCE_MAX_SCOPES_PER_SESSION." },
  // 45–54: history (issue 13). HistoryService and the export only, never on a socket.
  HISTORY_UNAVAILABLE: { code: "unavailable", close: null, retry: "backoff", when: "The history database cannot be reached or is still starting (HistoryService, the export): retry with backoff." },
  HISTORY_DISABLED: { code: "failed_precondition", close: null, retry: "never", when: "HistoryService or the export on a server started with PRESENCE_HISTORY=off." },
  INVALID_TIME_RANGE: { code: "invalid_argument", close: null, retry: "never", when: "A history time range with until before since, a negative time, or longer than PRESENCE_HISTORY_MAX_RANGE_MS." },
  INVALID_PAGE_TOKEN: { code: "invalid_argument", close: null, retry: "never", when: "A ListActivity page token that is malformed or was made for another query." },
  TRACKER_CONFLICT: { code: "already_exists", close: null, retry: "never", when: "Track `open` names a tracker id held by another tracker of the caller (no or wrong `tracker_secret`): use another id, or the secret returned when it was created." },
  TRACKER_REPLACED: { code: "aborted", close: null, retry: "never", when: "The Track stream was replaced: the same tracker opened a new stream (with its secret), on this node or another, which now holds its presences. Do not reconnect this one." },
  TOO_MANY_PRESENCES: { code: "resource_exhausted", close: null, retry: "never", when: "A Track stream would hold more than PRESENCE_TRACK_MAX_PRESENCES presences." },
  PRESENCE_NOT_FOUND: { code: "not_found", close: null, retry: "never", when: "Track `untrack`, `update` or `set_activity` of a key the tracker does not track." },
} as const satisfies Record<string, ReasonRow>;

/** `presence.v1.ErrorReason` names without the `ERROR_REASON_` prefix. */
export type PresenceErrorReason = keyof typeof ERROR_REASONS;

/** Compile-time check: every close code names a real reason. */
type CloseReasonsAreReasons<T extends Record<CloseCodeName, { readonly reason: PresenceErrorReason | null }>> = T;
export type CloseCodeTable = CloseReasonsAreReasons<typeof CLOSE_CODES>;

/** First code of the "do not reconnect" range. */
export const TERMINAL_CLOSE_MIN = 4500;

const isReason = (reason: string): reason is PresenceErrorReason => Object.hasOwn(ERROR_REASONS, reason);
const isCode = (code: string): code is StatusCodeName => Object.hasOwn(STATUS_CODES, code);

/**
 * The advice for an error as a client received it: by reason when it names one this table knows,
 * otherwise by status code (an unknown reason comes from a newer server; no reason comes from the
 * RPC layer or a proxy); `backoff` for an unknown code.
 */
export function retryOf(code: string, reason?: string): RetryPolicy {
  if (reason !== undefined && isReason(reason)) return ERROR_REASONS[reason].retry;
  return isCode(code) ? STATUS_CODES[code].retry : "backoff";
}

/**
 * The advice for a WebSocket close: by its reason for our codes; otherwise by range (4500–4999 do
 * not reconnect, every other code, 1000 and 1006 included, reconnect with backoff: the application
 * still wants to be present, and only the server's explicit "do not come back" range stops it).
 */
export function closeRetryOf(code: number): RetryPolicy {
  const reason = closeByCode(code)?.reason;
  if (reason) return ERROR_REASONS[reason].retry;
  return code >= TERMINAL_CLOSE_MIN && code <= 4999 ? "never" : "backoff";
}

/** The row of a close code we send, if it is one. */
export function closeByCode(code: number): (typeof CLOSE_CODES)[CloseCodeName] | undefined {
  return Object.values(CLOSE_CODES).find((c) => c.code === code);
}

/** The gRPC status name of a status number ("unknown" for numbers outside the table). */
export function statusName(grpc: number): StatusCodeName {
  return (Object.keys(STATUS_CODES) as StatusCodeName[]).find((k) => STATUS_CODES[k].grpc === grpc) ?? "unknown";
}
