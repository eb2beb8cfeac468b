import type { Activity, LeaveReason, Position, PresenceEvent } from "../../core/presence-event.js";
import { decodeRoomMessage } from "./codec.js";
import type { PendingCursor } from "./cursor-batcher.js";
import { ScriptReply, type ScriptContext } from "./script-reply.js";

/**
 * Typed wrappers of the room scripts (lua/room*.lua): each owns its KEYS/ARGV and decodes its
 * reply into a named result; the status tables below are the only place script status numbers
 * appear. Every committed event is handed to `committed` (metrics and the commit feed), so no
 * caller can commit without reporting it.
 */
const JOIN = { 1: "joined", 2: "updated", 0: "unchanged" } as const;
const LEAVE = { 1: "left", 0: "absent" } as const;
const ACTIVITY = { 1: "updated", 0: "unchanged" } as const;
const TYPING = { 1: "changed", 0: "unchanged", [-1]: "not_in_room" } as const;

export interface RoomJoinArgs {
  connectionId: string;
  /** The member as stored (codec `encodeMember`). */
  memberJson: string;
  /** `u:<userId>` or `a:<anonymousId>` (codec `identityKey`). */
  identityKey: string;
  /** The epoch to give the room if it has no state. */
  epoch: string;
}

export interface RoomJoinReply {
  status: (typeof JOIN)[keyof typeof JOIN];
  /** The committed event (null when unchanged, and for an anonymous member's metadata update). */
  event: PresenceEvent | null;
  /** True when this call created the room's state (new epoch). */
  created: boolean;
}

export interface RoomScripts {
  join(room: string, a: RoomJoinArgs): Promise<RoomJoinReply>;
  /** Fenced by session id: only the session owning the connection entry removes it. */
  leave(room: string, a: { connectionId: string; sessionId: string; reason: LeaveReason }): Promise<{ event: PresenceEvent | null }>;
  activity(room: string, a: { connectionId: string; sessionId: string; activity: Activity }): Promise<{ event: PresenceEvent | null }>;
  typing(room: string, a: { connectionId: string; sessionId: string; userId: string; typing: boolean }): Promise<(typeof TYPING)[keyof typeof TYPING]>;
  /** Stores and publishes a batch of cursors; returns how many were applied. */
  cursors(room: string, cursors: Map<string, PendingCursor>): Promise<number>;
  /** Gives the room state (an epoch) if it has none and returns its position. */
  touch(room: string, epoch: string): Promise<Position>;
}

export function createRoomScripts(c: ScriptContext, committed: (event: PresenceEvent) => void): RoomScripts {
  const t = c.timings;
  const roomKeys = (room: string) => {
    const k = c.keys.room(room);
    return { k, all: [k.meta, k.members, k.counters, k.log, k.typing, k.cursors] };
  };
  const eventOf = (json: string): PresenceEvent | null => {
    if (json === "") return null;
    const m = decodeRoomMessage(json);
    if (m?.type !== "event") return null;
    committed(m.event);
    return m.event;
  };
  return {
    async join(room, a) {
      const { k, all } = roomKeys(room);
      const args = [a.connectionId, a.memberJson, a.identityKey, a.epoch, c.nowArg(), t.logMaxEntries, t.logMaxAgeMs, k.channel, c.pub, room];
      const r = new ScriptReply("roomJoin", await c.run("roomJoin", all, args));
      return { status: r.status(0, JOIN), event: eventOf(r.str(3)), created: r.int(4) === 1 };
    },
    async leave(room, a) {
      const { k, all } = roomKeys(room);
      const args = [a.connectionId, a.sessionId, a.reason, c.nowArg(), t.logMaxEntries, t.logMaxAgeMs, k.channel, c.pub, room, t.roomRetentionMs];
      const r = new ScriptReply("roomLeave", await c.run("roomLeave", all, args));
      return { event: r.status(0, LEAVE) === "left" ? eventOf(r.str(2)) : null };
    },
    async activity(room, a) {
      const k = c.keys.room(room);
      const args = [a.connectionId, a.sessionId, a.activity, c.nowArg(), t.logMaxEntries, t.logMaxAgeMs, k.channel, c.pub, room];
      const r = new ScriptReply("roomActivity", await c.run("roomActivity", [k.meta, k.members, k.log], args));
      return { event: r.status(0, ACTIVITY) === "updated" ? eventOf(r.str(1)) : null };
    },
    async typing(room, a) {
      const k = c.keys.room(room);
      const args = [a.connectionId, a.sessionId, a.userId, a.typing ? "1" : "0", c.nowArg(), t.typingTtlMs, k.channel, c.pub, room];
      const r = new ScriptReply("roomTyping", await c.run("roomTyping", [k.meta, k.members, k.typing], args));
      return r.status(0, TYPING);
    },
    async cursors(room, cursors) {
      const k = c.keys.room(room);
      const args: (string | number)[] = [c.nowArg(), k.channel, c.pub, room];
      for (const [conn, cur] of cursors) args.push(conn, cur.sid, cur.userId, JSON.stringify(cur.position));
      const r = new ScriptReply("roomCursors", await c.run("roomCursors", [k.members, k.cursors], args));
      return r.int(0);
    },
    async touch(room, epoch) {
      const { all } = roomKeys(room);
      const r = new ScriptReply("roomTouch", await c.run("roomTouch", all, [epoch, t.roomRetentionMs]));
      return { epoch: r.str(0), version: r.int(1) };
    },
  };
}
