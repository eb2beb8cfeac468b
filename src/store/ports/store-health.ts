/**
 * Health and resource figures of a store: readiness, gauges, and memory use for the memory-budget
 * guard (new rooms and sessions are refused above a budget, existing ones never).
 */
export interface StoreHealth {
  /** Whether the write path works (readiness). Rejects with STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  /** Live counts for gauges (cached, no I/O). */
  stats(): { sessions: number; rooms: number };
  /**
   * Memory the store uses now. Redis: `INFO memory` used_memory of every master (one call each;
   * cache the answer, do not call it per request); memory store: an estimate from its entry
   * counts. `largestNodeBytes` is the biggest single master (Redis Cluster's limit is per master).
   */
  memoryUsage(): Promise<StoreMemory>;
}

export interface StoreMemory {
  usedBytes: number;
  largestNodeBytes: number;
  /** True when the figure is an estimate (memory store), false when measured (Redis INFO). */
  estimated: boolean;
}
