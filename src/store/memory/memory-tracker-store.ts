import type { Clock } from "../../core/clock.js";
import type { TrackedKeyRecord, TrackerRecord, TrackerStore } from "../ports/tracker-store.js";

/** The TrackerStore of the embedded memory store (one process): maps with expiry times. */
export function createMemoryTrackerStore(clock: Clock): TrackerStore {
  const trackers = new Map<string, { secretHash: string; keys: Map<string, TrackedKeyRecord>; expiresAtMs: number; holder: string | null }>();
  const live = (name: string) => {
    const t = trackers.get(name);
    if (t && t.expiresAtMs <= clock.now()) {
      trackers.delete(name);
      return undefined;
    }
    return t;
  };
  const copy = (r: TrackedKeyRecord): TrackedKeyRecord => structuredClone(r);
  return {
    async createTracker(name, secretHash, ttlMs) {
      if (live(name)) return false;
      trackers.set(name, { secretHash, keys: new Map(), expiresAtMs: clock.now() + ttlMs, holder: null });
      return true;
    },
    async loadTracker(name): Promise<TrackerRecord | null> {
      const t = live(name);
      return t ? { secretHash: t.secretHash, keys: new Map([...t.keys].map(([k, v]) => [k, copy(v)])) } : null;
    },
    async putTrackedKey(name, key, record, ttlMs) {
      const t = live(name);
      if (!t) return;
      t.keys.set(key, copy(record));
      t.expiresAtMs = clock.now() + ttlMs;
    },
    async setTrackerHolder(name, holder, ttlMs) {
      const t = live(name);
      if (!t) return;
      t.holder = holder;
      t.expiresAtMs = clock.now() + ttlMs;
    },
    async trackerHolders(names) {
      return names.map((n) => live(n)?.holder ?? null);
    },
    async deleteTrackedKey(name, key) {
      live(name)?.keys.delete(key);
    },
    async expireTrackers(names, ttlMs) {
      for (const n of names) {
        const t = live(n);
        if (t) t.expiresAtMs = clock.now() + ttlMs;
      }
    },
    async deleteTracker(name) {
      trackers.delete(name);
    },
  };
}
