import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { PresenceError, type PresenceErrorCode } from "../../core/presence-error.js";

/** The error domain put in every google.rpc.ErrorInfo. */
export const ERROR_DOMAIN = "presence.v1";

/**
 * The one table: PresenceError codes → Connect (gRPC) codes. The WebSocket bridge reuses it for
 * the numeric `code` of its ErrorFrames (Connect's codes are the gRPC status numbers).
 */
export const CONNECT_CODES: Readonly<Record<PresenceErrorCode, Code>> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  limit_exceeded: Code.ResourceExhausted,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  unavailable: Code.Unavailable,
  failed_precondition: Code.FailedPrecondition,
  already_exists: Code.AlreadyExists,
  internal: Code.Internal,
};

/**
 * Maps any thrown value to a ConnectError, once, at the transport boundary. PresenceErrors keep
 * their message and get ErrorInfo (reason, field, limit) and, for input errors, BadRequest details.
 * ConnectErrors pass through. Anything else becomes `internal` without leaking its message.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof PresenceError) {
    const metadata: Record<string, string> = {};
    if (err.detail.field !== undefined) metadata.field = err.detail.field;
    if (err.detail.limit !== undefined) metadata.limit = String(err.detail.limit);
    if (err.detail.actual !== undefined) metadata.actual = String(err.detail.actual);
    const details: ConstructorParameters<typeof ConnectError>[3] = [
      { desc: ErrorInfoSchema, value: { reason: err.reason, domain: ERROR_DOMAIN, metadata } },
    ];
    if (err.code === "invalid_argument" && err.detail.field !== undefined) {
      details.push({ desc: BadRequestSchema, value: { fieldViolations: [{ field: err.detail.field, description: err.message }] } });
    }
    return new ConnectError(err.message, CONNECT_CODES[err.code], undefined, details, err);
  }
  return new ConnectError("internal error", Code.Internal, undefined, [
    { desc: ErrorInfoSchema, value: { reason: "INTERNAL", domain: ERROR_DOMAIN, metadata: {} } },
  ], err);
}
