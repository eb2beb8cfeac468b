import type { Clock, TimerHandle } from "./clock.js";

/**
 * A manual clock for tests: time moves only through `advance`, which runs due timers in order.
 */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing every timer that falls due, in time order. */
  advance(ms: number): void;
  /** Number of pending timers (intervals count once). */
  pending(): number;
}

export function createFakeClock(startMs = 1_700_000_000_000): FakeClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { at: number; every: number; fn: () => void }>();
  const add = (fn: () => void, ms: number, every: number): TimerHandle => {
    const id = ++seq;
    timers.set(id, { at: now + Math.max(0, ms), every, fn });
    return { cancel: () => void timers.delete(id) };
  };
  return {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms, 0),
    setInterval: (fn, ms) => add(fn, ms, Math.max(1, ms)),
    pending: () => timers.size,
    advance(ms) {
      const end = now + ms;
      for (;;) {
        let nextId = -1;
        let next: { at: number; every: number; fn: () => void } | undefined;
        for (const [id, t] of timers) {
          if (t.at <= end && (!next || t.at < next.at)) {
            next = t;
            nextId = id;
          }
        }
        if (!next) break;
        now = Math.max(now, next.at);
        if (next.every > 0) next.at += next.every;
        else timers.delete(nextId);
        next.fn();
      }
      now = end;
    },
  };
}
