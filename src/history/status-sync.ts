import type { Clock } from "../core/clock.js";
import { foldDurableStatus, isFlagged } from "../core/durable-status.js";
import type { UserRestore } from "../core/user-status.js";
import type { DurableUserStatus, HistoryStore } from "./history-store.js";
import { createStatusWriter, type StatusWriter } from "./status-writer.js";

/**
 * The durable side of user status (issue 13 item 4), for one node:
 * - write-through: every status change this node commits is folded into the durable copy
 *   (core/durable-status.ts: a session's change never sets the custom status or the invisible flag,
 *   a SetStatus always does), coalesced per user;
 * - fallback: GetUserStatus asks `load` for users the store no longer holds (bounded by
 *   `timeoutMs`: a slow or dead database never holds the call up; it then answers from the store);
 * - restores: a cache of the users who are invisible or have a custom status (loaded from the
 *   database when it is ready and every `refreshMs`, kept current by this node's own commits), from
 *   which a join that creates a user's record in the store (after a Redis data loss, a cold start)
 *   carries her durable status into the same commit (JoinInput.restoreStatus). The cache is
 *   per node: a change made through another node reaches it with the next refresh.
 */
export interface StatusSync {
  readonly writer: StatusWriter;
  /** A status change committed on this node. */
  committed(status: DurableUserStatus): void;
  /** Durable statuses of these users; [] when the database does not answer within the timeout. */
  load(userIds: string[]): Promise<DurableUserStatus[]>;
  /** The cached durable status of a flagged user (invisible or custom status), if any. */
  hint(userId: string): DurableUserStatus | undefined;
  /** The restore a join creating the user's record carries (from the cache), if any. */
  restoreOf(userId: string): UserRestore | undefined;
  /** Reloads the cache (at ready, periodically). */
  refresh(): Promise<void>;
}

export function createStatusSync(o: {
  store: () => HistoryStore | undefined;
  clock: Clock;
  flushMs: number;
  maxQueueUsers: number;
  cacheUsers: number;
  timeoutMs: number;
  onError: (err: unknown) => void;
  onDropped: () => void;
}): StatusSync {
  const writer = createStatusWriter({ store: o.store, clock: o.clock, flushMs: o.flushMs, maxUsers: o.maxQueueUsers, onError: o.onError, onDropped: o.onDropped });
  let cache = new Map<string, DurableUserStatus>();
  // Changes committed here while a refresh query runs: applied over what the query read.
  let duringRefresh: DurableUserStatus[] | undefined;
  const apply = (into: Map<string, DurableUserStatus>, s: DurableUserStatus) => {
    const prev = into.get(s.userId);
    const next = foldDurableStatus(prev, s);
    if (isFlagged(next)) {
      if (prev || into.size < o.cacheUsers) into.set(s.userId, next);
    } else into.delete(s.userId);
  };
  const remember = (s: DurableUserStatus) => {
    duringRefresh?.push(s);
    apply(cache, s);
  };
  return {
    writer,
    committed(status) {
      writer.save(status);
      remember(status);
    },
    async load(userIds) {
      const store = o.store();
      if (!store || userIds.length === 0) return [];
      let timer: { cancel(): void } | undefined;
      const timeout = new Promise<DurableUserStatus[]>((resolve) => (timer = o.clock.setTimeout(() => resolve([]), o.timeoutMs)));
      try {
        return await Promise.race([store.loadUserStatus(userIds).catch((err: unknown) => (o.onError(err), [])), timeout]);
      } finally {
        timer?.cancel();
      }
    },
    hint: (userId) => cache.get(userId),
    restoreOf(userId) {
      const d = cache.get(userId);
      return d && { lastSeenMs: d.lastSeenMs, visibleLastSeenMs: d.visibleLastSeenMs, customStatus: d.customStatus, invisible: d.invisible, changedAtMs: Math.max(d.customStatusMs, d.invisibleMs) };
    },
    async refresh() {
      const store = o.store();
      if (!store || o.cacheUsers === 0) return;
      duringRefresh = [];
      try {
        const fresh = new Map<string, DurableUserStatus>();
        for (const s of await store.loadFlaggedUserStatus(o.cacheUsers)) fresh.set(s.userId, s);
        for (const s of duringRefresh) apply(fresh, s);
        cache = fresh;
      } finally {
        duringRefresh = undefined;
      }
    },
  };
}
