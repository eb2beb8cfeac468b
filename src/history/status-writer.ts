import type { Clock, TimerHandle } from "../core/clock.js";
import { foldDurableStatus } from "../core/durable-status.js";
import type { DurableUserStatus, HistoryStore } from "./history-store.js";

/**
 * Writes users' status through to the history database (last seen, custom status, invisible:
 * what must survive a Redis data loss). Changes are coalesced per user (folded in commit order:
 * core/durable-status.ts) and written every `flushMs` in one statement; a failed write is retried at the next flush with
 * whatever is newest by then. Bounded: at most `maxUsers` users wait; beyond that a change is
 * dropped and counted (the next change of that user writes its last seen again; a dropped SetStatus
 * is written again by her next SetStatus only).
 */
export interface StatusWriter {
  save(status: DurableUserStatus): void;
  pending(): number;
  /** Writes what is pending now (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createStatusWriter(o: {
  store: () => HistoryStore | undefined;
  clock: Clock;
  flushMs: number;
  maxUsers: number;
  onError?: (err: unknown) => void;
  onDropped?: () => void;
}): StatusWriter {
  let pending = new Map<string, DurableUserStatus>();
  let timer: TimerHandle | undefined;
  let writing: Promise<void> | undefined;

  const write = async () => {
    timer = undefined;
    const store = o.store();
    if (!store || pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    try {
      await store.saveUserStatus([...batch.values()]);
    } catch (err) {
      // Put the batch back under what came meanwhile (the batch is older), and try again at the next flush.
      for (const [id, s] of batch) {
        const later = pending.get(id);
        pending.set(id, later ? foldDurableStatus(s, later) : s);
      }
      o.onError?.(err);
    }
    if (pending.size > 0) schedule();
  };
  const schedule = () => {
    timer ??= o.clock.setTimeout(() => void (writing = write().finally(() => (writing = undefined))), o.flushMs);
  };
  return {
    save(status) {
      const prev = pending.get(status.userId);
      if (!prev && pending.size >= o.maxUsers) return void o.onDropped?.();
      pending.set(status.userId, foldDurableStatus(prev, status));
      schedule();
    },
    pending: () => pending.size,
    async flush() {
      await writing;
      timer?.cancel();
      await write();
    },
    async close() {
      timer?.cancel();
      await writing;
      await write().catch(() => {});
    },
  };
}
