import type { ActivityRecord } from "../core/activity.js";
import type { Clock, TimerHandle } from "../core/clock.js";
import type { HistoryStore } from "./history-store.js";

/**
 * The history write queue: rows recorded on this node are written in batches, off the presence
 * hot path (recording is a synchronous push; presence never waits for the database).
 *
 * Timing. A batch is written when `batchSize` rows are queued (default 100) or when the oldest
 * queued row has waited `flushIntervalMs` (default 1 s), whichever comes first; one write is in
 * flight at a time, so rows reach the database in the order this node committed them.
 *
 * Failures. A failed write keeps its rows at the head of the queue and is retried with
 * exponential backoff (100 ms doubling up to `retryMaxMs`). Writes are idempotent per row key
 * (HistoryStore.write), so a batch whose outcome was unknown (a timeout after the commit) is simply
 * written again: at-least-once delivery, stored exactly once.
 *
 * Bound. The queue holds at most `maxQueueRows`; while it is full (the database has been down for
 * a while), new rows are dropped, counted (`dropped` observer, metric and alert), and remembered
 * as one gap: when a write succeeds again, a `gap` row (reason "overflow", `detail.dropped`,
 * first and last dropped commit times) is written first, so readers see that the log is
 * incomplete there and where. Nothing is lost in silence.
 *
 * Shutdown. `close(deadlineMs)` keeps writing until the queue is empty or the deadline passes;
 * rows left then are counted as dropped and reported to the caller (there is no database to
 * record a gap in).
 */
export interface HistoryWriter {
  /** Queues a row (never blocks, never throws); drops it when the queue is full. */
  record(row: ActivityRecord): void;
  /** Rows queued now. */
  depth(): number;
  /** Resolves when every row queued before the call is written (or was dropped). For tests and shutdown. */
  flush(): Promise<void>;
  /** Writes what it can until `deadlineMs` has passed, then stops. Resolves with the rows left unwritten. */
  close(deadlineMs: number): Promise<{ unwritten: number }>;
}

export interface HistoryWriterOptions {
  /** The store, or undefined while it is starting (the embedded database): rows wait in the queue. */
  store: () => HistoryStore | undefined;
  clock: Clock;
  /** This node's id (gap rows name the node that dropped rows). */
  nodeId: string;
  /** Unique per process start: keys of gap rows. */
  bootId: string;
  batchSize: number;
  flushIntervalMs: number;
  maxQueueRows: number;
  retryMaxMs: number;
  observer?: HistoryWriterObserver;
}

export interface HistoryWriterObserver {
  /** A batch of `rows` was written in `seconds`; `lagsSeconds` are commit-to-durable lags of its rows. */
  written?(rows: number, seconds: number, lagsSeconds: number[]): void;
  /** `rows` were dropped (queue full, or left at shutdown). */
  dropped?(rows: number): void;
  /** A write failed (it will be retried). */
  failed?(err: unknown): void;
}

const RETRY_MIN_MS = 100;

export function createHistoryWriter(o: HistoryWriterOptions): HistoryWriter {
  const queue: ActivityRecord[] = [];
  // Rows before this index were enqueued at `enqueuedAt[i]`: the flush timer follows the oldest.
  const enqueuedAt: number[] = [];
  let gap: { dropped: number; firstMs: number; lastMs: number } | undefined;
  let gaps = 0;
  let writing = false;
  let closed = false;
  let timer: TimerHandle | undefined;
  let failures = 0;
  let waiters: { upTo: number; resolve: () => void }[] = [];
  let writtenOrDropped = 0; // rows that left the queue since start (waiters count against it)
  let enqueuedTotal = 0;

  const schedule = (ms: number) => {
    timer?.cancel();
    timer = o.clock.setTimeout(() => {
      timer = undefined;
      void pump();
    }, Math.max(0, ms));
  };

  const settle = () => {
    const ready = waiters.filter((w) => w.upTo <= writtenOrDropped);
    waiters = waiters.filter((w) => w.upTo > writtenOrDropped);
    for (const w of ready) w.resolve();
  };

  const nextDelay = () => {
    if (queue.length === 0) return undefined;
    if (queue.length >= o.batchSize) return 0;
    return enqueuedAt[0]! + o.flushIntervalMs - o.clock.now();
  };

  async function pump(force = false): Promise<void> {
    if (writing || queue.length === 0) return;
    if (!force && queue.length < o.batchSize && o.clock.now() < enqueuedAt[0]! + o.flushIntervalMs) {
      schedule(nextDelay()!);
      return;
    }
    const store = o.store();
    if (!store) {
      schedule(Math.min(o.retryMaxMs, RETRY_MIN_MS * 2 ** Math.min(failures++, 16)));
      return;
    }
    writing = true;
    const batch = queue.slice(0, o.batchSize);
    const started = o.clock.now();
    try {
      await store.write(batch);
      const now = o.clock.now();
      queue.splice(0, batch.length);
      enqueuedAt.splice(0, batch.length);
      failures = 0;
      writtenOrDropped += batch.length;
      o.observer?.written?.(batch.length, (now - started) / 1000, batch.map((r) => Math.max(0, now - r.timeMs) / 1000));
      if (gap) {
        // Writing works again: record the overflow first, as the next row to write.
        queue.unshift(gapRow(gap, ++gaps));
        enqueuedAt.unshift(now - o.flushIntervalMs);
        gap = undefined;
        writtenOrDropped--; // the gap row is extra: waiters count only recorded rows
      }
    } catch (err) {
      o.observer?.failed?.(err);
      failures++;
    } finally {
      writing = false;
    }
    settle();
    if (failures > 0) schedule(Math.min(o.retryMaxMs, RETRY_MIN_MS * 2 ** Math.min(failures - 1, 16)));
    else if (queue.length > 0) schedule(nextDelay()!);
  }

  const gapRow = (g: NonNullable<typeof gap>, n: number): ActivityRecord => ({
    key: `g:${o.nodeId}:${o.bootId}:${n}`,
    timeMs: g.firstMs,
    kind: "gap",
    room: "",
    userId: "",
    connectionId: "",
    reason: "overflow",
    nodeId: o.nodeId,
    remoteAddr: "",
    userAgent: "",
    epoch: "",
    version: 0,
    invisible: false,
    users: 0,
    connections: 0,
    anonymous: 0,
    detail: { dropped: g.dropped, untilMs: g.lastMs },
  });

  return {
    record(row) {
      enqueuedTotal++;
      if (closed || queue.length >= o.maxQueueRows) {
        writtenOrDropped++;
        gap = gap ? { dropped: gap.dropped + 1, firstMs: Math.min(gap.firstMs, row.timeMs), lastMs: Math.max(gap.lastMs, row.timeMs) } : { dropped: 1, firstMs: row.timeMs, lastMs: row.timeMs };
        o.observer?.dropped?.(1);
        settle();
        return;
      }
      queue.push(row);
      enqueuedAt.push(o.clock.now());
      // While a write is in flight or a retry is pending, the running cycle picks new rows up.
      if (writing || failures > 0) return;
      if (queue.length >= o.batchSize) schedule(0);
      else if (queue.length === 1) schedule(o.flushIntervalMs);
    },

    depth: () => queue.length,

    flush() {
      const upTo = enqueuedTotal;
      if (writtenOrDropped >= upTo) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiters.push({ upTo, resolve });
        if (!writing && failures === 0) {
          timer?.cancel();
          void pump(true);
        }
      });
    },

    async close(deadlineMs) {
      closed = true;
      timer?.cancel();
      const deadline = o.clock.now() + deadlineMs;
      while (queue.length > 0 && o.clock.now() < deadline) {
        const before = queue.length;
        await pump(true);
        while (writing) await new Promise((r) => setImmediate(r));
        if (queue.length >= before) {
          timer?.cancel();
          await new Promise((r) => setTimeout(r, Math.min(RETRY_MIN_MS, Math.max(0, deadline - o.clock.now()))));
        }
      }
      timer?.cancel();
      const unwritten = queue.length;
      if (unwritten > 0) o.observer?.dropped?.(unwritten);
      writtenOrDropped += unwritten;
      queue.length = 0;
      enqueuedAt.length = 0;
      settle();
      return { unwritten };
    },
  };
}
