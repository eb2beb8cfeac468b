import type { UserInfo } from "./identity.js";
import { sameMetadata } from "./metadata.js";
import { samePresence } from "./typed-presence.js";
import type {
  Activity,
  Counts,
  Cursor,
  EventBody,
  LeaveReason,
  Member,
  Position,
  PresenceEvent,
  RoomView,
  UserPresence,
} from "./presence-event.js";

/**
 * The state of one room and its pure transitions: the executable specification of what every store
 * does atomically. Each membership transition returns the committed event (version + 1) or `null`
 * for a no-op, which changes nothing and bumps nothing. Typing and cursors live here too but are
 * never versioned.
 */
export interface RoomState {
  readonly room: string;
  readonly epoch: string;
  version: number;
  /** connectionId → member, in join order. */
  readonly members: Map<string, Member>;
  /** userId → connections of that user in the room. */
  readonly userConnections: Map<string, number>;
  /** anonymousId → connections of that anonymous viewer. */
  readonly anonymousConnections: Map<string, number>;
  /** userId → typing expiry (ms since epoch). */
  readonly typing: Map<string, number>;
  /** connectionId → latest cursor. */
  readonly cursors: Map<string, Cursor>;
  /** Committed membership events, oldest first (capped by `trimLog`). */
  readonly log: PresenceEvent[];
}

export function createRoomState(room: string, epoch: string): RoomState {
  return {
    room,
    epoch,
    version: 0,
    members: new Map(),
    userConnections: new Map(),
    anonymousConnections: new Map(),
    typing: new Map(),
    cursors: new Map(),
    log: [],
  };
}

export function countsOf(s: RoomState): Counts {
  return { users: s.userConnections.size, connections: s.members.size, anonymous: s.anonymousConnections.size };
}

function commit(s: RoomState, body: EventBody, nowMs: number): PresenceEvent {
  s.version += 1;
  const event = { room: s.room, epoch: s.epoch, version: s.version, timeMs: nowMs, counts: countsOf(s), ...body } as PresenceEvent;
  s.log.push(event);
  return event;
}

function bump(map: Map<string, number>, key: string, delta: number): number {
  const n = (map.get(key) ?? 0) + delta;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
  return n;
}

/**
 * Adds a connection, or updates it when present with other metadata or activity.
 * Returns null when the connection is already there unchanged (idempotent join).
 */
export function applyJoin(s: RoomState, member: Member, nowMs: number): PresenceEvent | null {
  const prev = s.members.get(member.connectionId);
  if (prev) {
    if (sameMetadata(prev.metadata, member.metadata) && prev.activity === member.activity && samePresence(prev.presence ?? {}, member.presence ?? {})) return null;
    const next: Member = { ...prev, metadata: member.metadata, activity: member.activity, presence: member.presence, lastActiveMs: member.lastActiveMs ?? prev.lastActiveMs };
    s.members.set(member.connectionId, next);
    if (next.identity.kind === "anonymous") return null; // anonymous members are never listed
    return commit(s, { kind: "updated", user: next.identity.user, member: next }, nowMs);
  }
  s.members.set(member.connectionId, member);
  if (member.identity.kind === "anonymous") {
    const n = bump(s.anonymousConnections, member.identity.anonymousId, 1);
    return commit(s, { kind: "anonymous", viewersDelta: n === 1 ? 1 : 0, connectionsDelta: 1 }, nowMs);
  }
  const n = bump(s.userConnections, member.identity.user.userId, 1);
  return commit(s, { kind: "joined", user: member.identity.user, member, firstOfUser: n === 1 }, nowMs);
}

/** Result of a leave: the event (null when the connection was not there) and a typing stop, if any. */
export interface LeaveOutcome {
  event: PresenceEvent | null;
  /** Set when the user's last connection left while typing: watchers get typing=false. */
  typingStopped: string | null;
  /** True when the connection had a cursor (watchers get it in the next batch's removals). */
  cursorRemoved: boolean;
}

export function applyLeave(s: RoomState, connectionId: string, reason: LeaveReason, nowMs: number): LeaveOutcome {
  const m = s.members.get(connectionId);
  if (!m) return { event: null, typingStopped: null, cursorRemoved: false };
  s.members.delete(connectionId);
  const cursorRemoved = s.cursors.delete(connectionId);
  if (m.identity.kind === "anonymous") {
    const n = bump(s.anonymousConnections, m.identity.anonymousId, -1);
    const event = commit(s, { kind: "anonymous", viewersDelta: n === 0 ? -1 : 0, connectionsDelta: -1 }, nowMs);
    return { event, typingStopped: null, cursorRemoved };
  }
  const userId = m.identity.user.userId;
  const n = bump(s.userConnections, userId, -1);
  const event = commit(s, { kind: "left", userId, connectionId, reason, lastOfUser: n === 0 }, nowMs);
  const typingStopped = n === 0 && s.typing.delete(userId) ? userId : null;
  return { event, typingStopped, cursorRemoved };
}

/** Changes a connection's activity; null when unchanged, absent, or anonymous (not listed). */
/**
 * Moves a connection's `lastActiveMs` forward (an activity signal of its session). Not a commit:
 * no version, no event; views and the connection's later events show the new value.
 */
export function stampMember(s: RoomState, connectionId: string, lastActiveMs: number): void {
  const m = s.members.get(connectionId);
  if (m && (m.lastActiveMs ?? 0) < lastActiveMs) s.members.set(connectionId, { ...m, lastActiveMs });
}

export function applyActivity(s: RoomState, connectionId: string, activity: Activity, nowMs: number): PresenceEvent | null {
  const m = s.members.get(connectionId);
  if (!m || m.activity === activity) return null;
  const next: Member = { ...m, activity };
  s.members.set(connectionId, next);
  if (next.identity.kind === "anonymous") return null;
  return commit(s, { kind: "updated", user: next.identity.user, member: next }, nowMs);
}

/**
 * Keeps the newest `maxEntries` events and none older than `maxAgeMs` (design §9). Always keeps at
 * least the newest event so that "version + 1 is still kept" can be answered.
 */
export function trimLog(s: RoomState, maxEntries: number, maxAgeMs: number, nowMs: number): void {
  let drop = Math.max(0, s.log.length - maxEntries);
  while (drop < s.log.length - 1 && s.log[drop]!.timeMs < nowMs - maxAgeMs) drop++;
  if (drop > 0) s.log.splice(0, drop);
}

/**
 * Events after `from`, or null when they cannot be replayed exactly (other epoch, version from the
 * future, or version + 1 no longer kept): the caller must send a snapshot instead.
 */
export function readLogFrom(s: RoomState, from: Position): PresenceEvent[] | null {
  if (from.epoch !== s.epoch || from.version > s.version) return null;
  if (from.version === s.version) return [];
  const first = s.log[0];
  if (!first || first.version > from.version + 1) return null;
  return s.log.slice(from.version + 1 - first.version);
}

/** Outcome of a typing request. `changed` broadcasts; `refreshed` extends the TTL silently. */
export type TypingOutcome = "changed" | "refreshed" | "noop";

export function applyTyping(s: RoomState, userId: string, typing: boolean, nowMs: number, ttlMs: number): TypingOutcome {
  const until = s.typing.get(userId);
  const active = until !== undefined && until > nowMs;
  if (typing) {
    s.typing.set(userId, nowMs + ttlMs);
    return active ? "refreshed" : "changed";
  }
  if (until === undefined) return "noop";
  s.typing.delete(userId);
  // An entry that already expired was expired by receivers too: nothing to broadcast.
  return active ? "changed" : "noop";
}

/** Drops typing entries and cursors that have expired (receivers expire them on their own). */
export function pruneEphemeral(s: RoomState, nowMs: number, cursorTtlMs: number): void {
  for (const [u, until] of s.typing) if (until <= nowMs) s.typing.delete(u);
  for (const [c, cur] of s.cursors) if (cur.updatedAtMs <= nowMs - cursorTtlMs) s.cursors.delete(c);
}

/** Members grouped by user, in order of each user's first connection. */
export function groupByUser(members: Iterable<Member>): UserPresence[] {
  const byUser = new Map<string, UserPresence>();
  for (const m of members) {
    if (m.identity.kind !== "user") continue;
    const u = m.identity.user;
    let entry = byUser.get(u.userId);
    if (!entry) {
      entry = { user: u, activity: "away", connections: [] };
      byUser.set(u.userId, entry);
    }
    entry.connections.push(m);
    if (m.activity === "active") entry.activity = "active";
  }
  return [...byUser.values()];
}

/** The view of a room at its current version. Members are omitted when `includeMembers` is false. */
export function buildRoomView(
  s: RoomState,
  opts: { includeMembers: boolean; nowMs: number; cursorTtlMs: number },
): RoomView {
  pruneEphemeral(s, opts.nowMs, opts.cursorTtlMs);
  return {
    room: s.room,
    epoch: s.epoch,
    version: s.version,
    counts: countsOf(s),
    users: opts.includeMembers ? groupByUser(s.members.values()) : [],
    membersOmitted: !opts.includeMembers,
    typing: opts.includeMembers ? [...s.typing].map(([userId, until]) => ({ userId, expiresInMs: until - opts.nowMs })) : [],
    cursors: opts.includeMembers ? [...s.cursors.values()] : [],
  };
}

/** The view of a room that has no state (nobody there, nobody watching). */
export function emptyRoomView(room: string, includeMembers: boolean): RoomView {
  return {
    room,
    epoch: "",
    version: 0,
    counts: { users: 0, connections: 0, anonymous: 0 },
    users: [],
    membersOmitted: !includeMembers,
    typing: [],
    cursors: [],
  };
}

/** The user of a member, or undefined for anonymous members. */
export function userOf(m: Member): UserInfo | undefined {
  return m.identity.kind === "user" ? m.identity.user : undefined;
}
