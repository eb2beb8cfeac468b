/**
 * Per-caller quotas (design §10 "Quotas"): what each quota is called, its limits per caller class,
 * and the in-process ledger that counts them. Pure: time comes in as `nowMs`, nothing here does I/O.
 *
 * A caller is identified by its quota key (`quotaKeyOf` in identity.ts): the user id, the service
 * identity, or, for anonymous callers, the remote address (their anonymous id is chosen by the
 * client, so a quota keyed by it would bind nobody).
 *
 * Two kinds of quota:
 * - held (concurrent): `watches` (open watch streams and WebSocket watches), `watched_user_ids`
 *   (user ids across a caller's open WatchUsers streams); taken when opened, given back when
 *   closed. The ledger keeps an entry per caller only while it holds something.
 * - rates (token buckets): `requests_per_second` (Connect/gRPC calls; the WebSocket bridge has its
 *   per-socket frame limit) and `new_rooms_per_minute` (joins that created a room's state). A
 *   bucket holds at most `burst` tokens and refills at the rate; full buckets are forgotten, and at
 *   most `maxTrackedCallers` buckets per quota are kept (the least recently used go first, which
 *   only ever gives a caller a full bucket back).
 * `sessions` (live sessions per caller) is counted by the store, not here.
 */

export const QUOTA_NAMES = ["watches", "watched_user_ids", "sessions", "new_rooms_per_minute", "requests_per_second"] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];
export type HeldQuota = "watches" | "watched_user_ids";
export type RateQuota = "new_rooms_per_minute" | "requests_per_second";

/** Whose limits apply: authenticated users, anonymous callers (per remote address), services (and admins). */
export const CALLER_CLASSES = ["user", "anonymous", "service"] as const;
export type CallerClass = (typeof CALLER_CLASSES)[number];

/** The limits of one caller class. */
export interface QuotaLimits {
  watches: number;
  watchedUserIds: number;
  sessions: number;
  newRoomsPerMinute: number;
  requestsPerSecond: number;
  /** Calls allowed at once above the average rate (the request bucket's size). */
  requestBurst: number;
}

export type QuotaTable = Readonly<Record<CallerClass, Readonly<QuotaLimits>>>;

/** A quota refusal: which quota, its limit, and (for rates) when to try again. */
export interface QuotaRefusal {
  quota: QuotaName;
  limit: number;
  /** What the caller would have had (held quotas) or asked for (rates). */
  actual: number;
  /** Rates: milliseconds until enough tokens are back; 0 for held quotas. */
  retryAfterMs: number;
}

export interface QuotaLedgerOptions {
  /** Rate buckets kept per quota (least recently used evicted first; PRESENCE_QUOTA_TRACKED_CALLERS). */
  maxTrackedCallers: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

/** Counts held quotas and rate buckets for every caller of this process. */
export interface QuotaLedger {
  /** Takes `n` units of a held quota for `key`, unless that would exceed `limit`. */
  hold(key: string, quota: HeldQuota, n: number, limit: number): QuotaRefusal | null;
  /** Gives back `n` units taken by `hold`. */
  release(key: string, quota: HeldQuota, n: number): void;
  /** Takes `n` tokens from `key`'s bucket (size `burst`, refilled `perSec` per second) at `nowMs`. */
  take(key: string, quota: RateQuota, n: number, perSec: number, burst: number, nowMs: number): QuotaRefusal | null;
  /** Tokens `key` has at `nowMs` (a full bucket when unknown), without taking any. */
  tokens(key: string, quota: RateQuota, perSec: number, burst: number, nowMs: number): number;
  /** Units held by `key` now. */
  held(key: string, quota: HeldQuota): number;
  /** Callers tracked per quota (gauges, tests). */
  size(): Record<HeldQuota | RateQuota, number>;
}

export function createQuotaLedger(options: QuotaLedgerOptions): QuotaLedger {
  const maxTracked = options.maxTrackedCallers;
  const heldBy: Record<HeldQuota, Map<string, number>> = { watches: new Map(), watched_user_ids: new Map() };
  const buckets: Record<RateQuota, Map<string, Bucket>> = { requests_per_second: new Map(), new_rooms_per_minute: new Map() };

  return {
    hold(key, quota, n, limit) {
      const m = heldBy[quota];
      const now = m.get(key) ?? 0;
      if (now + n > limit) return { quota, limit, actual: now + n, retryAfterMs: 0 };
      m.set(key, now + n);
      return null;
    },

    release(key, quota, n) {
      const m = heldBy[quota];
      const left = (m.get(key) ?? 0) - n;
      if (left > 0) m.set(key, left);
      else m.delete(key);
    },

    take(key, quota, n, perSec, burst, nowMs) {
      const m = buckets[quota];
      let b = m.get(key);
      if (b === undefined) {
        b = { tokens: burst, atMs: nowMs };
        if (m.size >= maxTracked) evict(m, perSec, burst, nowMs);
      } else {
        m.delete(key); // re-inserted below: the map's order is least recently used first
        b.tokens = Math.min(burst, b.tokens + (Math.max(0, nowMs - b.atMs) * perSec) / 1000);
        b.atMs = nowMs;
      }
      m.set(key, b);
      if (b.tokens < n) {
        const retryAfterMs = perSec > 0 ? Math.ceil(((n - b.tokens) * 1000) / perSec) : Number.MAX_SAFE_INTEGER;
        return { quota, limit: quota === "new_rooms_per_minute" ? burst : perSec, actual: n, retryAfterMs };
      }
      b.tokens -= n;
      return null;
    },

    tokens(key, quota, perSec, burst, nowMs) {
      const b = buckets[quota].get(key);
      return b === undefined ? burst : Math.min(burst, b.tokens + (Math.max(0, nowMs - b.atMs) * perSec) / 1000);
    },

    held: (key, quota) => heldBy[quota].get(key) ?? 0,

    size: () => ({
      watches: heldBy.watches.size,
      watched_user_ids: heldBy.watched_user_ids.size,
      requests_per_second: buckets.requests_per_second.size,
      new_rooms_per_minute: buckets.new_rooms_per_minute.size,
    }),
  };

  /**
   * Forgets refilled buckets (as good as new) among the 64 least recently used, else the least
   * recently used one: constant work per new caller, however many are tracked.
   */
  function evict(m: Map<string, Bucket>, perSec: number, burst: number, nowMs: number) {
    let looked = 0;
    for (const [k, b] of m) {
      if (++looked > 64) break;
      if (b.tokens + ((nowMs - b.atMs) * perSec) / 1000 >= burst) m.delete(k);
    }
    if (m.size >= maxTracked) m.delete(m.keys().next().value!);
  }
}
