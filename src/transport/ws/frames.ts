import { create, fromBinary, fromJsonString, toBinary, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type ClientFrame } from "../../../gen/presence/v1/frames_pb.js";
import { CLOSE, type CloseSpec } from "./close-codes.js";

/**
 * Framing of the WebSocket bridge: one ClientFrame per message, binary protobuf, or JSON text (the
 * protobuf JSON mapping) for debugging; answers are ServerFrames in the same encoding as the
 * socket speaks.
 *
 * Order of checks (design I6, "enforced before allocation"): the size first (over
 * `maxMessageBytes` → 4503, without parsing), then a synchronous copy of the bytes (uWS detaches
 * the message's ArrayBuffer when the handler returns, uws-notes §6.5; ws's message may be a view
 * of a larger read buffer; protobuf-es keeps unknown fields as views of its input), then parsing: a truncated or malformed message, invalid UTF-8
 * in a string field, unknown JSON fields, or a frame without a known type → 4500.
 */

/** Why a message was refused (label `reason` of `presence_ws_frames_rejected_total`). */
export type FrameRejection = "too_large" | "malformed" | "unknown_type";

/** A ClientFrame whose oneof is set to a type this server knows. */
export type KnownClientFrame = ClientFrame & { frame: Exclude<ClientFrame["frame"], { case: undefined }> };

export type DecodedFrame =
  | { ok: true; frame: KnownClientFrame; json: boolean }
  | { ok: false; rejection: FrameRejection; close: CloseSpec };

/** A copy of the message's bytes (uWS detaches its buffer; ws hands out views of its read buffers). */
const copyOf = (m: ArrayBuffer | Uint8Array): Uint8Array => (m instanceof Uint8Array ? new Uint8Array(m) : new Uint8Array(m.slice(0)));

/** The message as UTF-8 text (decoding copies). */
const textOf = (m: ArrayBuffer | Uint8Array): string =>
  (m instanceof Uint8Array ? Buffer.from(m.buffer, m.byteOffset, m.byteLength) : Buffer.from(m)).toString("utf8");

/** Decodes one WebSocket message. Synchronous: call it inside the engine's `message` handler. */
export function decodeClientFrame(message: ArrayBuffer | Uint8Array, isBinary: boolean, maxMessageBytes: number): DecodedFrame {
  if (message.byteLength > maxMessageBytes) return { ok: false, rejection: "too_large", close: CLOSE.TOO_LARGE };
  let frame: ClientFrame;
  try {
    frame = isBinary ? fromBinary(ClientFrameSchema, copyOf(message)) : fromJsonString(ClientFrameSchema, textOf(message));
  } catch {
    return { ok: false, rejection: "malformed", close: CLOSE.BAD_REQUEST };
  }
  if (frame.frame.case === undefined) return { ok: false, rejection: "unknown_type", close: CLOSE.BAD_REQUEST };
  return { ok: true, frame: frame as KnownClientFrame, json: !isBinary };
}

/** A ServerFrame to send: built once, encoded as binary protobuf or JSON text. */
export type ServerFrameInit = MessageInitShape<typeof ServerFrameSchema>;

/** Binary protobuf encoding of a ServerFrame. */
export function encodeBinary(frame: ServerFrameInit): Uint8Array {
  return toBinary(ServerFrameSchema, create(ServerFrameSchema, frame));
}

/** JSON text encoding of a ServerFrame (protobuf JSON mapping; 64-bit integers as strings). */
export function encodeJson(frame: ServerFrameInit): string {
  return toJsonString(ServerFrameSchema, create(ServerFrameSchema, frame));
}

/**
 * An encoded frame that is encoded at most once per format, on first use: a broadcast builds one
 * and hands it to every socket, binary or JSON. `binary` replaces the generic binary encoder (it
 * must give bytes that decode to `frame`: snapshot-frames.ts).
 */
export interface EncodedFrame {
  binary(): Uint8Array;
  json(): string;
}

export function lazyFrame(frame: ServerFrameInit, binary: () => Uint8Array = () => encodeBinary(frame)): EncodedFrame {
  let b: Uint8Array | undefined;
  let j: string | undefined;
  return {
    binary: () => (b ??= binary()),
    json: () => (j ??= encodeJson(frame)),
  };
}
