import type { IdSource } from "./ids.js";
import type { Limits, Timings } from "./options.js";
import { limitExceeded, sessionNotFound } from "./presence-error.js";
import { sessionsQuotaFull } from "./access-errors.js";
import type { Activity, LeaveReason, PresenceEvent, StoreMessage } from "./presence-event.js";
import { applyJoin, applyLeave, createRoomState, trimLog, type RoomState } from "./room-state.js";
import {
  createSession,
  createSessionTable,
  deleteSession,
  extendSession,
  setRoomAway,
  navigationRooms,
  openSession,
  ownedSession,
  type SessionEntry,
  type SessionTable,
} from "./session-table.js";
import type { JoinInput, Lease } from "./session.js";
import { applyUserSession, applyUserSessionEnd, createUserPresence, type UserPresence } from "./user-presence.js";
import type { UserRestore, UserStatusRecord } from "./user-status.js";
import type { UserSettingsChange } from "./commit.js";
import { scopeBaseThreshold, type AwayPolicy } from "./away-policy.js";
import { show, stamp } from "./presence-seeds.js";
import { admitJoin, type ManagedRoom } from "./room-lifecycle.js";
import { shownActivity } from "./presence-override.js";
import { GLOBAL_SCOPE } from "./scope.js";
import { EMPTY_RECORD, orEmpty } from "./metadata.js";

/** The scopes of a user's session that names none (shared: an array per session was ~150 B). */
const GLOBAL_ONLY: readonly string[] = Object.freeze([GLOBAL_SCOPE]);
const NO_SCOPES: readonly string[] = Object.freeze([]);

/**
 * The presence model: sessions (session-table.ts), rooms (room-state.ts) and user presence
 * (user-presence.ts) together, with the transitions that touch more than one of them: a join
 * creates or reuses a session, joins the room and records the user's session; a session ending
 * leaves its rooms and ends the user's session. Pure: the memory store is this model plus
 * subscriptions and timers, and the model-based tests run every store against it.
 *
 * Every transition takes `nowMs` and fills an `Effects` with what it committed, in commit order.
 * Refusals throw PresenceError (SESSION_NOT_FOUND, TOO_MANY_ROOMS) before anything changed.
 */
export interface PresenceModelOptions {
  ids: IdSource;
  timings: Timings;
  limits: Limits;
  /** This node's id, recorded on the sessions it creates, attaches or reclaims. */
  nodeId: string;
  /** Server-side away thresholds (PRESENCE_AWAY_AFTER_MS and its scope overrides); absent: never away by silence. */
  awayPolicy?: AwayPolicy;
  /** Managed rooms (rooms.proto): joins are admitted against their records in the same step. */
  managedRooms?: { record(room: string): ManagedRoom | undefined };
}

export interface ModelRoom {
  state: RoomState;
  /** Subscriptions keeping the room's state alive. */
  watchers: number;
  /** When the room last became empty of members and watchers (0 while in use). */
  idleSinceMs: number;
}

export interface PresenceModel {
  readonly o: PresenceModelOptions;
  readonly sessions: SessionTable;
  readonly users: UserPresence;
  readonly rooms: Map<string, ModelRoom>;
  /** The node registry: node id → last announcement. */
  readonly nodes: Map<string, number>;
}

/** What one transition committed, in order. */
export interface Effects {
  /** Room messages: committed events and typing stops, in commit order per room. */
  room: { room: string; message: StoreMessage }[];
  /** User status changes (real records) with their commit time, and what a SetStatus set. */
  users: { status: UserStatusRecord; timeMs: number; settings?: UserSettingsChange }[];
  /** Connections whose cursor was removed (watchers learn it in the next cursor batch). */
  cursorsRemoved: { room: string; connectionId: string }[];
  /** Sessions created and ended (the scope store follows them), and activity signals of users' sessions. */
  sessionsStarted: SessionEntry[];
  sessionsEnded: SessionEntry[];
  stamps: { userId: string; scopes: readonly string[]; ms: number }[];
}

export function createPresenceModel(o: PresenceModelOptions): PresenceModel {
  return { o, sessions: createSessionTable(), users: createUserPresence(), rooms: new Map(), nodes: new Map() };
}

export function noEffects(): Effects {
  return { room: [], users: [], cursorsRemoved: [], sessionsStarted: [], sessionsEnded: [], stamps: [] };
}

export function leaseOf(m: PresenceModel, s: SessionEntry): Lease {
  return { ttlMs: m.o.timings.sessionTtlMs, heartbeatIntervalMs: m.o.timings.heartbeatIntervalMs, expiresAtMs: s.expiresAtMs };
}

/** The caller's live session, or SESSION_NOT_FOUND. */
export function requireSession(m: PresenceModel, ref: { sessionId: string; ownerKey: string }, nowMs: number): SessionEntry {
  const s = ownedSession(m.sessions, ref, nowMs);
  if (!s) throw sessionNotFound();
  return s;
}

/** The room's entry, created (new epoch) if missing. */
export function roomOf(m: PresenceModel, name: string): ModelRoom {
  let r = m.rooms.get(name);
  if (!r) m.rooms.set(name, (r = { state: createRoomState(name, m.o.ids.epoch()), watchers: 0, idleSinceMs: 0 }));
  return r;
}

/** The session part and room part of a Join; see `JoinInput`. */
export function modelJoin(m: PresenceModel, input: JoinInput, nowMs: number, fx: Effects) {
  const t = m.o.timings;
  // The session step before the room's admission, as on Redis (sessionOpen, then roomJoin).
  const opened = openSession(m.sessions, input, nowMs, m.o.limits, m.o.nodeId);
  if (opened.status === "not_found") throw sessionNotFound();
  if (opened.status === "too_many_rooms") throw limitExceeded("room", m.o.limits.maxRoomsPerSession, opened.rooms, "rooms per session", "TOO_MANY_ROOMS");
  if (opened.status === "create" && input.maxSessions) {
    const count = m.sessions.quotas.get(input.quotaKey ?? input.ownerKey) ?? 0;
    if (count >= input.maxSessions) throw sessionsQuotaFull(input.maxSessions, count);
  }
  admit(m, input, nowMs);
  let session: SessionEntry;
  if (opened.status === "create") {
    const ids = m.o.ids;
    const base = { id: ids.sessionId(), resumeSecret: ids.resumeSecret(), connectionId: ids.connectionId(), ownerKey: input.ownerKey, quotaKey: input.quotaKey ?? input.ownerKey };
    const scopes = input.identity.kind !== "user" ? NO_SCOPES : input.scopes?.length ? GLOBAL_ONLY.concat(input.scopes) : GLOBAL_ONLY;
    const awayBaseMs = m.o.awayPolicy ? scopeBaseThreshold(m.o.awayPolicy, input.scopes ?? []) : 0;
    session = createSession(m.sessions, { ...base, identity: input.identity, activity: input.activity ?? "active", nodeId: m.o.nodeId, scopes, awayBaseMs }, input, nowMs, t.sessionTtlMs);
    fx.sessionsStarted.push(session);
    userSession(m, session, nowMs, fx, input.restoreStatus);
  } else {
    session = opened.session;
    extendSession(session, nowMs, t.sessionTtlMs);
  }
  const roomCreated = !m.rooms.has(input.room);
  const event = joinRoom(m, session, input.room, input.metadata, nowMs, fx, input.presence);
  return { session, resumed: opened.status === "reclaimed", sessionCreated: opened.status === "create", roomCreated, event };
}

/** Leaves one room; the session ends with its last room. */
export function modelLeave(m: PresenceModel, ref: { sessionId: string; ownerKey: string; room: string; reason: LeaveReason }, nowMs: number, fx: Effects) {
  const s = requireSession(m, ref, nowMs);
  if (!s.rooms.has(ref.room)) return { left: false, sessionEnded: false };
  leaveRoom(m, s, ref.room, ref.reason, nowMs, fx);
  const sessionEnded = s.rooms.size === 0;
  if (sessionEnded) endSession(m, s, nowMs, fx);
  return { left: true, sessionEnded };
}

/** Leaves `fromRoom` (if in it) and joins `toRoom`, keeping the connection id. */
export function modelNavigate(m: PresenceModel, ref: { sessionId: string; ownerKey: string; fromRoom: string; toRoom: string; metadata: Record<string, string> }, nowMs: number, fx: Effects) {
  const s = requireSession(m, ref, nowMs);
  const { leaving, refused } = navigationRooms(s, ref.fromRoom, ref.toRoom, m.o.limits.maxRoomsPerSession);
  if (refused !== null) throw limitExceeded("to_room", m.o.limits.maxRoomsPerSession, refused, "rooms per session", "TOO_MANY_ROOMS");
  // A managed target room admits a navigation like a Join (ROOM_FULL, ROOM_ENDED), before anything changes.
  admit(m, { room: ref.toRoom, sessionId: ref.sessionId, identity: s.identity }, nowMs);
  extendSession(s, nowMs, m.o.timings.sessionTtlMs);
  if (leaving) leaveRoom(m, s, ref.fromRoom, "left", nowMs, fx);
  joinRoom(m, s, ref.toRoom, ref.metadata, nowMs, fx);
  return s;
}

/** Refreshes a session; a new activity is one `updated` per room and a user status change. Returns the time it had left. */
export function modelHeartbeat(m: PresenceModel, ref: { sessionId: string; ownerKey: string; activity?: Activity }, nowMs: number, fx: Effects) {
  const s = requireSession(m, ref, nowMs);
  const leftMs = s.expiresAtMs - nowMs;
  extendSession(s, nowMs, m.o.timings.sessionTtlMs);
  if (ref.activity === "active") stamp(m, s, nowMs, fx);
  if (ref.activity && ref.activity !== s.activity) show(m, s, ref.activity, nowMs, fx);
  return { session: s, leftMs };
}

/** Ends a session: it leaves each of its rooms with `reason` (one event per room), then ends. Returns the leaves. */
export function endSessionWith(m: PresenceModel, s: SessionEntry, reason: LeaveReason, nowMs: number, fx: Effects): number {
  let leaves = 0;
  for (const room of [...s.rooms.keys()]) if (leaveRoom(m, s, room, reason, nowMs, fx)) leaves++;
  endSession(m, s, nowMs, fx);
  return leaves;
}

/** Adds (or updates) the session's connection in a room. */
export function joinRoom(m: PresenceModel, s: SessionEntry, room: string, metadata: Record<string, string>, nowMs: number, fx: Effects, presence: Record<string, string> = EMPTY_RECORD): PresenceEvent | null {
  const r = roomOf(m, room);
  r.idleSinceMs = 0;
  metadata = orEmpty(metadata);
  const prev = r.state.members.get(s.connectionId);
  const activity = shownActivity(s.activity, overrideOf(m, s));
  const lastActiveMs = Math.max(prev?.lastActiveMs ?? 0, s.lastActiveMs);
  const member = { connectionId: s.connectionId, identity: s.identity, metadata, activity, joinedAtMs: prev?.joinedAtMs ?? nowMs, lastActiveMs, presence: orEmpty(presence) };
  s.rooms.set(room, metadata);
  setRoomAway(s, room, roomAwayOf(m, room));
  const ev = applyJoin(r.state, member, nowMs);
  if (ev) commitEvent(m, r, ev, nowMs, fx);
  return ev;
}

/** Removes the session's connection from a room; true when an event was committed. */
export function leaveRoom(m: PresenceModel, s: SessionEntry, room: string, reason: LeaveReason, nowMs: number, fx: Effects): boolean {
  s.rooms.delete(room);
  setRoomAway(s, room, 0);
  const r = m.rooms.get(room);
  if (!r) return false;
  const out = applyLeave(r.state, s.connectionId, reason, nowMs);
  if (out.event) commitEvent(m, r, out.event, nowMs, fx);
  if (out.typingStopped) fx.room.push({ room, message: { type: "typing", typing: { room, userId: out.typingStopped, typing: false, expiresInMs: 0 } } });
  if (out.cursorRemoved) fx.cursorsRemoved.push({ room, connectionId: s.connectionId });
  markIdle(r, nowMs);
  return out.event !== null;
}

/** Deletes the session and records its end in the user's status. */
export function endSession(m: PresenceModel, s: SessionEntry, nowMs: number, fx: Effects): void {
  deleteSession(m.sessions, s);
  fx.sessionsEnded.push(s);
  if (s.identity.kind !== "user") return;
  const status = applyUserSessionEnd(m.users, s.identity.user.userId, s.id, nowMs, m.o.timings.lastSeenRetentionMs);
  if (status) fx.users.push({ status, timeMs: nowMs });
}

/** Records the session's activity under its user (anonymous sessions have no status); a record it creates starts from `restore`. */
export function userSession(m: PresenceModel, s: SessionEntry, nowMs: number, fx: Effects, restore?: UserRestore): void {
  if (s.identity.kind !== "user") return;
  const status = applyUserSession(m.users, s.identity.user.userId, s.id, s.activity, nowMs, m.o.timings.lastSeenRetentionMs, restore);
  if (status) fx.users.push({ status, timeMs: nowMs });
}

/** The manual presence of the session's user ("auto" for anonymous sessions). */
export function overrideOf(m: PresenceModel, s: SessionEntry) {
  return s.identity.kind === "user" ? (m.users.get(s.identity.user.userId)?.override ?? "auto") : "auto";
}

/** The `away_after_ms` of a managed room while it is open (0: implicit, ended, or none). */
export function roomAwayOf(m: PresenceModel, room: string): number {
  const r = m.o.managedRooms?.record(room);
  return r && r.status === "open" ? r.awayAfterMs : 0;
}

/** Capacity and tombstone of a managed room (ROOM_FULL, ROOM_ENDED), checked before anything changes. */
function admit(m: PresenceModel, input: Pick<JoinInput, "room" | "sessionId" | "identity">, nowMs: number): void {
  const record = m.o.managedRooms?.record(input.room);
  if (!record) return;
  const s = m.rooms.get(input.room)?.state;
  const own = input.sessionId ? m.sessions.sessions.get(input.sessionId) : undefined;
  if (own && s?.members.has(own.connectionId)) return admitJoin(record, 0, false, nowMs);
  const id = input.identity;
  const present = id.kind === "user" ? (s?.userConnections.has(id.user.userId) ?? false) : (s?.anonymousConnections.has(id.anonymousId) ?? false);
  const participants = s ? s.userConnections.size + s.anonymousConnections.size : 0;
  admitJoin(record, participants, !present, nowMs);
}

/** A room with no members and no watchers starts its retention. */
export function markIdle(r: ModelRoom, nowMs: number): void {
  if (r.state.members.size === 0 && r.watchers === 0 && r.idleSinceMs === 0) r.idleSinceMs = nowMs;
}

function commitEvent(m: PresenceModel, r: ModelRoom, ev: PresenceEvent, nowMs: number, fx: Effects): void {
  trimLog(r.state, m.o.timings.logMaxEntries, m.o.timings.logMaxAgeMs, nowMs);
  fx.room.push({ room: r.state.room, message: { type: "event", event: ev } });
}
