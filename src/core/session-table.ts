import { VERIFIED_BY_SESSION_KEY, type MemberIdentity } from "./identity.js";
import type { Activity } from "./presence-event.js";
import type { SessionRef } from "./session.js";
import { combineThresholds } from "./away-policy.js";

/**
 * The session table: the pure specification of session rules that every store applies (the memory
 * store calls these functions; the Redis session scripts do the same in Lua, and the model-based
 * tests compare them). No I/O, no clock: every transition takes `nowMs`.
 *
 * Rules:
 * - A session is live until its expiry (`expiresAtMs > now`). An expired session is fenced at once:
 *   no call refreshes, uses or reclaims it again, even before it is reaped (I5).
 * - Only the owner key that created a session may act on it; a foreign, unknown, expired or reaped
 *   session all answer "not found", so ids cannot be probed. Anonymous sessions have owner ''.
 * - Reclaiming needs the resume secret; it records the reclaiming node.
 * - A session is in at most `maxRoomsPerSession` rooms; a join or navigation beyond that is refused
 *   and changes nothing.
 * - A first Join (no session id) with a request id is de-duplicated per (owner key, request id)
 *   for one session TTL after the session was created: a retry gets the same live session. When
 *   that session is gone, the retry creates a new one and the request id points to it from then on.
 * - A session that leaves its last room ends at once.
 * - Every creation, refresh and reclaim sets the expiry to now + TTL; releasing the last stream sets
 *   it to now + grace.
 */
export interface SessionEntry {
  id: string;
  resumeSecret: string;
  connectionId: string;
  ownerKey: string;
  /** What the session counts against for the `sessions` quota (JoinInput.quotaKey; default the owner key). */
  quotaKey: string;
  identity: MemberIdentity;
  activity: Activity;
  expiresAtMs: number;
  /** The node that created, attached or reclaimed the session last. */
  nodeId: string;
  /** room → metadata of this session's connection in that room, in join order. */
  rooms: Map<string, Record<string, string>>;
  /** Scopes the session carries (scopes.proto; the global scope "" included for users, none for anonymous). */
  scopes: readonly string[];
  /** Last activity signal (ms): creation, re-Join, typing, cursor, presence update, Heartbeat ACTIVE. */
  lastActiveMs: number;
  /** Silent this long → away (0 = never): `combineThresholds(awayBaseMs, roomAwayMs)` (away-policy.ts). */
  awayAfterMs: number;
  /** The threshold of its scopes, else the default, fixed at creation (0 = never). */
  awayBaseMs: number;
  /**
   * room → `away_after_ms` of the managed rooms it is in that have one (they shorten `awayAfterMs`);
   * null while there is none (most sessions: an empty Map is ~0.2 KB per idle connection).
   */
  roomAwayMs: Map<string, number> | null;
}

export interface SessionTable {
  sessions: Map<string, SessionEntry>;
  /** `${ownerKey}\0${requestId}` → the session a first Join created, until `expiresAtMs`. */
  requests: Map<string, { sessionId: string; expiresAtMs: number }>;
  /** quotaKey → sessions counted against it (live or expired but not yet reaped). */
  quotas: Map<string, number>;
}

export function createSessionTable(): SessionTable {
  return { sessions: new Map(), requests: new Map(), quotas: new Map() };
}

/** A session that exists and has not expired. */
export function liveSession(t: SessionTable, sessionId: string, nowMs: number): SessionEntry | undefined {
  const s = t.sessions.get(sessionId);
  return s && s.expiresAtMs > nowMs ? s : undefined;
}

/** The caller's live session, or undefined ("not found" for everything else). */
export function ownedSession(t: SessionTable, ref: SessionRef, nowMs: number): SessionEntry | undefined {
  const s = liveSession(t, ref.sessionId, nowMs);
  // A verified UDP heartbeat (udp.proto) proved the session's key: no owner to compare.
  return s && (s.ownerKey === ref.ownerKey || ref.ownerKey === VERIFIED_BY_SESSION_KEY) ? s : undefined;
}

/** What a Join's session part decided. */
export type SessionOpen =
  | { status: "use" | "reclaimed"; session: SessionEntry }
  | { status: "create"; sessionId?: string }
  | { status: "not_found" }
  | { status: "too_many_rooms"; rooms: number };

/**
 * The session a Join uses: its own live session (`sessionId`), the one a previous try of the same
 * first Join created (`requestId`), a reclaimed one (`resumeSecret`), or a new one (`create`, to be
 * made with `createSession`). Unknown or foreign session ids without a secret are `not_found`; a
 * reclaim that fails creates a new session. Changes nothing except the reclaiming node.
 */
export function openSession(
  t: SessionTable,
  input: { ownerKey: string; room: string; sessionId?: string; resumeSecret?: string; requestId?: string },
  nowMs: number,
  limits: { maxRoomsPerSession: number },
  nodeId: string,
): SessionOpen {
  let sessionId = input.sessionId;
  if (!sessionId && input.requestId) {
    const seen = t.requests.get(requestKey(input.ownerKey, input.requestId));
    if (seen && seen.expiresAtMs > nowMs) sessionId = seen.sessionId;
  }
  if (!sessionId) return { status: "create" };
  const s = ownedSession(t, { sessionId, ownerKey: input.ownerKey }, nowMs);
  if (input.resumeSecret !== undefined) {
    if (!s || s.resumeSecret !== input.resumeSecret) return { status: "create" };
  } else if (!s) {
    return input.sessionId ? { status: "not_found" } : { status: "create" };
  }
  if (!s.rooms.has(input.room) && s.rooms.size >= limits.maxRoomsPerSession) return { status: "too_many_rooms", rooms: s.rooms.size + 1 };
  if (input.resumeSecret !== undefined) {
    s.nodeId = nodeId;
    return { status: "reclaimed", session: s };
  }
  return { status: "use", session: s };
}

/** Creates a session (the `create` outcome of `openSession`); records the request id of a first Join. */
export function createSession(
  t: SessionTable,
  s: Omit<SessionEntry, "rooms" | "expiresAtMs" | "scopes" | "lastActiveMs" | "awayAfterMs" | "awayBaseMs" | "roomAwayMs" | "quotaKey"> &
    Partial<Pick<SessionEntry, "scopes" | "awayBaseMs" | "quotaKey">>,
  input: { requestId?: string; sessionId?: string },
  nowMs: number,
  ttlMs: number,
): SessionEntry {
  const base = s.awayBaseMs ?? 0;
  const entry: SessionEntry = { scopes: [], quotaKey: s.ownerKey, ...s, awayBaseMs: base, awayAfterMs: base, roomAwayMs: null, lastActiveMs: nowMs, expiresAtMs: nowMs + ttlMs, rooms: new Map() };
  t.sessions.set(entry.id, entry);
  t.quotas.set(entry.quotaKey, (t.quotas.get(entry.quotaKey) ?? 0) + 1);
  if (input.requestId && !input.sessionId) t.requests.set(requestKey(entry.ownerKey, input.requestId), { sessionId: entry.id, expiresAtMs: nowMs + ttlMs });
  return entry;
}

/**
 * Records the `away_after_ms` of a managed room the session is in (0: none, or it left the room)
 * and recomputes its threshold: the smallest of its base and its rooms' values (away-policy.ts).
 */
export function setRoomAway(s: SessionEntry, room: string, ms: number): void {
  if (ms > 0) (s.roomAwayMs ??= new Map()).set(room, ms);
  else if (s.roomAwayMs?.delete(room) && s.roomAwayMs.size === 0) s.roomAwayMs = null;
  s.awayAfterMs = combineThresholds(s.awayBaseMs, s.roomAwayMs?.values() ?? []);
}

/** Sets the expiry to now + `ttlMs` (refresh, reclaim, join) or now + grace (release). */
export function extendSession(s: SessionEntry, nowMs: number, ttlMs: number): void {
  s.expiresAtMs = nowMs + ttlMs;
}

/** The room count a navigation leads to, or the refusal when it is above the limit. */
export function navigationRooms(s: SessionEntry, fromRoom: string, toRoom: string, maxRoomsPerSession: number): { leaving: boolean; refused: number | null } {
  const leaving = fromRoom !== "" && fromRoom !== toRoom && s.rooms.has(fromRoom);
  const after = s.rooms.size - (leaving ? 1 : 0) + (s.rooms.has(toRoom) ? 0 : 1);
  return { leaving, refused: after > maxRoomsPerSession ? after : null };
}

/** Removes a session (ended, reaped or kicked). */
export function deleteSession(t: SessionTable, s: SessionEntry): void {
  if (!t.sessions.delete(s.id)) return;
  const n = (t.quotas.get(s.quotaKey) ?? 0) - 1;
  if (n > 0) t.quotas.set(s.quotaKey, n);
  else t.quotas.delete(s.quotaKey);
}

/** Sessions whose expiry has passed (to reap), oldest expiry first. */
export function expiredSessions(t: SessionTable, nowMs: number): SessionEntry[] {
  const out: SessionEntry[] = [];
  for (const s of t.sessions.values()) if (s.expiresAtMs <= nowMs) out.push(s);
  return out.sort((a, b) => a.expiresAtMs - b.expiresAtMs);
}

/** Forgets request ids past their TTL. */
export function pruneRequests(t: SessionTable, nowMs: number): void {
  for (const [k, v] of t.requests) if (v.expiresAtMs <= nowMs) t.requests.delete(k);
}

/** Live sessions per node id (ListNodes). */
export function sessionsPerNode(t: SessionTable, nowMs: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of t.sessions.values()) if (s.expiresAtMs > nowMs) out.set(s.nodeId, (out.get(s.nodeId) ?? 0) + 1);
  return out;
}

function requestKey(ownerKey: string, requestId: string): string {
  return `${ownerKey}\u0000${requestId}`;
}
