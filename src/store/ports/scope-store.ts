import type { UserInfo } from "../../core/identity.js";
import type { OnlinePosition, ScopeCount } from "../../core/scope.js";

/**
 * The ScopeStore port (scopes.proto): which users are online in which scope, their order by last
 * activity, and the counts. Session stores call `addSession` when a session starts carrying scopes
 * (always with the global scope ""), `removeSession` when it stops (leave of the last room,
 * expiry, kick), and `stamp` on activity signals; every call is idempotent, so a reaper that died
 * mid-way can repeat it. Reads are O(shards) for counts and O(shards × (log n + page)) for a page
 * on Redis (see scopes.proto for the layout).
 */
export interface ScopeStore {
  /**
   * The session (of `user`) carries `scopes` from now on; its user's position is raised to
   * `lastActiveMs` and its public info (name, avatar) is kept for lists.
   */
  addSession(sessionId: string, user: UserInfo, scopes: readonly string[], lastActiveMs: number): Promise<void>;
  /** The session no longer carries `scopes`; a user without another session carrying one leaves it. */
  removeSession(sessionId: string, userId: string, scopes: readonly string[]): Promise<void>;
  /** Raises the user's position in `scopes` to `lastActiveMs` (never lowers it; no-op where absent). */
  stamp(userId: string, scopes: readonly string[], lastActiveMs: number): Promise<void>;
  /** Counts of each scope, in order. */
  count(scopes: readonly string[]): Promise<ScopeCount[]>;
  /**
   * The last activity (ms) of each user that has a session now (the global scope's order), for
   * GetUserStatus; users without one are absent. One O(log n) read per user.
   */
  lastActive(userIds: readonly string[]): Promise<Map<string, number>>;
  /** Up to `pageSize` users of `scope` strictly after `after`, in online order, and the scope's count. */
  list(scope: string, pageSize: number, after: OnlinePosition | null): Promise<{ entries: ScopeEntry[]; count: ScopeCount }>;
}

/** One user of a scope list. */
export interface ScopeEntry extends OnlinePosition {
  /** Sessions of the user that carry the scope. */
  connections: number;
  /** The user's public info as its latest session in the scope gave it. */
  info: UserInfo;
}
