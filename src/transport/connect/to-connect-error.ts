import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { STATUS_CODES } from "../../core/error-policy.js";
import { detailMetadata, PresenceError } from "../../core/presence-error.js";

/** The error domain put in every google.rpc.ErrorInfo. */
export const ERROR_DOMAIN = "presence.v1";

/**
 * Maps any thrown value to a ConnectError, once, at the transport boundary. PresenceErrors keep
 * their message and get the status code of their reason (`core/error-policy.ts`), ErrorInfo
 * (reason, field, limit) and, for input errors, BadRequest details. ConnectErrors pass through.
 * Anything else becomes `internal` without leaking its message.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof PresenceError) {
    const metadata = detailMetadata(err.detail);
    const details: ConstructorParameters<typeof ConnectError>[3] = [
      { desc: ErrorInfoSchema, value: { reason: err.reason, domain: ERROR_DOMAIN, metadata } },
    ];
    if (err.code === "invalid_argument" && err.detail.field !== undefined) {
      details.push({ desc: BadRequestSchema, value: { fieldViolations: [{ field: err.detail.field, description: err.message }] } });
    }
    // Connect's `Code` values are the gRPC status numbers of the policy table.
    return new ConnectError(err.message, STATUS_CODES[err.code].grpc as Code, undefined, details, err);
  }
  return new ConnectError("internal error", Code.Internal, undefined, [
    { desc: ErrorInfoSchema, value: { reason: "INTERNAL", domain: ERROR_DOMAIN, metadata: {} } },
  ], err);
}
