import type { MessageInitShape } from "@bufbuild/protobuf";
import { ErrorReason } from "../../../gen/presence/v1/errors_pb.js";
import type { ErrorFrameSchema } from "../../../gen/presence/v1/frames_pb.js";
import { PresenceError, type PresenceErrorReason } from "../../core/presence-error.js";
import { CONNECT_CODES } from "../connect/to-connect-error.js";

/**
 * WebSocket close codes of the bridge: the table of `frames.proto`, as code. The range tells the
 * client its next move (house style §3.5): 4000–4499 "reconnect with backoff", 4500–4999 "do not
 * reconnect". Reasons are short (a close frame carries at most 123 bytes of reason).
 *
 * Frames over twice the message limit never reach us: uWS cuts them itself (`maxPayloadLength`),
 * and the client sees 1006 without a close frame.
 */
export interface CloseSpec {
  readonly code: number;
  readonly reason: string;
}

/** Every close code the bridge sends, by name. */
export const CLOSE = {
  /** Normal close (client or server); the session ends. */
  normal: { code: 1000, reason: "bye" },
  /** The node is shutting down: reconnect (to another node) and reclaim the session. */
  draining: { code: 4000, reason: "draining" },
  /** The socket stayed over its send-buffer cap for longer than the stall limit. */
  slowConsumer: { code: 4001, reason: "slow consumer" },
  /** Unexpected server failure. */
  serverError: { code: 4002, reason: "server error" },
  /** The token expired: reconnect with a fresh token. */
  tokenExpired: { code: 4003, reason: "token expired" },
  /** The presence store is unavailable (or the process is full): retry with backoff. */
  unavailable: { code: 4004, reason: "unavailable" },
  /** The socket's session is gone (kicked, purged, or reaped): reconnect; a new session is made. */
  sessionEnded: { code: 4005, reason: "session ended" },
  /** The socket sent frames faster than its rate limit (PRESENCE_WS_MAX_FRAMES_PER_SEC, burst PRESENCE_WS_FRAME_BURST). */
  rateLimited: { code: 4006, reason: "rate limited" },
  /** A per-caller quota is used up (QUOTA_EXCEEDED): retry later, with backoff. */
  quotaExceeded: { code: 4010, reason: "quota exceeded" },
  /** The store is over its memory budget: new sessions are refused for now (retry with backoff). */
  storeOverBudget: { code: 4011, reason: "store over budget" },
  /** Malformed, truncated or unknown frame. */
  badRequest: { code: 4500, reason: "bad request" },
  /** Invalid token (or none while anonymous access is off). */
  unauthenticated: { code: 4501, reason: "unauthenticated" },
  /** Permission denied. */
  forbidden: { code: 4502, reason: "forbidden" },
  /** Frame larger than the message limit. */
  tooLarge: { code: 4503, reason: "too large" },
} as const satisfies Record<string, CloseSpec>;

export type CloseName = keyof typeof CLOSE;

/** True for codes that tell the client to reconnect (with backoff): 4000–4499. */
export const isRetryableClose = (code: number): boolean => code >= 4000 && code <= 4499;

/** The one table: ErrorReason → close code, for the cases where an error ends a socket. */
const CLOSE_BY_REASON: Readonly<Record<PresenceErrorReason, CloseName>> = {
  INVALID_ROOM: "badRequest",
  INVALID_ARGUMENT: "badRequest",
  METADATA_TOO_LARGE: "badRequest",
  TOO_MANY_ROOMS: "badRequest",
  TOO_MANY_WATCHERS: "unavailable",
  SESSION_NOT_FOUND: "badRequest",
  UNAUTHENTICATED: "unauthenticated",
  TOKEN_INVALID: "unauthenticated",
  TOKEN_EXPIRED: "tokenExpired",
  PERMISSION_DENIED: "forbidden",
  SLOW_CONSUMER: "slowConsumer",
  DRAINING: "draining",
  STORE_UNAVAILABLE: "unavailable",
  INTERNAL: "serverError",
  // Admin API only (never on a socket); listed so the table stays total.
  NODE_ALIVE: "badRequest",
  NODE_NOT_FOUND: "badRequest",
  ROOM_FORBIDDEN: "forbidden",
  STATUS_FORBIDDEN: "forbidden",
  QUOTA_EXCEEDED: "quotaExceeded",
  AUTH_UNAVAILABLE: "unavailable",
  STORE_OVER_BUDGET: "storeOverBudget",
};

/** The close code for an error: PresenceErrors by reason, anything else 4002 "server error". */
export function closeFor(err: unknown): CloseSpec {
  return err instanceof PresenceError ? CLOSE[CLOSE_BY_REASON[err.reason]] : CLOSE.serverError;
}

/**
 * The ErrorFrame for an error answering a frame: the gRPC code number (same table as the Connect
 * transport), the ErrorReason, the message (names the field and the limit) and `field` / `limit` /
 * `actual` metadata. Anything but a PresenceError is `internal` and never leaks its message.
 * `extra` metadata (e.g. the room of a failed watch) is added as is.
 */
export function errorFrameFor(err: unknown, extra: Record<string, string> = {}): MessageInitShape<typeof ErrorFrameSchema> {
  if (!(err instanceof PresenceError)) {
    return { code: CONNECT_CODES.internal, reason: ErrorReason.INTERNAL, message: "internal error", metadata: { ...extra } };
  }
  const metadata: Record<string, string> = { ...extra };
  if (err.detail.field !== undefined) metadata.field = err.detail.field;
  if (err.detail.limit !== undefined) metadata.limit = String(err.detail.limit);
  if (err.detail.actual !== undefined) metadata.actual = String(err.detail.actual);
  return { code: CONNECT_CODES[err.code], reason: ErrorReason[err.reason], message: err.message, metadata };
}

/** Label value for `presence_ws_closes_total{code}`: the code when it is ours, else its class. */
export function closeCodeLabel(code: number): string {
  if (code === 1000 || code === 1001 || code === 1005 || code === 1006) return String(code);
  if (Object.values(CLOSE).some((c) => c.code === code)) return String(code);
  return code >= 4000 && code <= 4999 ? "4xxx_other" : "other";
}
