import { ERROR_REASONS, type PresenceErrorReason, type StatusCodeName } from "./error-policy.js";

/**
 * The one error type of the presence platform. An error is built from its reason alone (a
 * `presence.v1.ErrorReason` name); the reason decides the status code, the WebSocket close code and
 * the retry advice (`error-policy.ts`). The message names the field and the limit.
 */

export type { PresenceErrorReason } from "./error-policy.js";

/** gRPC status names in lower_snake (`invalid_argument`, `resource_exhausted`, …). */
export type PresenceErrorCode = StatusCodeName;

/** Structured detail: the offending field and, for limits, the limit and the value seen. */
export interface PresenceErrorDetail {
  field?: string;
  limit?: number;
  actual?: number;
}

/** The detail as `google.rpc.ErrorInfo` metadata (and ErrorFrame metadata): `field`, `limit`, `actual`. */
export function detailMetadata(detail: PresenceErrorDetail): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (detail.field !== undefined) metadata.field = detail.field;
  if (detail.limit !== undefined) metadata.limit = String(detail.limit);
  if (detail.actual !== undefined) metadata.actual = String(detail.actual);
  return metadata;
}

export class PresenceError extends Error {
  override readonly name = "PresenceError";
  /** The status code of `reason` (error-policy.ts): never chosen by the thrower. */
  readonly code: PresenceErrorCode;
  constructor(
    readonly reason: PresenceErrorReason,
    message: string,
    readonly detail: PresenceErrorDetail = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = ERROR_REASONS[reason].code;
  }
}

/** An error of `reason` with `message` (which names the field) and optional detail and cause. */
export function presenceError(reason: PresenceErrorReason, message: string, detail?: PresenceErrorDetail, options?: { cause?: unknown }): PresenceError {
  return new PresenceError(reason, message, detail, options);
}

/** `field: rule` for input validation (reason INVALID_ARGUMENT unless a more precise one is given). */
export function invalidArgument(field: string, rule: string, reason: PresenceErrorReason = "INVALID_ARGUMENT"): PresenceError {
  return new PresenceError(reason, `${field}: ${rule}`, { field });
}

/** A limit was exceeded: `field: must be at most <limit> <unit> (got <actual>)`, with the limit as detail. */
export function limitExceeded(field: string, limit: number, actual: number, unit: string, reason: PresenceErrorReason): PresenceError {
  return new PresenceError(reason, `${field}: must be at most ${limit} ${unit} (got ${actual})`, { field, limit, actual });
}

/** Unknown, expired, reaped or foreign session: all answer the same, so ids cannot be probed. */
export function sessionNotFound(): PresenceError {
  return new PresenceError("SESSION_NOT_FOUND", "session_id: session not found or expired; join again", { field: "session_id" });
}

/** The node is shutting down. */
export function draining(): PresenceError {
  return new PresenceError("DRAINING", "server is draining; reconnect (to another node) and resume");
}
