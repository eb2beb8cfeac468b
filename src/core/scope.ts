import { invalidArgument, limitExceeded, PresenceError } from "./presence-error.js";
import { utf8Length } from "./room-name.js";

/**
 * Scopes (scopes.proto): names a session carries (`zone:10`, `org:100`) so that "who is online in
 * this zone" and "how many in this org" are answered without rooms. A user is in a scope while one
 * of the user's sessions carries it; every user with a session is in the global scope "". This
 * module holds the rules every store shares: name validation, the shard of a user, the order of
 * online lists and their page tokens, and the membership model (sessions → users → counts).
 */

/** The global scope: every user with a session. */
export const GLOBAL_SCOPE = "";

const SCOPE_CHARS = /^[A-Za-z0-9_.:/-]+$/;
export const MAX_SCOPE_BYTES = 128;

/** Validates one scope name (1..128 bytes of `A-Z a-z 0-9 _ - . : /`). */
export function checkScope(scope: string, field: string): string {
  if (scope === "") throw invalidArgument(field, "must not be empty");
  const n = utf8Length(scope);
  if (n > MAX_SCOPE_BYTES) throw limitExceeded(field, MAX_SCOPE_BYTES, n, "bytes", "INVALID_ARGUMENT");
  if (!SCOPE_CHARS.test(scope)) throw invalidArgument(field, "must contain only A-Z, a-z, 0-9, '_', '-', '.', ':' and '/'");
  return scope;
}

/** Validates a session's scope list: distinct names, at most `max` (TOO_MANY_SCOPES). Keeps order. */
export function checkScopes(scopes: readonly string[], max: number, field = "scopes"): string[] {
  const out = [...new Set(scopes.map((s, i) => checkScope(s, `${field}[${i}]`)))];
  if (out.length > max) throw limitExceeded(field, max, out.length, "scopes per session", "TOO_MANY_SCOPES");
  return out;
}

/** A scope list to query (CountOnline, WatchScopeCounts): distinct, at most `max`. */
export function checkQueryScopes(scopes: readonly string[], max: number, field = "scopes"): string[] {
  if (scopes.length > max) throw limitExceeded(field, max, scopes.length, "scopes", "INVALID_ARGUMENT");
  return [...new Set(scopes.map((s, i) => checkScope(s, `${field}[${i}]`)))];
}

/**
 * The scopes a user may name at Join: every one must be in the token's list (services may name
 * any: they pass `allowed = null`). Throws PERMISSION_DENIED naming the first one that is not.
 */
export function checkAllowedScopes(requested: readonly string[], allowed: readonly string[] | null): void {
  if (allowed === null) return;
  const ok = new Set(allowed);
  requested.forEach((s, i) => {
    if (!ok.has(s)) {
      throw new PresenceError("PERMISSION_DENIED", `scopes[${i}]: scope "${s}" is not in the caller's token`, { field: `scopes[${i}]` });
    }
  });
}

/**
 * The shard (0..shards-1) of a user in every scope: FNV-1a of the user id's UTF-16 code units.
 * Every store uses this one function, so a user's entries of all scopes land in the same shard
 * index and Redis keys of one shard share one hash tag per scope.
 */
export function shardOf(userId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** A position in an online list: last activity (desc), then user id (asc). */
export interface OnlinePosition {
  lastActiveMs: number;
  userId: string;
}

/** Order of online lists: most recent activity first, then user id. Negative when `a` comes first. */
export function compareOnline(a: OnlinePosition, b: OnlinePosition): number {
  if (a.lastActiveMs !== b.lastActiveMs) return b.lastActiveMs - a.lastActiveMs;
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

/** True when `p` comes strictly after the token position (belongs to the next pages). */
export function isAfter(p: OnlinePosition, token: OnlinePosition | null): boolean {
  return token === null || compareOnline(token, p) < 0;
}

/**
 * Page tokens are opaque to clients: base64url of `<lastActiveMs>:<userId>`, prefixed by a tag so
 * that a token of another list kind is refused (`o` for online lists, `j` / `a` for room pages).
 */
export function encodePageToken(tag: string, p: OnlinePosition): string {
  return toBase64Url(`${tag}${p.lastActiveMs}:${p.userId}`);
}

function toBase64Url(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(token: string): string | null {
  try {
    const bin = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** Decodes a page token of kind `tag`; "" → null (first page). Throws INVALID_ARGUMENT when malformed. */
export function decodePageToken(tag: string, token: string, field = "page_token"): OnlinePosition | null {
  if (token === "") return null;
  const bad = () => invalidArgument(field, "is not a page token of this list (pass next_page_token unchanged)");
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  const text = fromBase64Url(token);
  if (text === null || !text.startsWith(tag)) throw bad();
  const colon = text.indexOf(":", tag.length);
  const ms = Number(text.slice(tag.length, colon));
  if (colon < 0 || !Number.isSafeInteger(ms)) throw bad();
  return { lastActiveMs: ms, userId: text.slice(colon + 1) };
}

/** Validates a page size: 0 → `defaultSize`; otherwise 1..max. */
export function pageSizeOf(requested: number, defaultSize: number, max: number, field = "page_size"): number {
  if (requested === 0) return Math.min(defaultSize, max);
  if (!Number.isInteger(requested) || requested < 0 || requested > max) {
    throw limitExceeded(field, max, requested, "entries", "INVALID_ARGUMENT");
  }
  return requested;
}

/** Counts of one scope. */
export interface ScopeCount {
  scope: string;
  users: number;
  connections: number;
}

/**
 * The membership of one scope as every store must keep it, as plain transitions: sessions carry
 * the scope, users are in it while one of their sessions does, and a user's position is the
 * highest activity stamp seen while in it (it never decreases; leaving resets it).
 */
export interface ScopeMembership {
  /** sessionId → userId. */
  readonly sessions: Map<string, string>;
  /** userId → { sessions carrying the scope, position }. */
  readonly users: Map<string, { sessions: number; lastActiveMs: number }>;
}

export function createScopeMembership(): ScopeMembership {
  return { sessions: new Map(), users: new Map() };
}

/** Adds a session (idempotent). Returns true when its user entered the scope. */
export function addScopeSession(m: ScopeMembership, sessionId: string, userId: string, lastActiveMs: number): boolean {
  if (m.sessions.has(sessionId)) return false;
  m.sessions.set(sessionId, userId);
  const u = m.users.get(userId);
  if (u) {
    u.sessions += 1;
    u.lastActiveMs = Math.max(u.lastActiveMs, lastActiveMs);
    return false;
  }
  m.users.set(userId, { sessions: 1, lastActiveMs });
  return true;
}

/** Removes a session (idempotent). Returns true when its user left the scope. */
export function removeScopeSession(m: ScopeMembership, sessionId: string): boolean {
  const userId = m.sessions.get(sessionId);
  if (userId === undefined) return false;
  m.sessions.delete(sessionId);
  const u = m.users.get(userId)!;
  u.sessions -= 1;
  if (u.sessions > 0) return false;
  m.users.delete(userId);
  return true;
}

/** Raises a user's position to `lastActiveMs` (never lowers it). Returns the previous position, or null when absent. */
export function stampScopeUser(m: ScopeMembership, userId: string, lastActiveMs: number): number | null {
  const u = m.users.get(userId);
  if (!u) return null;
  const before = u.lastActiveMs;
  if (lastActiveMs > before) u.lastActiveMs = lastActiveMs;
  return before;
}

export function scopeCountOf(m: ScopeMembership, scope: string): ScopeCount {
  return { scope, users: m.users.size, connections: m.sessions.size };
}
