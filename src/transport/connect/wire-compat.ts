import { Code, type ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { encodeEnvelope, type UniversalHandler, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, endStreamFlag, endStreamFromJson, endStreamToJson, errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { invalidArgument, limitExceeded, presenceError } from "../../core/presence-error.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * Three wire-level fixes to connect-es 2.1 error answers, applied by wrapping the router's handlers:
 *
 * 1. A binary request body that is not a valid protobuf message (truncated, bad varint, invalid
 *    UTF-8 in a string field) is answered `internal` ("parse binary: …") before any interceptor
 *    or handler runs. A client mistake is never `internal` (design I8): exactly that error becomes
 *    `invalid_argument` / INVALID_ARGUMENT (field `request`) on every protocol. The request is
 *    parsed before the first response byte, so the error is already in the first body chunk (or,
 *    on gRPC, in the trailer) when the handler resolves: only that chunk is inspected.
 * 2. A body over `readMaxBytes` is refused `resource_exhausted` with connect's own message and no
 *    details; it gets the reason every other refusal has (MESSAGE_TOO_LARGE, field `request`, the
 *    limit and, when the size is known, the size), the same reason the WebSocket bridge's 4503 has.
 * 3. On gRPC, connect percent-encodes `grpc-message` with `encodeURIComponent`, but grpc-js
 *    decodes it with `decodeURI`, which leaves `%3A` and friends: grpc-js users would read
 *    "room%3A must not be empty". The trailer is re-encoded as the gRPC spec says (only bytes
 *    outside printable ASCII, and `%`), which every client decodes to the original text.
 *
 * The body iterator is otherwise passed through untouched (its `throw`/`return` keep their
 * meaning for cancellation).
 */
export function withWireCompat(router: ConnectRouter): ConnectRouter {
  router.handlers.forEach((h, i) => {
    router.handlers[i] = Object.assign(async (req: Parameters<UniversalHandler>[0]) => remap(await h(req)), h);
  });
  return router;
}

const PARSE_PREFIX = "parse binary: ";

/** connect's `assertReadMaxBytes` message; the size is there only when the body's length was known. */
const TOO_LARGE = /^message size (?:(\d+) )?is larger than configured readMaxBytes (\d+)$/;

function replacement(e: ConnectError | undefined): ConnectError | undefined {
  if (e === undefined || e.details.length > 0) return undefined; // ours already carry a reason
  if (e.code === Code.Internal && e.rawMessage.startsWith(PARSE_PREFIX)) {
    return toConnectError(invalidArgument("request", `must be a valid protobuf message (${e.rawMessage.slice(PARSE_PREFIX.length)})`));
  }
  const tooLarge = e.code === Code.ResourceExhausted ? TOO_LARGE.exec(e.rawMessage) : null;
  if (tooLarge) {
    const limit = Number(tooLarge[2]);
    return toConnectError(
      tooLarge[1] === undefined
        ? presenceError("MESSAGE_TOO_LARGE", `request: must be at most ${limit} bytes`, { field: "request", limit })
        : limitExceeded("request", limit, Number(tooLarge[1]), "bytes", "MESSAGE_TOO_LARGE"),
    );
  }
  return undefined;
}

async function remap(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (res.body === undefined || res.header?.has("content-encoding")) return res;
  const it = res.body[Symbol.asyncIterator]();
  let first = await it.next();
  let status = res.status;
  const contentType = res.header?.get("content-type") ?? "";
  if (first.done === true) {
    const r = res.trailer && replacement(findTrailerError(res.trailer)); // gRPC: status in the trailer
    if (r && res.trailer) setTrailerStatus(res.trailer, r);
  } else if (status >= 400 && contentType.startsWith("application/json")) {
    // Connect unary: the whole error is one JSON chunk.
    const r = replacement(errorFromJsonBytes(first.value, undefined, toConnectError(undefined)));
    if (r) {
      first = { done: false, value: errorToJsonBytes(r, {}) };
      status = codeToHttpStatus(r.code);
      res.header?.set("content-length", String(first.value.byteLength));
    }
  } else {
    first = { done: false, value: remapEndOfStream(first.value, contentType) };
  }
  let head: IteratorResult<Uint8Array> | undefined = first;
  const grpcTrailer = contentType.startsWith("application/grpc") && !contentType.startsWith("application/grpc-web") ? res.trailer : undefined;
  return {
    ...res,
    status,
    body: {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          const r = head ?? (await it.next());
          head = undefined;
          if (r.done === true && grpcTrailer) reencodeGrpcMessage(grpcTrailer);
          return r;
        },
        throw: (e?: unknown) => it.throw?.(e) ?? Promise.reject(e),
        return: (v?: unknown) => it.return?.(v) ?? Promise.resolve({ done: true, value: undefined }),
      }),
    },
  };
}

/** gRPC-Web trailer frame or Connect end-stream frame (one uncompressed envelope per chunk). */
function remapEndOfStream(chunk: Uint8Array, contentType: string): Uint8Array {
  if (chunk.byteLength < 5 || new DataView(chunk.buffer, chunk.byteOffset).getUint32(1) !== chunk.byteLength - 5) return chunk;
  const data = chunk.subarray(5);
  if (chunk[0] === trailerFlag && contentType.startsWith("application/grpc-web")) {
    const trailer = trailerParse(data);
    const r = replacement(findTrailerError(trailer));
    return r ? encodeEnvelope(trailerFlag, trailerSerialize(setTrailerStatus(trailer, r))) : chunk;
  }
  if (chunk[0] === endStreamFlag && contentType.startsWith("application/connect+")) {
    const end = endStreamFromJson(data);
    const r = replacement(end.error);
    return r ? encodeEnvelope(endStreamFlag, new TextEncoder().encode(JSON.stringify(endStreamToJson(end.metadata, r, undefined)))) : chunk;
  }
  return chunk;
}

/** Percent-encodes `grpc-message` as the gRPC spec says: bytes outside 0x20–0x7E, and `%`. */
function reencodeGrpcMessage(trailer: Headers): void {
  const encoded = trailer.get("grpc-message");
  if (encoded === null) return;
  let text: string;
  try {
    text = decodeURIComponent(encoded);
  } catch {
    return;
  }
  let out = "";
  for (const b of new TextEncoder().encode(text)) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  trailer.set("grpc-message", out);
}
