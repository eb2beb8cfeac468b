import type { Activity } from "./presence-event.js";
import { userStateOf, type PresenceOverride } from "./presence-override.js";
import { unknownUser, type UserRestore, type UserStatusRecord } from "./user-status.js";

/**
 * User presence across rooms: the pure specification of what every store keeps per user (the
 * memory store applies these functions; the Redis scripts userSession and userSetStatus do the
 * same in Lua, and the model-based tests compare them).
 *
 * Rules:
 * - The state aggregates the user's live sessions: online when one is active, away when all are
 *   away, offline when there are none.
 * - Last seen is the time the last session ended. While the user is invisible, others see the last
 *   seen frozen at the time they went invisible (or their last seen, if offline then).
 * - A status change is committed only when the state, the custom status or the invisible flag
 *   changed; ending a session the user did not have commits nothing.
 * - An offline user's record (last seen, custom status, invisible) is kept `lastSeenRetentionMs`
 *   after the last session ended, then forgotten (the user is unknown: offline, never seen).
 * - A session that creates a user's record (the store holds none: never seen, forgotten, or lost
 *   with a Redis data loss) may carry a restore (user-status.ts `UserRestore`: the durable last
 *   seen, custom status and invisible flag); the record starts from it, in the same commit. A
 *   restore never touches an existing record.
 */
export interface UserEntry {
  /**
   * The user's sessions and their activities: [sessionId, activity] pairs in one exact-size array
   * (replaced, never mutated) while there are at most SMALL_SESSIONS, a Map above (a service
   * acting for many users' sessions under one identity). A user has one or a few sessions, and a
   * Map was ~0.2 KB per idle connection. Both iterate as [sessionId, activity].
   */
  sessions: readonly (readonly [string, Activity])[] | Map<string, Activity>;
  lastSeenMs: number;
  /** Last seen shown to others while invisible. */
  visibleLastSeenMs: number;
  customStatus: string;
  invisible: boolean;
  /** Manual presence (SetStatus presence-override.ts): wins over the sessions while the user has one. */
  override: PresenceOverride;
}

/** userId → entry. */
export type UserPresence = Map<string, UserEntry>;

export function createUserPresence(): UserPresence {
  return new Map();
}

/** The record of a user (real state; visibility is applied by readers). */
export function userStatusOf(t: UserPresence, userId: string, nowMs: number, retentionMs: number): UserStatusRecord {
  const u = live(t, userId, nowMs, retentionMs);
  if (!u) return unknownUser(userId);
  return {
    userId,
    state: stateOf(u),
    lastSeenMs: u.lastSeenMs,
    customStatus: u.customStatus,
    invisible: u.invisible,
    visibleLastSeenMs: u.invisible ? u.visibleLastSeenMs : u.lastSeenMs,
    ...(u.override !== "auto" ? { presenceOverride: u.override } : {}),
  };
}

/**
 * Records a session's activity under its user; a record it creates starts from `restore`. Returns
 * the new record when the state changed, else null.
 */
export function applyUserSession(
  t: UserPresence,
  userId: string,
  sessionId: string,
  activity: Activity,
  nowMs: number,
  retentionMs: number,
  restore?: UserRestore,
): UserStatusRecord | null {
  let u = live(t, userId, nowMs, retentionMs);
  if (!u) t.set(userId, (u = newEntry(restore)));
  const before = stateOf(u);
  setSession(u, sessionId, activity);
  return before === stateOf(u) ? null : userStatusOf(t, userId, nowMs, retentionMs);
}

/**
 * Records the end of a session. The last one sets last seen to now (and, unless invisible, the
 * last seen others see). Returns the new record when the state changed, else null.
 */
export function applyUserSessionEnd(t: UserPresence, userId: string, sessionId: string, nowMs: number, retentionMs: number): UserStatusRecord | null {
  const u = live(t, userId, nowMs, retentionMs);
  if (!u) return null;
  const before = stateOf(u);
  if (!deleteSession(u, sessionId)) return null;
  if (sessionCount(u) === 0) {
    u.lastSeenMs = nowMs;
    if (!u.invisible) u.visibleLastSeenMs = nowMs;
  }
  return before === stateOf(u) ? null : userStatusOf(t, userId, nowMs, retentionMs);
}

const NO_SESSIONS: UserEntry["sessions"] = Object.freeze([]);
/** Sessions a user's entry keeps in a pair list; more go into a Map (lookups stay O(1)). */
const SMALL_SESSIONS = 8;

function stateOf(u: UserEntry) {
  return userStateOf(u.sessions instanceof Map ? u.sessions.values() : u.sessions.map((x) => x[1]), u.override);
}

function sessionCount(u: UserEntry): number {
  return u.sessions instanceof Map ? u.sessions.size : u.sessions.length;
}

function setSession(u: UserEntry, sessionId: string, activity: Activity): void {
  if (u.sessions instanceof Map) {
    u.sessions.set(sessionId, activity);
    return;
  }
  const pair = [sessionId, activity] as const;
  const i = u.sessions.findIndex((x) => x[0] === sessionId);
  if (i >= 0) u.sessions = u.sessions.slice(0, i).concat([pair], u.sessions.slice(i + 1));
  else if (u.sessions.length < SMALL_SESSIONS) u.sessions = u.sessions.concat([pair]);
  else u.sessions = new Map([...u.sessions, pair]);
}

function deleteSession(u: UserEntry, sessionId: string): boolean {
  if (u.sessions instanceof Map) {
    if (!u.sessions.delete(sessionId)) return false;
    if (u.sessions.size === 0) u.sessions = NO_SESSIONS;
    return true;
  }
  const i = u.sessions.findIndex((x) => x[0] === sessionId);
  if (i < 0) return false;
  u.sessions = u.sessions.length === 1 ? NO_SESSIONS : u.sessions.slice(0, i).concat(u.sessions.slice(i + 1));
  return true;
}

/**
 * Sets the custom status and/or the invisible flag (undefined keeps). Going invisible freezes the
 * last seen others see. Returns the record after, and whether it changed.
 */
export function applySetStatus(
  t: UserPresence,
  userId: string,
  change: { customStatus?: string; invisible?: boolean; presence?: PresenceOverride },
  nowMs: number,
  retentionMs: number,
): { status: UserStatusRecord; changed: boolean } {
  let u = live(t, userId, nowMs, retentionMs);
  if (!u) t.set(userId, (u = newEntry()));
  let changed = false;
  if (change.presence !== undefined && change.presence !== u.override) {
    u.override = change.presence;
    changed = true;
  }
  if (change.customStatus !== undefined && change.customStatus !== u.customStatus) {
    u.customStatus = change.customStatus;
    changed = true;
  }
  if (change.invisible !== undefined && change.invisible !== u.invisible) {
    u.invisible = change.invisible;
    if (u.invisible) u.visibleLastSeenMs = sessionCount(u) > 0 ? nowMs : u.lastSeenMs;
    changed = true;
  }
  return { status: userStatusOf(t, userId, nowMs, retentionMs), changed };
}

/** A user's first record: blank, or from a restore. */
function newEntry(restore?: UserRestore): UserEntry {
  const blank: UserEntry = { sessions: NO_SESSIONS, lastSeenMs: 0, visibleLastSeenMs: 0, customStatus: "", invisible: false, override: "auto" };
  if (!restore) return blank;
  const { lastSeenMs, visibleLastSeenMs, customStatus, invisible } = restore;
  return { ...blank, lastSeenMs, visibleLastSeenMs: invisible ? visibleLastSeenMs : lastSeenMs, customStatus, invisible };
}

/** Forgets offline users whose retention has passed. */
export function pruneUsers(t: UserPresence, nowMs: number, retentionMs: number): void {
  for (const [userId, u] of t) if (expired(u, nowMs, retentionMs)) t.delete(userId);
}

function expired(u: UserEntry, nowMs: number, retentionMs: number): boolean {
  return sessionCount(u) === 0 && u.lastSeenMs > 0 && u.lastSeenMs + retentionMs <= nowMs;
}

function live(t: UserPresence, userId: string, nowMs: number, retentionMs: number): UserEntry | undefined {
  const u = t.get(userId);
  if (!u) return undefined;
  if (!expired(u, nowMs, retentionMs)) return u;
  t.delete(userId);
  return undefined;
}
