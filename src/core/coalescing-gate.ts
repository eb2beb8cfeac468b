import type { Clock, TimerHandle } from "./clock.js";

/**
 * Per-key rate limiting that coalesces instead of refusing: within the rate, a submitted action
 * runs at once; above it, the newest action per key is kept (last value wins) and runs when the
 * key's token bucket has refilled. Used for cursor (30/s) and typing (2/s) updates per session.
 * Memory is O(active keys): a key's entry is dropped once its bucket is full again.
 */
export interface CoalescingGate {
  /** Runs `action` now ("applied") or later, replacing any action already waiting ("coalesced"). */
  submit(key: string, action: () => void): "applied" | "coalesced";
  /** Drops a key's waiting action (e.g. its session ended). */
  forget(key: string): void;
  /** Keys with state (for tests and bounded-memory checks). */
  size(): number;
}

interface Bucket {
  tokens: number;
  at: number;
  pending?: () => void;
  timer?: TimerHandle;
}

export function createCoalescingGate(opts: { ratePerSec: number; clock: Clock }): CoalescingGate {
  const rate = Math.max(0.001, opts.ratePerSec);
  const capacity = Math.max(1, rate);
  const buckets = new Map<string, Bucket>();
  const refill = (b: Bucket, now: number) => {
    b.tokens = Math.min(capacity, b.tokens + ((now - b.at) * rate) / 1000);
    b.at = now;
  };
  const drain = (key: string) => {
    const b = buckets.get(key);
    if (!b) return;
    b.timer = undefined;
    refill(b, opts.clock.now());
    const run = b.pending;
    b.pending = undefined;
    if (run) {
      b.tokens -= 1;
      run();
    }
    if (b.tokens >= capacity - 1e-9 && !b.pending) buckets.delete(key);
  };
  let submits = 0;
  /** Drops buckets that are full again and have nothing waiting (bounded memory). */
  const sweep = (now: number) => {
    for (const [key, b] of buckets) {
      if (b.pending) continue;
      refill(b, now);
      if (b.tokens >= capacity - 1e-9) buckets.delete(key);
    }
  };
  return {
    submit(key, action) {
      const now = opts.clock.now();
      if (++submits % 1024 === 0) sweep(now);
      let b = buckets.get(key);
      if (!b) {
        b = { tokens: capacity, at: now };
        buckets.set(key, b);
      } else refill(b, now);
      if (!b.pending && b.tokens >= 1) {
        b.tokens -= 1;
        action();
        return "applied";
      }
      b.pending = action;
      if (!b.timer) {
        const waitMs = Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / rate));
        b.timer = opts.clock.setTimeout(() => drain(key), waitMs);
      }
      return "coalesced";
    },
    forget(key) {
      const b = buckets.get(key);
      b?.timer?.cancel();
      buckets.delete(key);
    },
    size: () => {
      sweep(opts.clock.now());
      return buckets.size;
    },
  };
}
