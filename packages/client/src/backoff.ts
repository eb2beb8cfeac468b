/**
 * Reconnect delays: exponential backoff (`baseMs × 2^attempt`, capped at `capMs`) with jitter, so
 * that thousands of tabs dropped by one server restart do not come back in the same millisecond
 * (design §5 "graceful deploys"; phoenixframework/phoenix#4045).
 *
 * `jitter` is the randomised fraction of each delay: 0 = none, 1 = "full jitter" (anywhere in
 * `[0, delay]`), 0.5 (default) = anywhere in `[delay / 2, delay]`.
 */
export interface BackoffOptions {
  /** First delay (ms). Default 1,000. */
  baseMs?: number | undefined;
  /** Largest delay (ms). Default 30,000. */
  capMs?: number | undefined;
  /** Give up after this many failed attempts in a row. Default: never. */
  maxAttempts?: number | undefined;
  /** Randomised fraction of each delay, 0..1 (`true` = 1, `false` = 0). Default 0.5. */
  jitter?: number | boolean | undefined;
  /** Random source in [0, 1) (tests). Default `Math.random`. */
  random?: (() => number) | undefined;
}

export interface Backoff {
  /** The delay before the next attempt, or null when `maxAttempts` is exhausted. Counts the attempt. */
  next(): number | null;
  /** After a success: the next failure starts again from `baseMs`. */
  reset(): void;
  /** Failed attempts since the last reset. */
  readonly attempts: number;
}

export const DEFAULT_BACKOFF = { baseMs: 1_000, capMs: 30_000, jitter: 0.5 } as const;

/** The delay of attempt `attempt` (0-based). Pure apart from `random`. */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const base = Math.max(0, o.baseMs ?? DEFAULT_BACKOFF.baseMs);
  const cap = Math.max(base, o.capMs ?? DEFAULT_BACKOFF.capMs);
  const jitter = jitterFraction(o.jitter);
  // 2^attempt overflows to Infinity for huge attempts; min() keeps it at the cap.
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt));
  const random = o.random ?? Math.random;
  return Math.round(exp * (1 - jitter * random()));
}

export function createBackoff(o: BackoffOptions = {}): Backoff {
  let attempts = 0;
  return {
    next() {
      if (o.maxAttempts !== undefined && attempts >= o.maxAttempts) return null;
      return backoffDelay(attempts++, o);
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}

function jitterFraction(j: number | boolean | undefined): number {
  if (j === undefined) return DEFAULT_BACKOFF.jitter;
  if (typeof j === "boolean") return j ? 1 : 0;
  return Math.min(1, Math.max(0, j));
}
