import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { ErrorReason } from "../gen/presence/v1/errors_pb.js";
import type { ErrorFrame } from "../gen/presence/v1/frames_pb.js";

/**
 * The one error type of the SDK. `code` is the gRPC status name in lower_snake (`unavailable`,
 * `not_found`, …) or `closed` for a WebSocket close; `reason` is the presence ErrorReason
 * (`SESSION_NOT_FOUND`, `TOKEN_EXPIRED`, …) when the server sent one. `retryable` tells the
 * reconnect loop whether trying again can help (close codes 4000–4499, unavailable, network
 * errors) or not (4500–4999, unauthenticated, invalid input).
 */
export class PresenceClientError extends Error {
  override readonly name = "PresenceClientError";
  constructor(
    readonly code: string,
    message: string,
    readonly reason: string | undefined,
    readonly retryable: boolean,
    /** WebSocket close code, for `code = "closed"`. */
    readonly closeCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The session is unknown, expired or reaped: join again (with a new session). */
  get sessionLost(): boolean {
    return this.reason === "SESSION_NOT_FOUND";
  }
}

/** gRPC status numbers (= Connect's `Code`) → lower_snake names. */
const CODE_NAMES = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

const codeName = (n: number): string => CODE_NAMES[n] ?? "unknown";

/** Terminal codes: retrying the same call cannot succeed. */
const TERMINAL_CODES = new Set(["invalid_argument", "permission_denied", "unauthenticated", "unimplemented", "failed_precondition", "out_of_range", "already_exists"]);
/** Terminal reasons of otherwise retryable codes (resource_exhausted is also used for slow consumers). */
const TERMINAL_REASONS = new Set(["METADATA_TOO_LARGE", "TOO_MANY_ROOMS", "INVALID_ROOM", "INVALID_ARGUMENT", "PERMISSION_DENIED", "UNAUTHENTICATED", "TOKEN_INVALID"]);

function isRetryable(code: string, reason: string | undefined): boolean {
  if (reason === "SESSION_NOT_FOUND" || reason === "TOKEN_EXPIRED") return true; // rejoin / fresh token
  if (reason !== undefined && TERMINAL_REASONS.has(reason)) return false;
  return !TERMINAL_CODES.has(code);
}

/** Normalises an error of a Connect call (or of fetch underneath it). */
export function fromConnectError(e: unknown): PresenceClientError {
  if (e instanceof PresenceClientError) return e;
  const ce = ConnectError.from(e);
  const code = codeName(ce.code);
  const info = ce.findDetails(ErrorInfoSchema)[0];
  const reason = info?.reason || undefined;
  return new PresenceClientError(code, ce.rawMessage || code, reason, isRetryable(code, reason), undefined, { cause: e });
}

/** An ErrorFrame of the WebSocket bridge. */
export function fromErrorFrame(f: ErrorFrame): PresenceClientError {
  const code = codeName(f.code);
  const reason = f.reason === ErrorReason.UNSPECIFIED ? undefined : ErrorReason[f.reason];
  return new PresenceClientError(code, f.message || code, reason, isRetryable(code, reason));
}

/** Close codes of the bridge that name a reason (frames.proto). */
const CLOSE_REASONS: Record<number, string> = {
  4000: "DRAINING",
  4001: "SLOW_CONSUMER",
  4002: "INTERNAL",
  4003: "TOKEN_EXPIRED",
  4004: "STORE_UNAVAILABLE",
  4005: "SESSION_NOT_FOUND",
  4006: "RATE_LIMITED",
  4501: "UNAUTHENTICATED",
  4502: "PERMISSION_DENIED",
};

/**
 * A WebSocket close. 4500–4999 are terminal (bad request, unauthenticated, forbidden, too large);
 * every other code, 1000 and 1006 included, is worth a reconnect: the application still wants to
 * be present, and only the server's explicit "do not come back" range stops it.
 */
export function fromClose(code: number, reason: string): PresenceClientError {
  const terminal = code >= 4500 && code <= 4999;
  return new PresenceClientError("closed", `socket closed (${code}${reason ? ` ${reason}` : ""})`, CLOSE_REASONS[code], !terminal, code);
}
