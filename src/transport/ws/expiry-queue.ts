import type { Clock, TimerHandle } from "../../core/clock.js";

/**
 * Deadlines of many items with one timer: the WebSocket bridge closes a socket with 4003 when its
 * token expires. A timer per socket cost ~0.3 KB of heap per idle connection (bench idle
 * scenario); this queue costs two array slots per item.
 *
 * A binary min-heap in two parallel arrays (deadlines as unboxed doubles, items), with one timer
 * armed for the earliest deadline, so items expire on time, not on a sweep's resolution. Items that
 * went away before their deadline (closed sockets) are not searched for: `forget()` only counts
 * them, and the heap is rebuilt without them (`isGone`) once they are half of it, so churn cannot
 * grow it beyond twice the live items.
 */
export interface ExpiryQueue<T> {
  /** Calls `expired(item)` at `atMs` (clock time), unless the item is gone by then. */
  add(item: T, atMs: number): void;
  /** One added item went away (it will be dropped, not expired). */
  forget(): void;
  /** Items held (live or not yet dropped). */
  size(): number;
  /** Cancels the timer; nothing expires any more. */
  stop(): void;
}

export interface ExpiryQueueOptions<T> {
  clock: Clock;
  /** The item's deadline passed (called at most once per `add`, never after `stop`). */
  expired(item: T): void;
  /** Whether the item went away (such items are skipped and dropped). */
  isGone(item: T): boolean;
}

/** setTimeout fires at once for delays over 2^31-1 ms: longer waits are done in steps. */
const MAX_DELAY_MS = 2_147_483_647;
/** Heaps smaller than this are not compacted (nothing to win). */
const MIN_COMPACT = 64;

export function createExpiryQueue<T>(o: ExpiryQueueOptions<T>): ExpiryQueue<T> {
  const at: number[] = [];
  const items: T[] = [];
  let gone = 0;
  let timer: TimerHandle | null = null;
  let timerAt = Infinity;
  let stopped = false;

  function swap(i: number, j: number) {
    const a = at[i]!;
    at[i] = at[j]!;
    at[j] = a;
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }

  function up(i: number) {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (at[p]! <= at[i]!) return;
      swap(i, p);
      i = p;
    }
  }

  function down(i: number) {
    const n = at.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const c = l + 1 < n && at[l + 1]! < at[l]! ? l + 1 : l;
      if (at[i]! <= at[c]!) return;
      swap(i, c);
      i = c;
    }
  }

  function pop() {
    const last = at.length - 1;
    swap(0, last);
    at.pop();
    items.pop();
    if (at.length > 0) down(0);
  }

  function arm() {
    if (stopped || at.length === 0) return;
    const next = at[0]!;
    if (timer && timerAt <= next) return;
    timer?.cancel();
    timerAt = next;
    timer = o.clock.setTimeout(fire, Math.min(MAX_DELAY_MS, Math.max(0, next - o.clock.now())));
  }

  function fire() {
    timer = null;
    timerAt = Infinity;
    if (stopped) return;
    const now = o.clock.now();
    while (at.length > 0 && at[0]! <= now) {
      const item = items[0]!;
      pop();
      if (o.isGone(item)) gone = Math.max(0, gone - 1);
      else o.expired(item);
    }
    arm();
  }

  function compact() {
    const keepAt: number[] = [];
    const keep: T[] = [];
    for (let i = 0; i < items.length; i++) {
      if (o.isGone(items[i]!)) continue;
      keepAt.push(at[i]!);
      keep.push(items[i]!);
    }
    at.length = 0;
    items.length = 0;
    gone = 0;
    for (let i = 0; i < keep.length; i++) {
      at.push(keepAt[i]!);
      items.push(keep[i]!);
      up(at.length - 1);
    }
  }

  return {
    add(item, atMs) {
      if (stopped) return;
      at.push(atMs);
      items.push(item);
      up(at.length - 1);
      arm();
    },
    forget() {
      gone++;
      if (at.length >= MIN_COMPACT && gone * 2 >= at.length) compact();
    },
    size: () => at.length,
    stop() {
      stopped = true;
      timer?.cancel();
      timer = null;
    },
  };
}
