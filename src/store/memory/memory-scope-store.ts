import { createRequire } from "node:module";
import { addScopeSession, compareOnline, GLOBAL_SCOPE, createScopeMembership, removeScopeSession, scopeCountOf, stampScopeUser, type OnlinePosition, type ScopeCount, type ScopeMembership } from "../../core/scope.js";
import type { ScopeEntry, ScopeStore } from "../ports/scope-store.js";
import type { UserInfo } from "../../core/identity.js";

const unknownInfo = (userId: string): UserInfo => ({ userId, name: "", avatarUrl: "", metadata: {} });

/**
 * ScopeStore of the embedded memory store: the membership rules of `core/scope.ts` plus, per
 * scope, a B+ tree ordered like online lists (last activity desc, user id asc), so a page is
 * O(log n + page) and a count O(1). A scope with nobody in it is forgotten.
 */
/** What this store uses of sorted-btree's B+ tree (a set of positions in list order). */
interface OrderedIndex<K> {
  set(key: K, value: true): unknown;
  delete(key: K): unknown;
  minKey(): K | undefined;
  maxKey(): K | undefined;
  forRange(low: K, high: K, includeHigh: boolean, onFound: (key: K) => { break?: true } | void): unknown;
}
// sorted-btree is CommonJS with `exports.default`: require gives the class the same way under Node, tsx and vitest.
const BTree = (createRequire(import.meta.url)("sorted-btree") as { default: new <K>(entries: undefined, compare: (a: K, b: K) => number) => OrderedIndex<K> }).default;

interface ScopeEntryState {
  membership: ScopeMembership;
  info: Map<string, UserInfo>;
  order: OrderedIndex<OnlinePosition>;
}

export function createMemoryScopeStore(): ScopeStore & { scopeCount(): number } {
  const scopes = new Map<string, ScopeEntryState>();
  const entry = (scope: string): ScopeEntryState => {
    let e = scopes.get(scope);
    if (!e) scopes.set(scope, (e = { membership: createScopeMembership(), info: new Map(), order: new BTree<OnlinePosition>(undefined, compareOnline) }));
    return e;
  };
  const positionOf = (e: ScopeEntryState, userId: string): OnlinePosition | undefined => {
    const u = e.membership.users.get(userId);
    return u ? { lastActiveMs: u.lastActiveMs, userId } : undefined;
  };
  /** Re-keys a user after its position changed (or it arrived / left). */
  const reindex = (e: ScopeEntryState, userId: string, before: OnlinePosition | undefined) => {
    if (before) e.order.delete(before);
    const after = positionOf(e, userId);
    if (after) e.order.set(after, true);
  };

  return {
    async addSession(sessionId, user, list, lastActiveMs) {
      const userId = user.userId;
      for (const scope of list) {
        const e = entry(scope);
        e.info.set(userId, user);
        const before = positionOf(e, userId);
        addScopeSession(e.membership, sessionId, userId, lastActiveMs);
        reindex(e, userId, before);
      }
    },
    async removeSession(sessionId, userId, list) {
      for (const scope of list) {
        const e = scopes.get(scope);
        if (!e) continue;
        const before = positionOf(e, userId);
        if (removeScopeSession(e.membership, sessionId)) {
          reindex(e, userId, before);
          e.info.delete(userId);
        }
        if (e.membership.sessions.size === 0) scopes.delete(scope);
      }
    },
    async stamp(userId, list, lastActiveMs) {
      for (const scope of list) {
        const e = scopes.get(scope);
        if (!e) continue;
        const before = positionOf(e, userId);
        if (before && lastActiveMs > before.lastActiveMs) {
          stampScopeUser(e.membership, userId, lastActiveMs);
          reindex(e, userId, before);
        }
      }
    },
    async count(list) {
      return list.map((scope): ScopeCount => {
        const e = scopes.get(scope);
        return e ? scopeCountOf(e.membership, scope) : { scope, users: 0, connections: 0 };
      });
    },
    async list(scope, pageSize, after) {
      const e = scopes.get(scope);
      if (!e) return { entries: [], count: { scope, users: 0, connections: 0 } };
      const entries: ScopeEntry[] = [];
      const visit = (p: OnlinePosition) => {
        if (entries.length >= pageSize) return { break: true as const };
        if (after && compareOnline(p, after) <= 0) return;
        entries.push({ ...p, connections: e.membership.users.get(p.userId)!.sessions, info: e.info.get(p.userId) ?? unknownInfo(p.userId) });
        return;
      };
      const first = after ?? e.order.minKey();
      const last = e.order.maxKey();
      // Start at the token (its own entry, if still there, is skipped by `visit`).
      if (first !== undefined && last !== undefined) e.order.forRange(first, last, true, (k: OnlinePosition) => visit(k));
      return { entries, count: scopeCountOf(e.membership, scope) };
    },
    async lastActive(userIds) {
      const users = scopes.get(GLOBAL_SCOPE)?.membership.users;
      const out = new Map<string, number>();
      for (const id of userIds) {
        const u = users?.get(id);
        if (u) out.set(id, u.lastActiveMs);
      }
      return out;
    },
    scopeCount: () => scopes.size,
  };
}
