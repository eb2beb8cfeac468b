import type { Clock } from "../core/clock.js";
import { ownerKeyOf, type Caller } from "../core/identity.js";
import { invalidArgument, limitExceeded, presenceError } from "../core/presence-error.js";
import type { RoomBroadcastMessage } from "../core/presence-event.js";
import { parseRoomName } from "../core/room-name.js";
import type { RoomStore } from "../store/presence-store.js";
import { takeFrameToken, type FrameBucket } from "../core/frame-rate.js";

/**
 * PresenceService.Broadcast, the service side: custom ephemeral room events. Validated (room,
 * type, payload size), rate-limited per session (or per caller when sent without one: a token
 * bucket, refused with RATE_LIMITED, not coalesced: an event is not a state), authorised (the
 * `join` right on the room, and a member's own session in the room, or the service/admin role
 * without a session), then published
 * through the store to every node's watchers. Never stored.
 */
export interface BroadcastOptions {
  rooms: Pick<RoomStore, "broadcast">;
  clock: Clock;
  maxRoomNameBytes: number;
  maxBytes: number;
  ratePerSec: number;
  burst: number;
  /**
   * The access model's check for the room (op `join`: a caller may broadcast where it may join, as
   * agreed with the access track); rejects with ROOM_FORBIDDEN or AUTH_UNAVAILABLE.
   */
  authorize(caller: Caller, room: string): Promise<void>;
  /** Each published broadcast (backend events: webhooks, WatchEvents). */
  onBroadcast?(message: RoomBroadcastMessage): void;
}

export interface BroadcastCommand {
  room: string;
  type: string;
  payloadJson: string;
  /** Serialized size of the payload (the limit applies to it). */
  payloadBytes: number;
  sessionId: string;
}

export type BroadcastFn = (caller: Caller, req: BroadcastCommand) => Promise<RoomBroadcastMessage>;

const TYPE = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Buckets idle this long are full again: forgotten (bounded memory). */
const SWEEP_EVERY = 1_000;

export function createBroadcast(o: BroadcastOptions): BroadcastFn {
  const buckets = new Map<string, FrameBucket>();
  let calls = 0;
  const sweep = (now: number) => {
    const fullAfterMs = (o.burst / o.ratePerSec) * 1000;
    for (const [k, b] of buckets) if (now - b.frameTokensAtMs > fullAfterMs) buckets.delete(k);
  };
  return async (caller, req) => {
    const room = parseRoomName(req.room, o.maxRoomNameBytes, "room");
    if (!TYPE.test(req.type)) throw invalidArgument("type", "must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'");
    if (req.payloadBytes > o.maxBytes) throw limitExceeded("payload", o.maxBytes, req.payloadBytes, "bytes", "MESSAGE_TOO_LARGE");
    if (req.sessionId === "" && caller.role !== "service" && caller.role !== "admin") {
      throw presenceError("PERMISSION_DENIED", "session_id: only the service or admin role may broadcast without a session (members send with their session)", { field: "session_id" });
    }
    if (req.sessionId !== "" && caller.role === "anonymous") {
      throw presenceError("PERMISSION_DENIED", "session_id: anonymous viewers may not broadcast", { field: "session_id" });
    }
    await o.authorize(caller, room);
    const now = o.clock.now();
    if (++calls % SWEEP_EVERY === 0) sweep(now);
    const key = req.sessionId || `caller:${ownerKeyOf(caller)}`;
    let bucket = buckets.get(key);
    if (!bucket) buckets.set(key, (bucket = { frameTokens: o.burst, frameTokensAtMs: now }));
    if (!takeFrameToken(bucket, now, o.ratePerSec, o.burst)) {
      throw presenceError("RATE_LIMITED", `broadcast: at most ${o.ratePerSec} per second (burst ${o.burst}) per ${req.sessionId ? "session" : "caller"} (PRESENCE_BROADCAST_RATE_PER_SEC)`, {
        field: req.sessionId ? "session_id" : "broadcast",
        limit: o.ratePerSec,
      });
    }
    let sent: RoomBroadcastMessage;
    try {
      sent = await o.rooms.broadcast({ room, type: req.type, payloadJson: req.payloadJson, timeMs: now }, req.sessionId ? { sessionId: req.sessionId, ownerKey: ownerKeyOf(caller) } : undefined);
    } catch (e) {
      bucket.frameTokens = Math.min(o.burst, bucket.frameTokens + 1); // refused: it did not count
      throw e;
    }
    o.onBroadcast?.(sent);
    return sent;
  };
}
