import type { MessageInitShape } from "@bufbuild/protobuf";
import { ErrorReason } from "../../../gen/presence/v1/errors_pb.js";
import type { ErrorFrameSchema } from "../../../gen/presence/v1/frames_pb.js";
import { CLOSE_CODES, closeByCode, ERROR_REASONS, type CloseCodeName } from "../../core/error-policy.js";
import { PresenceError } from "../../core/presence-error.js";
import { errorFieldsOf } from "../error-wire.js";

/**
 * WebSocket close codes and ErrorFrames of the bridge, translated from the one error policy
 * (`core/error-policy.ts`: which close code an error ends a socket with, which status code an
 * ErrorFrame carries). Nothing here decides a policy.
 *
 * Frames over twice the message limit never reach us: the engine cuts them itself (uWS drops the
 * connection: the client sees 1006 without a close frame; ws closes with 1009). A text frame with
 * invalid UTF-8 likewise: uWS 1006, ws 1007.
 */

/** What `ws.end(code, reason)` takes: the close code and its short reason text. */
export interface CloseSpec {
  readonly code: number;
  readonly reason: string;
}

/** Every close code the bridge sends, by its `presence.v1.CloseCode` name. */
export const CLOSE = Object.fromEntries(
  Object.entries(CLOSE_CODES).map(([name, c]) => [name, { code: c.code, reason: c.text }]),
) as Readonly<Record<CloseCodeName, CloseSpec>>;

/** The close code for an error: PresenceErrors by reason, anything else 4002 "server error". */
export function closeFor(err: unknown): CloseSpec {
  const name = err instanceof PresenceError ? ERROR_REASONS[err.reason].close : null;
  return CLOSE[name ?? "SERVER_ERROR"];
}

/**
 * The ErrorFrame for an error answering a frame: the gRPC status number of its reason, the
 * ErrorReason, the message (names the field and the limit) and `field` / `limit` / `actual`
 * metadata. Anything but a PresenceError is INTERNAL and never leaks its message. `extra`
 * metadata (e.g. the room of a failed watch) is added as is.
 */
export function errorFrameFor(err: unknown, extra: Record<string, string> = {}): MessageInitShape<typeof ErrorFrameSchema> {
  return errorFieldsOf(err, extra);
}

/** Label value for `presence_ws_closes_total{code}`: the code when it is ours, else its class. */
export function closeCodeLabel(code: number): string {
  if (code === 1000 || code === 1001 || code === 1005 || code === 1006 || code === 1007 || code === 1009) return String(code);
  if (closeByCode(code)) return String(code);
  return code >= 4000 && code <= 4999 ? "4xxx_other" : "other";
}
