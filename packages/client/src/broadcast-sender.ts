import type { JsonValue } from "@bufbuild/protobuf";
import { PresenceClientError } from "./errors.js";
import { payloadToPb } from "./proto-mapping.js";
import type { PresenceTransport } from "./transport.js";
import type { BroadcastResult } from "./types.js";

/**
 * Sending a room broadcast (`handle.broadcast`): the server's own checks first, so a bad call fails
 * at once with the code and reason the server would answer (the server checks again and is the
 * authority: its PRESENCE_BROADCAST_MAX_BYTES may be lower than this client's `broadcastMaxBytes`),
 * then one PresenceService.Broadcast as this tab's session (a `broadcast` frame on the WebSocket,
 * a unary call on Connect). A broadcast is an event, not a state: it is never queued or retried;
 * when the room is not joined on a live connection the call rejects with `unavailable`.
 */
export interface BroadcastSenderDeps {
  transport: Pick<PresenceTransport, "broadcast">;
  /** The session to send as, when the room is joined on a live connection; else null. */
  sessionIn(room: string): { sessionId: string } | null;
  /** `broadcastMaxBytes` of the client options. */
  maxBytes: number;
}

/** The server's rule for `type` (src/service/broadcast.ts). */
const TYPE = /^[A-Za-z0-9_.:-]{1,64}$/;

export type BroadcastSender = (room: string, type: string, payload: JsonValue) => Promise<BroadcastResult>;

export function createBroadcastSender(d: BroadcastSenderDeps): BroadcastSender {
  return async (room, type, payload) => {
    if (!TYPE.test(type)) {
      throw new PresenceClientError("invalid_argument", "type: must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'", "INVALID_ARGUMENT");
    }
    let encoded: ReturnType<typeof payloadToPb>;
    try {
      encoded = payloadToPb(payload);
    } catch (e) {
      throw new PresenceClientError("invalid_argument", `payload: not a JSON value (${e instanceof Error ? e.message : String(e)})`, "INVALID_ARGUMENT", { cause: e });
    }
    if (encoded.bytes > d.maxBytes) {
      throw new PresenceClientError("resource_exhausted", `payload: must be at most ${d.maxBytes} bytes (got ${encoded.bytes}; broadcastMaxBytes)`, "MESSAGE_TOO_LARGE");
    }
    const s = d.sessionIn(room);
    if (!s) throw new PresenceClientError("unavailable", `broadcast: room "${room}" is not joined on a live connection (await handle.ready; broadcasts are not queued)`);
    const res = await d.transport.broadcast({ room, type, payload: encoded.value, sessionId: s.sessionId });
    return { localWatchers: res.localWatchers };
  };
}
