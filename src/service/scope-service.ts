import type { Clock, TimerHandle } from "../core/clock.js";
import type { Caller, UserInfo } from "../core/identity.js";
import { limitExceeded, type PresenceError } from "../core/presence-error.js";
import { checkQueryScopes, checkScope, decodePageToken, encodePageToken, GLOBAL_SCOPE, pageSizeOf, type ScopeCount } from "../core/scope.js";
import type { UserStatusRecord } from "../core/user-status.js";
import type { ScopeStore } from "../store/ports/scope-store.js";

/**
 * Scope reads (scopes.proto): ListOnline, CountOnline and WatchScopeCounts. Validates input, reads
 * the ScopeStore, adds each listed user's state from the user status store (invisible users are
 * left out for everyone but themselves), and streams counts by polling the store once per interval
 * per watch (cheap: O(shards) per scope) and sending only changes, or the same counts every
 * keepalive interval. No I/O of its own. Rights checks go through `authorize` (one call each).
 */
export interface OnlineUserView {
  user: UserInfo;
  state: "online" | "away";
  lastActiveMs: number;
  connections: number;
}

export interface ScopeCountsItem {
  scopes: ScopeCount[];
  global: ScopeCount;
  timeMs: number;
}

export interface ScopeService {
  listOnline(caller: Caller, req: { scope: string; pageSize: number; pageToken: string }): Promise<{ users: OnlineUserView[]; nextPageToken: string; count: ScopeCount }>;
  countOnline(caller: Caller, req: { scopes: string[] }): Promise<{ scopes: ScopeCount[]; global: ScopeCount }>;
  /** Validates now (throws), then streams: the counts first, then changes, then keepalives. */
  watchScopeCounts(caller: Caller, req: { scopes: string[]; signal: AbortSignal }): AsyncGenerator<ScopeCountsItem>;
  /** Open count watches. */
  watchCount(): number;
  /** Ends every count watch with `error` (DRAINING on shutdown). */
  close(error: PresenceError): void;
}

export interface ScopeServiceOptions {
  scopes: ScopeStore;
  users: { getUserStatus(userIds: string[]): Promise<UserStatusRecord[]> };
  clock: Clock;
  /** PRESENCE_MAX_LIST_PAGE_SIZE (1,000), PRESENCE_MAX_COUNT_SCOPES (100); 50 users per page by default. */
  limits: { maxListPageSize: number; maxCountScopes: number; maxWatchers: number };
  /** PRESENCE_SCOPE_COUNTS_INTERVAL_MS (1,000) and the stream keepalive (30,000). */
  timings: { scopeCountsIntervalMs: number; keepaliveMs: number };
  /** Watchers held elsewhere (rooms, users), so that the process limit covers all. */
  otherWatchers: () => number;
  /** The rights check of the access model (resolves or throws permission_denied); default: allowed. */
  authorize?: (caller: Caller, op: "read" | "watch", scopes: string[]) => Promise<void>;
  /** Of `userIds`, those the caller may see (access model `status.read`); default: all. Others are left out of lists. */
  visibleUsers?: (caller: Caller, userIds: string[]) => Promise<ReadonlySet<string>>;
  /** Takes one unit of the caller's `watches` quota for a WatchScopeCounts stream; returns its release. */
  holdWatch?: (caller: Caller) => () => void;
}

export const DEFAULT_LIST_PAGE_SIZE = 50;
const TOKEN_TAG = "o";

export function createScopeService(o: ScopeServiceOptions): ScopeService {
  const authorize = o.authorize ?? (async () => {});
  const wakers = new Set<(e: PresenceError) => void>();
  let closedWith: PresenceError | null = null;
  const scopeOf = (s: string, field: string) => (s === GLOBAL_SCOPE ? s : checkScope(s, field));
  const viewerOf = (c: Caller) => (c.role === "user" ? c.subject : "");
  const same = (a: ScopeCount[], b: ScopeCount[]) => a.length === b.length && a.every((x, i) => x.users === b[i]!.users && x.connections === b[i]!.connections);

  async function counts(scopes: string[]): Promise<{ scopes: ScopeCount[]; global: ScopeCount }> {
    const all = await o.scopes.count([...scopes, GLOBAL_SCOPE]);
    return { scopes: all.slice(0, scopes.length), global: all[all.length - 1]! };
  }

  async function* watch(scopes: string[], signal: AbortSignal): AsyncGenerator<ScopeCountsItem> {
    let error: PresenceError | null = null;
    let wake: (() => void) | null = null;
    const onClose = (e: PresenceError) => {
      error = e;
      wake?.();
    };
    const onAbort = () => wake?.();
    wakers.add(onClose);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      let last = await counts(scopes);
      yield { ...last, timeMs: o.clock.now() };
      let sentAt = o.clock.now();
      for (;;) {
        await new Promise<void>((resolve) => {
          let t: TimerHandle | null = null;
          wake = () => {
            t?.cancel();
            resolve();
          };
          if (error || signal.aborted) resolve();
          else t = o.clock.setTimeout(resolve, o.timings.scopeCountsIntervalMs);
        });
        wake = null;
        if (error) throw error;
        if (signal.aborted) return;
        const next = await counts(scopes);
        const keepalive = o.clock.now() - sentAt >= o.timings.keepaliveMs;
        if (!keepalive && same([...next.scopes, next.global], [...last.scopes, last.global])) continue;
        last = next;
        sentAt = o.clock.now();
        yield { ...next, timeMs: sentAt };
      }
    } finally {
      wakers.delete(onClose);
      signal.removeEventListener("abort", onAbort);
    }
  }

  return {
    async listOnline(caller, req) {
      const scope = scopeOf(req.scope, "scope");
      const pageSize = pageSizeOf(req.pageSize, DEFAULT_LIST_PAGE_SIZE, o.limits.maxListPageSize);
      const after = decodePageToken(TOKEN_TAG, req.pageToken);
      await authorize(caller, "read", [scope]);
      const page = await o.scopes.list(scope, pageSize, after);
      const ids = page.entries.map((e) => e.userId);
      const records = ids.length === 0 ? [] : await o.users.getUserStatus(ids);
      // A list is not an oracle: users the caller may not see are absent, like invisible ones.
      const visible = o.visibleUsers && ids.length > 0 ? await o.visibleUsers(caller, ids) : null;
      const viewer = viewerOf(caller);
      const users: OnlineUserView[] = [];
      page.entries.forEach((e, i) => {
        const r = records[i]!;
        if (visible && !visible.has(e.userId)) return;
        if (r.state === "offline" || (r.invisible && r.userId !== viewer && caller.role !== "admin")) return;
        users.push({ user: e.info, state: r.state, lastActiveMs: e.lastActiveMs, connections: e.connections });
      });
      const last = page.entries[page.entries.length - 1];
      const nextPageToken = page.entries.length === pageSize && last ? encodePageToken(TOKEN_TAG, last) : "";
      return { users, nextPageToken, count: page.count };
    },

    async countOnline(caller, req) {
      const scopes = checkQueryScopes(req.scopes, o.limits.maxCountScopes);
      await authorize(caller, "read", scopes);
      return counts(scopes);
    },

    watchScopeCounts(caller, req) {
      const scopes = checkQueryScopes(req.scopes, o.limits.maxCountScopes);
      if (closedWith) throw closedWith;
      const total = wakers.size + o.otherWatchers();
      if (total >= o.limits.maxWatchers) throw limitExceeded("watchers", o.limits.maxWatchers, total + 1, "per process", "TOO_MANY_WATCHERS");
      return (async function* () {
        await authorize(caller, "watch", scopes);
        const release = o.holdWatch?.(caller) ?? (() => {});
        try {
          yield* watch(scopes, req.signal);
        } finally {
          release();
        }
      })();
    },

    watchCount: () => wakers.size,

    close(error) {
      closedWith = error;
      for (const w of [...wakers]) w(error);
    },
  };
}
