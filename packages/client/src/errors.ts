import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { ErrorReason } from "../../../gen/presence/v1/errors_pb.js";
import type { ErrorFrame } from "../../../gen/presence/v1/frames_pb.js";
import { closeByCode, closeRetryOf, retryOf, statusName, type RetryPolicy } from "../../../src/core/error-policy.js";

export type { RetryPolicy } from "../../../src/core/error-policy.js";

/**
 * The one error type of the SDK. `code` is the gRPC status name in lower_snake (`unavailable`,
 * `not_found`, …) or `closed` for a WebSocket close; `reason` is the presence ErrorReason
 * (`SESSION_NOT_FOUND`, `TOKEN_EXPIRED`, …) when the server sent one. `retry` is the server's own
 * error policy (the table it shares with this SDK, docs/errors.md): `never`, `backoff`, `rejoin`
 * or `new_token`; the reconnect loop follows it.
 */
export class PresenceClientError extends Error {
  override readonly name = "PresenceClientError";
  /** What to do next, from the shared policy: by reason, else by status code, else by close code. */
  readonly retry: RetryPolicy;
  /** WebSocket close code, for `code = "closed"`. */
  readonly closeCode: number | undefined;
  constructor(
    readonly code: string,
    message: string,
    readonly reason?: string,
    options: { closeCode?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.closeCode = options.closeCode;
    this.retry = options.closeCode !== undefined ? closeRetryOf(options.closeCode) : retryOf(code, reason);
  }

  /** Trying again (after a backoff, a rejoin or with a fresh token) can succeed. */
  get retryable(): boolean {
    return this.retry !== "never";
  }

  /** The session is unknown, expired or reaped: join again (with a new session). */
  get sessionLost(): boolean {
    return this.retry === "rejoin";
  }

  /**
   * A terminal refusal of one request's input or rights (bad room, metadata too large, too many
   * rooms, permission denied): the room it concerns is dropped and the connection carries on.
   * Credential failures, unimplemented methods and closes concern the whole connection.
   */
  get requestRejected(): boolean {
    return this.retry === "never" && this.code !== "unauthenticated" && this.code !== "unimplemented" && this.code !== "closed";
  }
}

/** Normalises an error of a Connect call (or of fetch underneath it). */
export function fromConnectError(e: unknown): PresenceClientError {
  if (e instanceof PresenceClientError) return e;
  const ce = ConnectError.from(e);
  const code = statusName(ce.code);
  const reason = ce.findDetails(ErrorInfoSchema)[0]?.reason || undefined;
  return new PresenceClientError(code, ce.rawMessage || code, reason, { cause: e });
}

/** An ErrorFrame of the WebSocket bridge. */
export function fromErrorFrame(f: ErrorFrame): PresenceClientError {
  const code = statusName(f.code);
  const reason = f.reason === ErrorReason.UNSPECIFIED ? undefined : ErrorReason[f.reason];
  return new PresenceClientError(code, f.message || code, reason);
}

/** A WebSocket close: the reason our close codes stand for, and the advice of the shared policy. */
export function fromClose(code: number, reason: string): PresenceClientError {
  const closeReason = closeByCode(code)?.reason ?? undefined;
  return new PresenceClientError("closed", `socket closed (${code}${reason ? ` ${reason}` : ""})`, closeReason, { closeCode: code });
}
