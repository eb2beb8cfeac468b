import type { BackendEvent } from "../core/backend-events.js";
import type { Clock } from "../core/clock.js";
import type { BackendEventFeed } from "../store/presence-store.js";

/**
 * WatchEvents streams of this node: each reads the deployment's backend event feed from its own
 * cursor (so a resume replays exactly what is still retained, and a slow reader simply reads
 * behind, never queueing), filters, and yields. Idle streams poll the feed every `pollMs` and send
 * a keepalive when nothing was sent for `keepaliveMs`. A cursor older than the feed's retention
 * yields one `gap` first.
 */
export type EventWatchItem =
  | { kind: "event"; cursor: string; event: BackendEvent }
  | { kind: "gap"; cursor: string; sinceMs: number }
  | { kind: "keepalive"; cursor: string; timeMs: number };

/** Whether a stream gets an event: synchronous for the request's own filters, a promise when rights are asked. */
export type EventFilter = (e: BackendEvent) => boolean | Promise<boolean>;

export interface BackendEventHubOptions {
  feed: Pick<BackendEventFeed, "readBackendEvents">;
  clock: Clock;
  pollMs: number;
  keepaliveMs: number;
  /** Entries read per feed call. */
  pageSize: number;
}

export interface BackendEventHub {
  watch(req: { filter: EventFilter; resumeAfter: string; signal: AbortSignal }): AsyncGenerator<EventWatchItem>;
  /** Open WatchEvents streams on this node. */
  count(): number;
  /** Ends every stream with `err` (shutdown). */
  close(err: Error): void;
}

export function createBackendEventHub(o: BackendEventHubOptions): BackendEventHub {
  const open = new Set<(err: Error) => void>();

  async function* watch(req: { filter: EventFilter; resumeAfter: string; signal: AbortSignal }): AsyncGenerator<EventWatchItem> {
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const end = (err: Error) => {
      failure = err;
      wake?.();
    };
    const onAbort = () => wake?.();
    open.add(end);
    req.signal.addEventListener("abort", onAbort, { once: true });
    try {
      let cursor = req.resumeAfter;
      if (cursor === "") cursor = (await o.feed.readBackendEvents("", 0)).lastId; // from now on
      let lastSentAt = o.clock.now();
      let lastEventMs = o.clock.now();
      let first = req.resumeAfter !== "";
      while (!req.signal.aborted) {
        if (failure) throw failure;
        const page = await o.feed.readBackendEvents(cursor, o.pageSize);
        if (first && page.gap) {
          yield { kind: "gap", cursor, sinceMs: 0 };
          lastSentAt = o.clock.now();
        } else if (page.gap) {
          yield { kind: "gap", cursor, sinceMs: lastEventMs };
          lastSentAt = o.clock.now();
        }
        first = false;
        for (const entry of page.entries) {
          cursor = entry.id;
          lastEventMs = entry.event.timeMs;
          const keep = req.filter(entry.event);
          if (keep === false || (keep !== true && !(await keep))) continue;
          yield { kind: "event", cursor, event: entry.event };
          lastSentAt = o.clock.now();
        }
        if (page.entries.length >= o.pageSize) continue;
        if (o.clock.now() - lastSentAt >= o.keepaliveMs) {
          yield { kind: "keepalive", cursor, timeMs: o.clock.now() };
          lastSentAt = o.clock.now();
        }
        await new Promise<void>((resolve) => {
          const t = o.clock.setTimeout(resolve, o.pollMs);
          wake = () => {
            t.cancel();
            resolve();
          };
        });
        wake = undefined;
      }
      if (failure) throw failure;
    } finally {
      open.delete(end);
      req.signal.removeEventListener("abort", onAbort);
    }
  }

  return {
    watch,
    count: () => open.size,
    close(err) {
      for (const end of [...open]) end(err);
    },
  };
}
