import type { Cursor, Member, Position, PresenceEvent, RoomView } from "../../core/presence-event.js";
import { emptyRoomView, groupByUser } from "../../core/room-state.js";
import { decodeMember, decodeRoomMessage, type StoredMember } from "./codec.js";
import type { RedisContext } from "./redis-context.js";
import type { RoomReadParts } from "./room-scripts.js";

/**
 * A room's atomic reads (one read-only script on the room's slot: lua/roomRead, roomReadLog) and
 * their decoding into a view or a run of logged events. The decoders are pure; `readRoomView` /
 * `readRoomLog` issue the calls.
 */
type Replies = [Error | null, unknown][];

/**
 * Reads a room atomically and builds the view (`join`: members unless above the large-room
 * threshold). Typing ends and cursor ages are judged by Redis' time of the read, like their
 * stamps, so a node whose clock is off shows the same typing and cursors as the others (F-T1).
 */
export async function readRoomView(ctx: RedisContext, room: string, detail: "full" | "counts" | "join"): Promise<RoomView> {
  const parts = await ctx.rooms.read(room);
  return viewFromReplies(room, partsAsReplies(parts), detail, parts.timeMs, ctx.limits.largeRoomThreshold, ctx.timings.cursorTtlMs);
}

const partsAsReplies = (parts: RoomReadParts): Replies => [
  [null, parts.meta],
  [null, parts.members],
  [null, parts.typing],
  [null, parts.cursors],
];

/** The view a Join or Navigate answers with, from the room read inside its join script. */
export function viewFromScript(ctx: RedisContext, room: string, parts: RoomReadParts): RoomView {
  return viewFromReplies(room, partsAsReplies(parts), "join", parts.timeMs, ctx.limits.largeRoomThreshold, ctx.timings.cursorTtlMs);
}

/** The room's logged events after `from`, or null when they cannot be replayed exactly. */
export async function readRoomLog(ctx: RedisContext, room: string, from: Position): Promise<PresenceEvent[] | null> {
  const parts = await ctx.rooms.readLog(room);
  return eventsFromReplies([[null, [parts.epoch, parts.version]], [null, parts.entries]], from);
}

/** Replies of `HMGET meta e v nu nc na`, `HGETALL members`, `HGETALL typing`, `HGETALL cursors`. */
export function viewFromReplies(room: string, res: Replies, detail: "full" | "counts" | "join", now: number, largeRoomThreshold: number, cursorTtlMs: number): RoomView {
    const [e, v, nu, nc, na] = res[0]![1] as (string | null)[];
    const includeMembers = detail === "full" || (detail === "join" && Number(nc ?? 0) <= largeRoomThreshold);
    if (!e) return emptyRoomView(room, includeMembers);
    const counts = { users: Number(nu ?? 0), connections: Number(nc ?? 0), anonymous: Number(na ?? 0) };
    if (!includeMembers) {
      return { room, epoch: e, version: Number(v ?? 0), counts, users: [], membersOmitted: true, typing: [], cursors: [] };
    }
    const members: Member[] = Object.values(res[1]![1] as Record<string, string>)
      .map((json) => decodeMember(JSON.parse(json) as StoredMember))
      .sort((a, b) => a.joinedAtMs - b.joinedAtMs);
    const typing = Object.entries(res[2]![1] as Record<string, string>)
      .map(([userId, until]) => ({ userId, expiresInMs: Number(until) - now }))
      .filter((t) => t.expiresInMs > 0);
    const cursors = Object.values(res[3]![1] as Record<string, string>)
      .map((json) => JSON.parse(json) as Cursor)
      .filter((c) => c.updatedAtMs > now - cursorTtlMs);
    return { room, epoch: e, version: Number(v ?? 0), counts, users: groupByUser(members), membersOmitted: false, typing, cursors, readAtMs: now };
}

/**
 * Replies of `HMGET meta e v` and `XRANGE log - +`: the events after `from`, or null when they
 * cannot be replayed exactly (other epoch, future version, or version + 1 no longer kept).
 */
export function eventsFromReplies(res: Replies, from: Position): PresenceEvent[] | null {
    const [e, v] = res[0]![1] as [string | null, string | null];
    const version = Number(v ?? 0);
    if (!e || e !== from.epoch || from.version > version) return null;
    if (from.version === version) return [];
    const entries = (res[1]![1] as [string, string[]][]).map(([, fields]) => {
      const f = new Map<string, string>();
      for (let i = 0; i < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
      return f;
    });
    const events: PresenceEvent[] = [];
    for (const f of entries) {
      if (Number(f.get("v")) <= from.version) continue;
      const msg = decodeRoomMessage(f.get("e")!);
      if (msg?.type === "event") events.push(msg.event);
    }
    if (events.length === 0 || events[0]!.version !== from.version + 1) return null;
    for (let i = 1; i < events.length; i++) if (events[i]!.version !== events[i - 1]!.version + 1) return null;
    return events;
}
