import { Code, ConnectError } from "@connectrpc/connect";
import * as zlib from "node:zlib";
import { invalidArgument, limitExceeded } from "../../core/presence-error.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * gRPC length-prefixed messages (envelopes) of a request body, for the gRPC fast path: a 5-byte
 * prefix (flags, then the length, big-endian) and the message. Refusals, the same as the Connect
 * path after wire-compat.ts: a message over `maxBytes` is `resource_exhausted` / MESSAGE_TOO_LARGE
 * (field `request`, the limit and the announced size) as soon as its prefix arrives, before it is
 * buffered; a body that ends inside an envelope is `invalid_argument` ("protocol error: incomplete
 * envelope"); a compressed message is inflated with `grpc-encoding` (gzip or deflate) and the
 * inflated size is bounded the same way; a compressed flag without an encoding is invalid_argument.
 */
export type Decompressor = (data: Buffer, maxBytes: number) => Buffer;

/** The request encodings the fast path inflates (`grpc-encoding`); `identity` is no encoding. */
export const DECOMPRESSORS: Readonly<Record<string, Decompressor>> = {
  gzip: (data, maxOutputLength) => zlib.gunzipSync(data, { maxOutputLength }),
  deflate: (data, maxOutputLength) => zlib.inflateSync(data, { maxOutputLength }),
};

/** What a server tells clients it accepts (`grpc-accept-encoding`). */
export const ACCEPT_ENCODING = "identity,gzip,deflate";

const tooLarge = (limit: number, actual: number) => toConnectError(limitExceeded("request", limit, actual, "bytes", "MESSAGE_TOO_LARGE"));

/** Splits a request body into messages as chunks arrive. */
export class EnvelopeReader {
  private pending: Buffer | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly decompress: Decompressor | undefined,
  ) {}

  /** Adds a chunk; returns the messages it completed (often none or one). Throws a ConnectError. */
  push(chunk: Buffer): Buffer[] {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    const out: Buffer[] = [];
    while (buf.length >= 5) {
      const length = buf.readUInt32BE(1);
      if (length > this.maxBytes) throw tooLarge(this.maxBytes, length);
      if (buf.length < 5 + length) break;
      out.push(this.message(buf[0]!, buf.subarray(5, 5 + length)));
      buf = buf.subarray(5 + length);
    }
    if (buf.length > 0) this.pending = buf;
    return out;
  }

  /** The body ended: throws if it ended inside an envelope. */
  end(): void {
    if (this.pending !== undefined) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }

  private message(flags: number, data: Buffer): Buffer {
    if ((flags & 0x01) === 0) return data;
    if (this.decompress === undefined) {
      throw toConnectError(invalidArgument("request", "is a compressed message, but the request has no grpc-encoding"));
    }
    try {
      return this.decompress(data, this.maxBytes);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(this.maxBytes, this.maxBytes + 1);
      throw toConnectError(invalidArgument("request", `must be a valid compressed message (${(e as Error).message})`));
    }
  }
}

/** One message as a gRPC envelope (uncompressed). */
export function envelope(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.byteLength);
  out[0] = 0;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

/**
 * `grpc-message` as the gRPC spec percent-encodes it: bytes outside 0x20–0x7E, and `%`; every
 * client (grpc-js, grpcio, buf) decodes that to the original text (wire-compat.ts fix 3).
 */
export function encodeGrpcMessage(text: string): string {
  // Fast path: printable ASCII without '%' is sent as is.
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = "";
  for (const b of Buffer.from(text, "utf8")) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
