import type { Activity, LeaveReason, Position, PresenceEvent } from "../../core/presence-event.js";
import type { PresenceOverride } from "../../core/presence-override.js";
import { decodeRoomMessage } from "./codec.js";
import { roomEnded, roomFull, type ManagedRoom } from "../../core/room-lifecycle.js";
import type { PendingCursor } from "./cursor-batcher.js";
import { ScriptReply, type ScriptContext } from "./script-reply.js";

/**
 * Typed wrappers of the room scripts (lua/room*.lua): each owns its KEYS/ARGV and decodes its
 * reply into a named result; the status tables below are the only place script status numbers
 * appear. Every committed event is handed to `committed` (metrics and the commit feed), so no
 * caller can commit without reporting it.
 */
const JOIN = { 1: "joined", 2: "updated", 0: "unchanged", 3: "superseded", [-2]: "ended", [-3]: "full" } as const;

/** The call number of reaping, kicks and sweeps: above any call of the session (nothing comes back). */
export const FINAL_CALL = Number.MAX_SAFE_INTEGER;
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
  /** The number of the session call that joins (from its session step). */
  seq: number;
  /** The session expiry its session step set: a join arriving later is superseded (0 = none). */
  validUntilMs: number;
  /** Re-assertion after data loss: skip the fencing checks. */
  force?: boolean;
  /** Answer with the room's view after the join, read in the same step (Join, Navigate). */
  withView?: boolean;
  /**
   * The user's manual presence, which the connection shows its activity through: known by the
   * caller, or `{ readFrom }` the user's status hash, read by the join itself (standalone Redis
   * only: on Cluster it is another slot). Default "auto" (anonymous viewers, re-assertion).
   */
  override?: PresenceOverride | { readFrom: string };
}

/**
 * A room read inside a script: meta {e, v, nu, nc, na}, members, typing and cursors hashes, and the
 * script's time, against which typing ends and cursor times are judged (room-reader.ts builds the view).
 */
export interface RoomReadParts {
  meta: (string | null)[];
  members: Record<string, string>;
  typing: Record<string, string>;
  cursors: Record<string, string>;
  timeMs: number;
}

/** A room's position and its log entries (`XRANGE` replies: id, [field, value, …]). */
export interface RoomLogParts {
  epoch: string | null;
  version: string | null;
  entries: [string, string[]][];
}

export interface RoomJoinReply {
  status: (typeof JOIN)[keyof typeof JOIN];
  /** The committed event (null when unchanged, and for an anonymous member's metadata update). */
  event: PresenceEvent | null;
  /** True when this call created the room's state (new epoch). */
  created: boolean;
  /** With `withView`: the room after the call. */
  view: RoomReadParts | null;
  /** The managed room's `away_after_ms` while it is open (0: implicit, or none): the session's threshold takes it in. */
  roomAwayMs: number;
  /** The room has a managed-room record (rooms.proto); false: an implicit room. */
  managed: boolean;
}

export interface RoomScripts {
  join(room: string, a: RoomJoinArgs): Promise<RoomJoinReply>;
  /**
   * Fenced by session id (only the session owning the connection entry removes it) and by call
   * number (an entry a later call of the session wrote stays; `FINAL_CALL` for reaps and kicks).
   * Leaves a tombstone for one TTL unless `tombstone` is false (reaps of expired sessions, sweeps of
   * orphans: a join still on its way is past its lease and dropped anyway, see lua/roomLeave).
   */
  leave(room: string, a: { connectionId: string; sessionId: string; reason: LeaveReason; seq: number; tombstone?: boolean }): Promise<{ event: PresenceEvent | null }>;
  activity(room: string, a: { connectionId: string; sessionId: string; activity: Activity }): Promise<{ event: PresenceEvent | null }>;
  /** Moves the connection's last activity forward (no event); false when it was not the session's or not behind. */
  stamp(room: string, a: { connectionId: string; sessionId: string; lastActiveMs: number }): Promise<boolean>;
  typing(room: string, a: { connectionId: string; sessionId: string; userId: string; typing: boolean }): Promise<(typeof TYPING)[keyof typeof TYPING]>;
  /** Stores and publishes a batch of cursors; returns how many were applied. */
  cursors(room: string, cursors: Map<string, PendingCursor>): Promise<number>;
  /** Gives the room state (an epoch) if it has none and returns its position. */
  touch(room: string, epoch: string): Promise<Position>;
  /** A new epoch when the room is still at `seen.epoch` below `seen.version` (a rollback); returns its position. */
  renewEpoch(room: string, seen: Position, epoch: string): Promise<Position>;
  /** The room's state, read atomically, and Redis' time of the read. */
  read(room: string): Promise<RoomReadParts>;
  /** The room's position and event log, read atomically. */
  readLog(room: string): Promise<RoomLogParts>;
}

export function createRoomScripts(c: ScriptContext, committed: (event: PresenceEvent) => void): RoomScripts {
  const t = c.timings;
  const roomKeys = (room: string) => {
    const k = c.keys.room(room);
    return { k, all: [k.meta, k.members, k.counters, k.log, k.typing, k.cursors], fenced: [k.meta, k.members, k.counters, k.log, k.typing, k.cursors, k.gone, k.goneExpiry] };
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
      const { k, fenced } = roomKeys(room);
      const args = [a.connectionId, a.memberJson, a.identityKey, a.epoch, c.nowArg(), t.logMaxEntries, t.logMaxAgeMs, k.channel, c.pub, room];
      const ov = a.override ?? "auto";
      args.push(a.seq, a.validUntilMs, a.force ? "1" : "0", a.withView ? "1" : "0", c.limits.largeRoomThreshold, typeof ov === "string" ? ov : "read");
      const r = new ScriptReply("roomJoin", await c.run("roomJoin", [...fenced, k.cfg, typeof ov === "string" ? k.meta : ov.readFrom], args));
      const status = r.status(0, JOIN);
      if (status === "ended") throw roomEnded(JSON.parse(r.str(4)) as ManagedRoom);
      if (status === "full") throw roomFull(room, Number(r.str(4)));
      const view = a.withView ? { meta: r.array(6).map((v) => (v === null ? null : String(v))), members: r.hash(7), typing: r.hash(8), cursors: r.hash(9), timeMs: r.int(10) } : null;
      return { status, event: eventOf(r.str(3)), created: r.int(4) === 1, view, roomAwayMs: r.int(5), managed: r.int(a.withView ? 11 : 6) === 1 };
    },
    async leave(room, a) {
      const { k, fenced } = roomKeys(room);
      const args = [a.connectionId, a.sessionId, a.reason, c.nowArg(), t.logMaxEntries, t.logMaxAgeMs, k.channel, c.pub, room, t.roomRetentionMs, a.tombstone === false ? 0 : t.sessionTtlMs, a.seq];
      const r = new ScriptReply("roomLeave", await c.run("roomLeave", fenced, args));
      return { event: r.status(0, LEAVE) === "left" ? eventOf(r.str(2)) : null };
    },
    async activity(room, a) {
      const k = c.keys.room(room);
      const args = [a.connectionId, a.sessionId, a.activity, c.nowArg(), t.logMaxEntries, t.logMaxAgeMs, k.channel, c.pub, room];
      const r = new ScriptReply("roomActivity", await c.run("roomActivity", [k.meta, k.members, k.log], args));
      return { event: r.status(0, ACTIVITY) === "updated" ? eventOf(r.str(1)) : null };
    },
    async stamp(room, a) {
      const r = new ScriptReply("roomStamp", await c.run("roomStamp", [c.keys.room(room).members], [a.connectionId, a.sessionId, a.lastActiveMs]));
      return r.int(0) === 1;
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
    async renewEpoch(room, seen, epoch) {
      const k = c.keys.room(room);
      const r = new ScriptReply("roomRenewEpoch", await c.run("roomRenewEpoch", [k.meta, k.log], [seen.epoch, seen.version, epoch]));
      return { epoch: r.str(1), version: r.int(2) };
    },
    async read(room) {
      const k = c.keys.room(room);
      const r = new ScriptReply("roomRead", await c.run("roomRead", [k.meta, k.members, k.typing, k.cursors], [c.nowArg()]));
      return { meta: r.array(0).map((v) => (v === null ? null : String(v))), members: r.hash(1), typing: r.hash(2), cursors: r.hash(3), timeMs: r.int(4) };
    },
    async readLog(room) {
      const k = c.keys.room(room);
      const r = new ScriptReply("roomReadLog", await c.run("roomReadLog", [k.meta, k.log], []));
      return { epoch: r.strOrNull(0), version: r.strOrNull(1), entries: r.array(2) as [string, string[]][] };
    },
    async touch(room, epoch) {
      const { all } = roomKeys(room);
      const r = new ScriptReply("roomTouch", await c.run("roomTouch", all, [epoch, t.roomRetentionMs]));
      return { epoch: r.str(0), version: r.int(1) };
    },
  };
}
