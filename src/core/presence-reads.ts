import { PresenceError, sessionNotFound } from "./presence-error.js";
import { markIdle, overrideOf, requireSession, roomOf, type Effects, type ModelRoom, type PresenceModel } from "./presence-model.js";
import type { PresenceOverride } from "./presence-override.js";
import { showOverride } from "./presence-seeds.js";
import type { CursorPosition, Position, PresenceEvent, RoomBroadcastMessage, RoomView } from "./presence-event.js";
import { applyTyping, buildRoomView, countsOf, emptyRoomView, readLogFrom, trimLog } from "./room-state.js";
import { compareRooms, type RoomSummary } from "./room-summary.js";
import { applySetStatus, userStatusOf } from "./user-presence.js";
import type { UserStatusRecord } from "./user-status.js";
import { settingsChange } from "./commit.js";

/**
 * Reads of the presence model (views, logs, positions, room lists, user statuses) and the calls
 * that are not membership: typing, cursors, custom status and invisibility, and watching a room
 * (which keeps its state alive). Pure; every call takes `nowMs`.
 */

/** The room's view (members omitted when `includeMembers` is false); an unknown room is empty. */
export function modelView(m: PresenceModel, room: string, includeMembers: boolean, nowMs: number): RoomView {
  const r = m.rooms.get(room);
  if (!r) return emptyRoomView(room, includeMembers);
  return buildRoomView(r.state, { includeMembers, nowMs, cursorTtlMs: m.o.timings.cursorTtlMs });
}

/** The view a Join answers with: members unless the room is above the large-room threshold. */
export function modelJoinView(m: PresenceModel, room: string, nowMs: number): RoomView {
  const r = roomOf(m, room);
  return buildRoomView(r.state, { includeMembers: r.state.members.size <= m.o.limits.largeRoomThreshold, nowMs, cursorTtlMs: m.o.timings.cursorTtlMs });
}

/** Committed events after `from`, or null when they cannot be replayed exactly. */
export function modelReadLog(m: PresenceModel, room: string, from: Position, nowMs: number): PresenceEvent[] | null {
  const r = m.rooms.get(room);
  if (!r) return null;
  trimLog(r.state, m.o.timings.logMaxEntries, m.o.timings.logMaxAgeMs, nowMs);
  return readLogFrom(r.state, from);
}

/** The room's position, creating its state (new epoch) if missing. */
export function modelPosition(m: PresenceModel, room: string): Position {
  const s = roomOf(m, room).state;
  return { epoch: s.epoch, version: s.version };
}

/** A new epoch when the room is still at `seen.epoch` below `seen.version` (never on this model: versions only grow). */
export function modelRenewEpoch(m: PresenceModel, room: string, seen: Position): Position {
  const r = m.rooms.get(room);
  if (r && r.state.epoch === seen.epoch && r.state.version < seen.version) {
    r.state = { ...r.state, epoch: m.o.ids.epoch(), log: [] };
  }
  return modelPosition(m, room);
}

/** A watcher starts (+1) or stops (-1) watching a room: a watched room keeps its state. */
export function modelWatch(m: PresenceModel, room: string, delta: 1 | -1, nowMs: number): ModelRoom {
  const r = roomOf(m, room);
  r.watchers = Math.max(0, r.watchers + delta);
  if (r.watchers > 0) r.idleSinceMs = 0;
  else markIdle(r, nowMs);
  return r;
}

/** Rooms with at least one connection, busiest first, at most `limit`. */
export function modelListRooms(m: PresenceModel, limit: number): { rooms: RoomSummary[]; totalRooms: number } {
  const all: RoomSummary[] = [];
  for (const [room, r] of m.rooms) if (r.state.members.size > 0) all.push({ room, counts: countsOf(r.state) });
  return { rooms: all.sort(compareRooms).slice(0, limit), totalRooms: all.length };
}

/** Statuses of users (real records); unknown users are offline. */
export function modelUserStatus(m: PresenceModel, userIds: readonly string[], nowMs: number): UserStatusRecord[] {
  return userIds.map((id) => userStatusOf(m.users, id, nowMs, m.o.timings.lastSeenRetentionMs));
}

/** Sets the custom status and/or invisible flag of the session's user. */
export function modelSetStatus(
  m: PresenceModel,
  ref: { sessionId: string; ownerKey: string; customStatus?: string; invisible?: boolean; presence?: PresenceOverride },
  nowMs: number,
  fx: Effects,
): UserStatusRecord {
  const s = requireSession(m, ref, nowMs);
  if (s.identity.kind !== "user") {
    throw new PresenceError("PERMISSION_DENIED", "session_id: anonymous sessions have no user status", { field: "session_id" });
  }
  const before = overrideOf(m, s);
  const r = applySetStatus(m.users, s.identity.user.userId, ref, nowMs, m.o.timings.lastSeenRetentionMs);
  const settings = settingsChange(ref.customStatus, ref.invisible);
  if (r.changed) fx.users.push({ status: r.status, timeMs: nowMs, ...(settings ? { settings } : {}) });
  showOverride(m, s.identity.user.userId, before, overrideOf(m, s), nowMs, fx);
  return r.status;
}

/** The room and user of a session's listed connection in `room`; SESSION_NOT_FOUND when it is not there. */
function memberOf(m: PresenceModel, ref: { sessionId: string; ownerKey: string; room: string }, nowMs: number) {
  const s = requireSession(m, ref, nowMs);
  const r = m.rooms.get(ref.room);
  if (!s.rooms.has(ref.room) || !r || s.identity.kind !== "user") throw sessionNotFound();
  return { r, connectionId: s.connectionId, userId: s.identity.user.userId };
}

/** Starts or stops typing; a real change is a typing message (never versioned). */
export function modelTyping(m: PresenceModel, ref: { sessionId: string; ownerKey: string; room: string; typing: boolean }, nowMs: number, fx: Effects): void {
  const { r, userId } = memberOf(m, ref, nowMs);
  const ttl = m.o.timings.typingTtlMs;
  if (applyTyping(r.state, userId, ref.typing, nowMs, ttl) !== "changed") return;
  fx.room.push({ room: ref.room, message: { type: "typing", typing: { room: ref.room, userId, typing: ref.typing, expiresInMs: ref.typing ? ttl : 0 } } });
}

/**
 * A custom room event (PresenceService.Broadcast), never stored: with `from`, sent as that
 * session's listed connection in the room (SESSION_NOT_FOUND otherwise); without, as given.
 */
export function modelBroadcast(
  m: PresenceModel,
  message: Omit<RoomBroadcastMessage, "userId" | "connectionId"> & { userId?: string },
  from: { sessionId: string; ownerKey: string } | undefined,
  nowMs: number,
  fx: Effects,
): RoomBroadcastMessage {
  let sent: RoomBroadcastMessage = { ...message, userId: message.userId ?? "", connectionId: "" };
  if (from) {
    const { connectionId, userId } = memberOf(m, { ...from, room: message.room }, nowMs);
    sent = { ...sent, userId, connectionId };
  }
  fx.room.push({ room: message.room, message: { type: "broadcast", broadcast: sent } });
  return sent;
}

/** Stores the session's cursor (last value wins); returns the room and connection to batch. */
export function modelCursor(m: PresenceModel, ref: { sessionId: string; ownerKey: string; room: string; position: CursorPosition }, nowMs: number) {
  const { r, connectionId, userId } = memberOf(m, ref, nowMs);
  r.state.cursors.set(connectionId, { connectionId, userId, position: ref.position, updatedAtMs: nowMs });
  return { room: r, connectionId };
}

