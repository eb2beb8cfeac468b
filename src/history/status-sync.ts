import type { Clock } from "../core/clock.js";
import type { DurableUserStatus, HistoryStore } from "./history-store.js";
import { createStatusWriter, type StatusWriter } from "./status-writer.js";

/**
 * The durable side of user status (issue 13 item 4), for one node:
 * - write-through: every status change this node commits is saved (coalesced per user), except a
 *   blank record (no last seen, no flags: what the store makes after losing its data) of a user
 *   whose durable record has flags;
 * - fallback: GetUserStatus asks `load` for users the store no longer holds (bounded by
 *   `timeoutMs`: a slow or dead database never holds the call up; it then answers from the store);
 * - restore hints: a cache of the users who are invisible or have a custom status (loaded from the
 *   database when it is ready and every `refreshMs`, kept current by this node's own commits), so a
 *   user whose record Redis lost gets the flags back in the same commit as their next join.
 */
export interface StatusSync {
  readonly writer: StatusWriter;
  /** A status change committed on this node. */
  committed(status: DurableUserStatus): void;
  /** Durable statuses of these users; [] when the database does not answer within the timeout. */
  load(userIds: string[]): Promise<DurableUserStatus[]>;
  /** The cached durable flags of a user (invisible or custom status), if any. */
  hint(userId: string): DurableUserStatus | undefined;
  /** Reloads the cache (at ready, periodically, after a data loss). */
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
  const flagged = (s: DurableUserStatus) => s.invisible || s.customStatus !== "";
  const apply = (into: Map<string, DurableUserStatus>, s: DurableUserStatus) => {
    const prev = into.get(s.userId);
    if (prev && prev.updatedMs > s.updatedMs) return;
    if (flagged(s)) {
      if (prev || into.size < o.cacheUsers) into.set(s.userId, s);
    } else into.delete(s.userId);
  };
  const remember = (s: DurableUserStatus) => {
    duringRefresh?.push(s);
    apply(cache, s);
  };
  return {
    writer,
    committed(status) {
      // A record that knows nothing of the user's past (no last seen, no flags) is what the store
      // makes after it lost its data (re-assertion, or the first join since): it must not erase
      // the durable flags and last seen, which are the truth until the user changes them.
      const blank = status.lastSeenMs === 0 && status.visibleLastSeenMs === 0 && !status.invisible && status.customStatus === "";
      if (blank && cache.has(status.userId)) return;
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
