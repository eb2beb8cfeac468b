import type { Clock, TimerHandle } from "../core/clock.js";

/**
 * The one place that knows whether this node is ready to serve (design I7: health reflects the
 * real write path). `/readyz`, the gRPC health service and the `presence_ready` gauge all read it.
 *
 * Timing: a probe (`check`, for the Redis store a real write plus a round trip on the subscriber
 * connection) runs every `intervalMs` (the owner awaits one `probe()` at start-up, so the state is
 * known before the ports open); each probe is bounded by `timeoutMs` (a probe
 * that takes longer counts as failed). A probe still running when the next tick comes is not
 * doubled: the tick is skipped. `probe()` runs one more probe on demand (`/readyz` does, per
 * request) and feeds its result into the same state; calls while a probe is in flight share it
 * (one probe in flight at most: a flood of `/readyz` requests costs the store one write, issue 11). Results apply in the order the probes
 * started, so a slow old probe never overwrites a newer answer.
 *
 * Shutdown: `drain()` forces NOT serving for good (before anything else closes, so load balancers
 * and health watchers move away first); `close()` stops the loop.
 *
 * Listeners hear every change of `serving` (not every probe), and `drain()` once. A listener that throws is counted
 * as a loop error and the others still run; the loop itself never throws.
 */
export interface Readiness {
  ok: boolean;
  /** Why not ready (shown in the `/readyz` 503 body and the log). */
  detail?: string;
}

export interface ReadinessMonitor {
  /** True while the last applied probe passed and the node is not draining. */
  serving(): boolean;
  /** True after `drain()`. */
  draining(): boolean;
  /** The last result (before the first probe: not ok, "not probed yet"). */
  current(): Readiness;
  /** Runs one probe now (bounded by `timeoutMs`; joins the one in flight), applies it, and resolves with it. Never rejects. */
  probe(): Promise<Readiness>;
  /** Calls `listener(serving)` on every change; returns the unsubscribe function. */
  onChange(listener: (serving: boolean) => void): () => void;
  /** Not serving from now on (graceful shutdown); notifies every listener (even if already not serving). Idempotent. */
  drain(): void;
  /** Stops the periodic probe. Idempotent. */
  close(): void;
}

export interface ReadinessMonitorOptions {
  /** The real check: resolves when ready, rejects (with a reason) when not. */
  check: () => Promise<void>;
  clock: Clock;
  /** Period of the background probe (PRESENCE_READINESS_INTERVAL_MS). */
  intervalMs: number;
  /** A probe slower than this fails (PRESENCE_READINESS_TIMEOUT_MS). */
  timeoutMs: number;
  /** Told every applied result (the `presence_ready` gauge). */
  onResult?: (serving: boolean) => void;
  /** Told every change, with the reason when not serving (the log). */
  onTransition?: (serving: boolean, detail: string | undefined) => void;
  /** A listener threw (counted as `presence_loop_errors_total{loop="readiness"}`). */
  onLoopError?: (err: unknown) => void;
}

const DRAINING: Readiness = { ok: false, detail: "draining" };

/** Creates the monitor and starts its loop (first tick after `intervalMs`; call `probe()` to know sooner). */
export function createReadinessMonitor(o: ReadinessMonitorOptions): ReadinessMonitor {
  if (!(o.intervalMs > 0) || !(o.timeoutMs > 0)) throw new RangeError(`intervalMs and timeoutMs must be > 0 (got ${o.intervalMs}, ${o.timeoutMs})`);
  const listeners = new Set<(serving: boolean) => void>();
  let last: Readiness = { ok: false, detail: "not probed yet" };
  let draining = false;
  let started = 0;
  let applied = 0;
  let looping = false;

  const isServing = () => !draining && last.ok;
  const notify = (serving: boolean) => {
    for (const l of [...listeners]) {
      try {
        l(serving);
      } catch (err) {
        o.onLoopError?.(err);
      }
    }
  };
  const apply = (seq: number, r: Readiness) => {
    if (seq <= applied) return;
    applied = seq;
    const before = isServing();
    last = r;
    const after = isServing();
    o.onResult?.(after);
    if (before !== after) {
      o.onTransition?.(after, after ? undefined : r.detail);
      notify(after);
    }
  };

  let inFlight: Promise<Readiness> | undefined;
  const probe = (): Promise<Readiness> => {
    if (draining) return Promise.resolve(DRAINING);
    inFlight ??= runProbe().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const runProbe = async (): Promise<Readiness> => {
    const seq = ++started;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<Readiness>((resolve) => {
      timer = o.clock.setTimeout(() => resolve({ ok: false, detail: `readiness probe timed out after ${o.timeoutMs} ms` }), o.timeoutMs);
    });
    const checked = Promise.resolve()
      .then(o.check)
      .then(
        (): Readiness => ({ ok: true }),
        (err: unknown): Readiness => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }),
      );
    const r = await Promise.race([checked, timedOut]);
    timer?.cancel();
    apply(seq, r);
    return draining ? DRAINING : r;
  };

  const tick = async () => {
    if (looping || draining) return;
    looping = true;
    try {
      await probe();
    } catch (err) {
      o.onLoopError?.(err); // probe() does not reject; this is a guard for listener bugs
    } finally {
      looping = false;
    }
  };
  const loop = o.clock.setInterval(() => void tick(), o.intervalMs);

  return {
    serving: isServing,
    draining: () => draining,
    current: () => (draining ? DRAINING : last),
    probe,
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    drain() {
      if (draining) return;
      const before = isServing();
      draining = true;
      o.onResult?.(false);
      if (before) o.onTransition?.(false, DRAINING.detail);
      notify(false);
    },
    close() {
      loop.cancel();
    },
  };
}
