/**
 * The one error type of the presence platform. Every rejection carries a code (what kind of
 * failure, mapped once per transport), a reason (the ErrorReason of the wire contract, without its
 * `ERROR_REASON_` prefix) and a message that names the field and the limit.
 */

/** Error codes, lower_snake, one union. Transports map each to their own code exactly once. */
export type PresenceErrorCode =
  | "invalid_argument"
  | "not_found"
  | "limit_exceeded"
  | "unauthenticated"
  | "permission_denied"
  | "unavailable"
  | "failed_precondition"
  | "internal";

/** Mirrors `presence.v1.ErrorReason` (name without the prefix). */
export type PresenceErrorReason =
  | "INVALID_ROOM"
  | "INVALID_ARGUMENT"
  | "METADATA_TOO_LARGE"
  | "TOO_MANY_ROOMS"
  | "TOO_MANY_WATCHERS"
  | "SESSION_NOT_FOUND"
  | "UNAUTHENTICATED"
  | "TOKEN_INVALID"
  | "TOKEN_EXPIRED"
  | "PERMISSION_DENIED"
  | "SLOW_CONSUMER"
  | "DRAINING"
  | "STORE_UNAVAILABLE"
  | "INTERNAL"
  | "NODE_ALIVE"
  | "NODE_NOT_FOUND"
  | "ROOM_FORBIDDEN"
  | "STATUS_FORBIDDEN"
  | "QUOTA_EXCEEDED"
  | "AUTH_UNAVAILABLE"
  | "STORE_OVER_BUDGET";

/** Structured detail: the offending field and, for limits, the limit and the value seen. */
export interface PresenceErrorDetail {
  field?: string;
  limit?: number;
  actual?: number;
}

export class PresenceError extends Error {
  override readonly name = "PresenceError";
  constructor(
    readonly code: PresenceErrorCode,
    readonly reason: PresenceErrorReason,
    message: string,
    readonly detail: PresenceErrorDetail = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `field: must be … (limit N, got M)` style errors for input validation. */
export function invalidArgument(
  field: string,
  rule: string,
  reason: PresenceErrorReason = "INVALID_ARGUMENT",
): PresenceError {
  return new PresenceError("invalid_argument", reason, `${field}: ${rule}`, { field });
}

/** A limit was exceeded: the message names the field, the limit and the value seen. */
export function limitExceeded(
  field: string,
  limit: number,
  actual: number,
  unit: string,
  reason: PresenceErrorReason,
  code: PresenceErrorCode = "limit_exceeded",
): PresenceError {
  return new PresenceError(
    code,
    reason,
    `${field}: must be at most ${limit} ${unit} (got ${actual})`,
    { field, limit, actual },
  );
}

/** Unknown, expired, reaped or foreign session: all answer the same, so ids cannot be probed. */
export function sessionNotFound(): PresenceError {
  return new PresenceError(
    "not_found",
    "SESSION_NOT_FOUND",
    "session_id: session not found or expired; join again",
    { field: "session_id" },
  );
}
