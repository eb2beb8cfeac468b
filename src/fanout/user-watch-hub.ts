import type { Clock } from "../core/clock.js";
import type { Limits, Timings } from "../core/options.js";
import { limitExceeded, type PresenceError } from "../core/presence-error.js";
import { presentUserIds, visibleStatus, withLastActive, type UserStatusRecord } from "../core/user-status.js";
import type { EventBus } from "../store/ports/event-bus.js";
import type { UserStatusStore } from "../store/ports/user-status-store.js";

/**
 * Watches of user lists ("friends online"). Status is state, not a log: while a reader is behind,
 * changes of one user are coalesced (the newest status wins), so a watcher holds at most one
 * pending status per watched user and memory is bounded by the list size. Every item is filtered
 * through the visibility rules for the viewer (an invisible user looks offline to others).
 * Keepalives follow `timings.keepaliveMs`; `close(error)` ends every watch (DRAINING on shutdown).
 */
export type UserWatchItem =
  | { type: "snapshot"; statuses: UserStatusRecord[] }
  | { type: "changed"; status: UserStatusRecord }
  | { type: "keepalive"; timeMs: number };

export interface UserWatchHub {
  /** Opens a watch of distinct, validated user ids. Throws TOO_MANY_WATCHERS when the process is full. */
  watch(userIds: string[], opts: { viewerUserId: string; signal: AbortSignal }): AsyncGenerator<UserWatchItem>;
  count(): number;
  close(error: PresenceError): void;
}

export interface UserWatchHubOptions {
  users: Pick<UserStatusStore, "getUserStatus">;
  /** Last activity of users with a session, told in snapshots (changes carry none). */
  lastActive?: (userIds: string[]) => Promise<Map<string, number>>;
  bus: Pick<EventBus, "subscribeUsers">;
  clock: Clock;
  timings: Timings;
  limits: Limits;
  /** Watchers held elsewhere (room watchers), so that `maxWatchers` covers both. */
  otherWatchers: () => number;
  delivered?: (kind: string) => void;
}

export function createUserWatchHub(o: UserWatchHubOptions): UserWatchHub {
  const wakers = new Set<(e: PresenceError) => void>();
  let closedWith: PresenceError | null = null;
  let live = 0;

  /** Per-watch state, created eagerly so that an abort cleans up even if the generator never runs. */
  function open(userIds: string[], signal: AbortSignal) {
    const st = {
      pending: new Map<string, UserStatusRecord>(),
      wake: null as (() => void) | null,
      error: null as PresenceError | null,
      closed: false,
      poke() {
        const f = st.wake;
        st.wake = null;
        f?.();
      },
      cleanup() {
        if (st.closed) return;
        st.closed = true;
        live--;
        wakers.delete(onClose);
        unsubscribe();
        st.poke();
      },
    };
    const unsubscribe = o.bus.subscribeUsers(userIds, (r) => {
      st.pending.delete(r.userId); // re-insert: keep arrival order, newest value
      st.pending.set(r.userId, r);
      st.poke();
    });
    const onClose = (e: PresenceError) => {
      st.error = e;
      st.poke();
    };
    wakers.add(onClose);
    live++;
    if (signal.aborted) st.cleanup();
    else signal.addEventListener("abort", () => st.cleanup(), { once: true });
    return st;
  }

  async function* run(userIds: string[], viewer: string, signal: AbortSignal): AsyncGenerator<UserWatchItem> {
    const st = open(userIds, signal);
    try {
      const first = await o.users.getUserStatus(userIds);
      st.pending.clear(); // the snapshot already holds everything that changed meanwhile
      o.delivered?.("user_snapshot");
      const shown = first.map((r) => visibleStatus(r, viewer, o.clock.now()));
      const present = presentUserIds(shown);
      yield { type: "snapshot", statuses: withLastActive(shown, o.lastActive && present.length > 0 ? await o.lastActive(present) : undefined) };
      let lastSent = o.clock.now();
      while (!st.closed) {
        if (st.error) throw st.error;
        const next = st.pending.entries().next();
        if (!next.done) {
          const [id, r] = next.value;
          st.pending.delete(id);
          o.delivered?.("user_status");
          yield { type: "changed", status: visibleStatus(r, viewer, o.clock.now()) };
          lastSent = o.clock.now();
          continue;
        }
        const idle = o.clock.now() - lastSent;
        if (idle >= o.timings.keepaliveMs) {
          o.delivered?.("keepalive");
          yield { type: "keepalive", timeMs: o.clock.now() };
          lastSent = o.clock.now();
          continue;
        }
        await new Promise<void>((resolve) => {
          const t = o.clock.setTimeout(resolve, o.timings.keepaliveMs - idle);
          st.wake = () => {
            t.cancel();
            resolve();
          };
        });
      }
      if (st.error) throw st.error;
      signal.throwIfAborted();
    } finally {
      st.cleanup();
    }
  }

  return {
    watch(userIds, opts) {
      if (closedWith) throw closedWith;
      const total = live + o.otherWatchers();
      if (total >= o.limits.maxWatchers) {
        throw limitExceeded("watchers", o.limits.maxWatchers, total + 1, "per process", "TOO_MANY_WATCHERS");
      }
      return run(userIds, opts.viewerUserId, opts.signal);
    },
    count: () => live,
    close(error) {
      closedWith = error;
      for (const w of [...wakers]) w(error);
    },
  };
}
