/**
 * Injected time. Every timer and every "now" in the core, the stores and the fan-out hub goes
 * through a Clock, so unit tests drive time with a fake clock and integration tests shrink
 * intervals instead of sleeping.
 */

export interface TimerHandle {
  /** Cancels the timer; safe to call twice. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms`. The timer does not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms`. The timer does not keep the process alive. */
  setInterval(fn: () => void, ms: number): TimerHandle;
}

/** The real clock. Timers are unref'd: shutdown never waits for them. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = globalThis.setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return { cancel: () => globalThis.clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = globalThis.setInterval(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return { cancel: () => globalThis.clearInterval(t) };
  },
};
