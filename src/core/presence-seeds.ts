import type { Activity, RoomEndedInfo } from "./presence-event.js";
import { endSession, leaveRoom, joinRoom, overrideOf, requireSession, userSession, type Effects, type PresenceModel } from "./presence-model.js";
import { sessionNotFound } from "./presence-error.js";
import { shownActivity, type PresenceOverride } from "./presence-override.js";
import { applyActivity, stampMember, trimLog } from "./room-state.js";
import { effectiveActivity } from "./session-activity.js";
import { setRoomAway, type SessionEntry } from "./session-table.js";
import { checkPresenceRecord, mergePresence } from "./typed-presence.js";

/**
 * Issue 12's transitions of the presence model: activity signals and server-side away, the manual
 * presence of a user shown in every room, typed presence updates, and the end of a room. Pure like
 * the rest of the model (every transition takes `nowMs` and fills `Effects`).
 */

/**
 * An activity signal: the session's last activity, its connection's `lastActiveMs` in each of its
 * rooms (no event: views and later events show it), and its user's position in its scopes.
 */
export function stamp(m: PresenceModel, s: SessionEntry, nowMs: number, fx: Effects): void {
  s.lastActiveMs = Math.max(s.lastActiveMs, nowMs);
  for (const room of s.rooms.keys()) {
    const r = m.rooms.get(room);
    if (r) stampMember(r.state, s.connectionId, s.lastActiveMs);
  }
  if (s.identity.kind === "user") fx.stamps.push({ userId: s.identity.user.userId, scopes: s.scopes, ms: nowMs });
}

/**
 * A managed room's `away_after_ms` changed (UpdateRoom): every session in the room takes it into
 * its threshold now (0 = the room no longer shortens it). Returns how many sessions are in the room.
 */
export function modelRoomAwayChanged(m: PresenceModel, room: string, ms: number): number {
  let n = 0;
  for (const s of m.sessions.sessions.values()) {
    if (!s.rooms.has(room)) continue;
    setRoomAway(s, room, ms);
    n++;
  }
  return n;
}

/** What the session shows now: its members in every room and its user's status follow. */
export function show(m: PresenceModel, s: SessionEntry, activity: Activity, nowMs: number, fx: Effects): void {
  s.activity = activity;
  showInRooms(m, s, shownActivity(activity, overrideOf(m, s)), nowMs, fx);
  userSession(m, s, nowMs, fx);
}

/** The connection's activity in each of its rooms (one `updated` event where it changes). */
export function showInRooms(m: PresenceModel, s: SessionEntry, shown: Activity, nowMs: number, fx: Effects): void {
  for (const room of s.rooms.keys()) {
    const r = m.rooms.get(room);
    const ev = r ? applyActivity(r.state, s.connectionId, shown, nowMs) : null;
    if (r && ev) {
      trimLog(r.state, m.o.timings.logMaxEntries, m.o.timings.logMaxAgeMs, nowMs);
      fx.room.push({ room, message: { type: "event", event: ev } });
    }
  }
}

/** An ACTIVE signal without a heartbeat (typing, cursor, presence update, re-Join): an away session becomes active. */
export function modelSignalActivity(m: PresenceModel, ref: { sessionId: string; ownerKey: string }, nowMs: number, fx: Effects): void {
  const s = requireSession(m, ref, nowMs);
  stamp(m, s, nowMs, fx);
  if (s.activity !== "active") show(m, s, "active", nowMs, fx);
}

/** Sessions silent for their threshold show away; returns how many. */
export function modelSweepAway(m: PresenceModel, nowMs: number, fx: Effects): number {
  let n = 0;
  for (const s of m.sessions.sessions.values()) {
    if (s.expiresAtMs <= nowMs || s.activity !== "active") continue;
    if (effectiveActivity({ lastActiveMs: s.lastActiveMs, reportedAway: false }, s.awayAfterMs, nowMs) === "away") {
      show(m, s, "away", nowMs, fx);
      n++;
    }
  }
  return n;
}

/** Every connection of the user whose shown activity changes with a new manual presence: one `updated` per room. */
export function showOverride(m: PresenceModel, userId: string, before: PresenceOverride, after: PresenceOverride, nowMs: number, fx: Effects): void {
  if (before === after) return;
  const u = m.users.get(userId);
  for (const [sid] of u?.sessions ?? []) {
    const s = m.sessions.sessions.get(sid);
    if (!s) continue;
    const next = shownActivity(s.activity, after);
    if (shownActivity(s.activity, before) !== next) showInRooms(m, s, next, nowMs, fx);
  }
}

/** Merges (or replaces) the connection's typed presence in a room: one `updated` event when it changes. */
export function modelUpdatePresence(
  m: PresenceModel,
  ref: { sessionId: string; ownerKey: string; room: string; presence: Record<string, string>; replace: boolean },
  nowMs: number,
  fx: Effects,
): void {
  const s = requireSession(m, ref, nowMs);
  const member = m.rooms.get(ref.room)?.state.members.get(s.connectionId);
  if (!s.rooms.has(ref.room) || !member) throw sessionNotFound();
  const next = checkPresenceRecord(mergePresence(member.presence ?? {}, ref.presence, ref.replace), { maxBytes: m.o.limits.maxPresenceBytes, maxKeys: m.o.limits.maxPresenceKeys });
  joinRoom(m, s, ref.room, member.metadata, nowMs, fx, next);
}

/** Ends a room: every connection leaves with reason `ended` (its session ends with its last room), then one `ended` message. */
export function modelEndRoom(m: PresenceModel, room: string, ended: Omit<RoomEndedInfo, "room" | "epoch" | "version">, nowMs: number, fx: Effects): number {
  const r = m.rooms.get(room);
  if (!r) return 0;
  let removed = 0;
  for (const s of [...m.sessions.sessions.values()]) {
    if (!s.rooms.has(room)) continue;
    if (leaveRoom(m, s, room, "ended", nowMs, fx)) removed++;
    if (s.rooms.size === 0) endSession(m, s, nowMs, fx);
  }
  fx.room.push({ room, message: { type: "ended", ended: { ...ended, room, epoch: r.state.epoch, version: r.state.version } } });
  return removed;
}
