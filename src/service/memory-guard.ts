/**
 * The store memory guard (issue 11): when the store uses more memory than its budget, new rooms
 * and new sessions are refused with `resource_exhausted` / STORE_OVER_BUDGET, while existing
 * sessions keep heartbeating, joining rooms that exist, leaving and watching. So a flood of fresh
 * rooms cannot fill Redis until every write on every node fails (Redis answers OOM to writes at
 * `maxmemory` with `noeviction`, which would end existing sessions too).
 *
 * The store's memory use (`StoreHealth.memoryUsage`: Redis `INFO memory` of every master, or the
 * memory store's estimate) is read every `intervalMs` (PRESENCE_STORE_MEMORY_CHECK_MS, 5 s), never
 * per request, also without a budget (for `presence_store_memory_bytes`); the budget applies to the
 * largest Redis master (Cluster limits are per master).
 * A failed read keeps the last answer (and is counted): the guard never blocks on the store.
 */
import type { Clock, TimerHandle } from "../core/clock.js";
import type { StoreHealth } from "../store/ports/store-health.js";

export interface MemoryGuardOptions {
  health: Pick<StoreHealth, "memoryUsage">;
  clock: Clock;
  /** Bytes; 0: nothing is refused (the use is still read, for the gauge). */
  budgetBytes: number;
  intervalMs: number;
  /** Each reading (gauges). */
  onSample?: (usedBytes: number, over: boolean) => void;
  /** A failed reading (counted, logged by the caller). */
  onError?: (err: unknown) => void;
}

export interface MemoryGuard {
  /** The last reading when over the budget, else null (always null when off). */
  overBudget(): { usedBytes: number; budgetBytes: number } | null;
  /** Reads now (tests, start-up); resolves when the reading is in. */
  check(): Promise<void>;
  stop(): void;
}

export function createMemoryGuard(o: MemoryGuardOptions): MemoryGuard {
  let used = 0;
  let timer: TimerHandle | undefined;
  let checking: Promise<void> | undefined;
  const over = () => o.budgetBytes > 0 && used > o.budgetBytes;

  function check(): Promise<void> {
    checking ??= (async () => {
      try {
        const m = await o.health.memoryUsage();
        used = m.largestNodeBytes;
        o.onSample?.(used, over());
      } catch (err) {
        o.onError?.(err);
      } finally {
        checking = undefined;
      }
    })();
    return checking;
  }

  timer = o.clock.setInterval(() => void check(), o.intervalMs);
  return {
    overBudget: () => (over() ? { usedBytes: used, budgetBytes: o.budgetBytes } : null),
    check,
    stop: () => timer?.cancel(),
  };
}
