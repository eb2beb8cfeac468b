import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import { STATUS_CODES } from "../core/error-policy.js";
import { detailMetadata, PresenceError } from "../core/presence-error.js";

/** An error as the fields of an ErrorFrame (WebSocket bridge) or an ItemError (batches, Track). */
export interface ErrorFields {
  code: number;
  reason: ErrorReason;
  message: string;
  metadata: Record<string, string>;
}

/**
 * The gRPC status number of the error's reason, the ErrorReason, the message (names the field and
 * the limit) and `field` / `limit` / `actual` metadata. Anything but a PresenceError is INTERNAL and
 * never leaks its message. `extra` metadata (e.g. the room of a failed watch) is added as is.
 */
export function errorFieldsOf(err: unknown, extra: Record<string, string> = {}): ErrorFields {
  if (!(err instanceof PresenceError)) {
    return { code: STATUS_CODES.internal.grpc, reason: ErrorReason.INTERNAL, message: "internal error", metadata: { ...extra } };
  }
  return { code: STATUS_CODES[err.code].grpc, reason: ErrorReason[err.reason], message: err.message, metadata: { ...extra, ...detailMetadata(err.detail) } };
}
