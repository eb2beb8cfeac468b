import type { Clock, TimerHandle } from "../../../src/core/clock.js";

/**
 * Typing indicator of this client in one room. Call `start()` on every keystroke: the first call
 * sends `typing = true`; further calls only re-arm an inactivity timer, and re-send `true` every
 * `refreshMs` so the server's typing TTL (5 s) does not lapse while the user keeps typing (a repeat
 * inside the TTL is not broadcast, design §3). After `idleMs` without a call, or on `stop()`, one
 * `typing = false` is sent. So a burst of keystrokes costs two or three calls, not one per key.
 */
export interface TypingHelperOptions {
  clock: Clock;
  send: (typing: boolean) => void;
  /** Inactivity that ends typing. Default 3,000 ms (below the server's 5 s TTL). */
  idleMs?: number | undefined;
  /** Re-send `true` this often while typing continues. Default 2,000 ms. */
  refreshMs?: number | undefined;
}

export interface TypingHelper {
  /** Marks this user as typing (call it on each keystroke). */
  start(): void;
  /** Ends typing now (on send, blur, clear). No-op when not typing. */
  stop(): void;
  readonly active: boolean;
  /** Stops without sending (the room was left). */
  dispose(): void;
}

export const DEFAULT_TYPING = { idleMs: 3_000, refreshMs: 2_000 } as const;

export function createTypingHelper(o: TypingHelperOptions): TypingHelper {
  const idleMs = o.idleMs ?? DEFAULT_TYPING.idleMs;
  const refreshMs = o.refreshMs ?? DEFAULT_TYPING.refreshMs;
  let active = false;
  let lastSentAt = 0;
  let idle: TimerHandle | null = null;

  const clear = () => {
    idle?.cancel();
    idle = null;
  };
  const helper: TypingHelper = {
    start() {
      const now = o.clock.now();
      if (!active || now - lastSentAt >= refreshMs) {
        active = true;
        lastSentAt = now;
        o.send(true);
      }
      clear();
      idle = o.clock.setTimeout(() => helper.stop(), idleMs);
    },
    stop() {
      clear();
      if (!active) return;
      active = false;
      o.send(false);
    },
    get active() {
      return active;
    },
    dispose() {
      clear();
      active = false;
    },
  };
  return helper;
}
