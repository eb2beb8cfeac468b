/**
 * Options of the backend calls (issue 14: BackendService.Track, HeartbeatBatch, LeaveBatch): the
 * numeric specs (variable, default, bounds, meaning; part of the documented configuration table
 * like `config.ts`'s). `loadConfig` reads them with the same validation as every other option.
 *
 * Why these defaults:
 * - 1,000 sessions per batch: a backend's heartbeat tick for a thousand users is one call of about
 *   40 KB, well under the 64 KiB request limit (session ids are ~24 bytes, an item ~30 bytes).
 * - 50,000 presences per Track stream: 5× the 10,000 users the issue sizes a backend process for;
 *   each costs the server one session (~1 KB) and one binding.
 * - 10,000 requests/s per stream (burst 20,000): a backend re-tracking 10,000 users after a server
 *   restart does it in about a second; above the rate the server reads more slowly, nothing fails.
 * - 256 requests in flight per stream: enough to keep a Redis round trip busy (auto-pipelining)
 *   without letting one stream queue unbounded work.
 */

export type BackendNumSpec = { env: string; default: number; min: number; max: number; doc: string };
const n = (env: string, def: number, min: number, max: number, doc: string): BackendNumSpec => ({ env, default: def, min, max, doc });

export interface BackendsConfig {
  /** Items per HeartbeatBatch / LeaveBatch call. */
  maxBatchSessions: number;
  /** Presences (keys × rooms) one Track stream may hold (TOO_MANY_PRESENCES past it). */
  trackMaxPresences: number;
  /** Requests per second one Track stream is read at, on average (flow control, never refused). */
  trackMaxMessagesPerSec: number;
  /** Requests one Track stream may send at once above that rate (the token bucket's size). */
  trackBurst: number;
  /** Requests of one Track stream processed at once. */
  trackMaxInFlight: number;
}

export const BACKEND_SPEC: Record<keyof BackendsConfig, BackendNumSpec> = {
  maxBatchSessions: n("PRESENCE_MAX_BATCH_SESSIONS", 1_000, 1, 100_000, "sessions per HeartbeatBatch / LeaveBatch call"),
  trackMaxPresences: n("PRESENCE_TRACK_MAX_PRESENCES", 50_000, 1, 1_000_000, "presences (keys × rooms) one Track stream may hold; past it: TOO_MANY_PRESENCES"),
  trackMaxMessagesPerSec: n("PRESENCE_TRACK_MAX_MESSAGES_PER_SEC", 10_000, 1, 1_000_000, "requests per second one Track stream is read at on average (flow control: the server reads more slowly, nothing is refused)"),
  trackBurst: n("PRESENCE_TRACK_BURST", 20_000, 1, 1_000_000, "requests one Track stream may send at once above that rate"),
  trackMaxInFlight: n("PRESENCE_TRACK_MAX_IN_FLIGHT", 256, 1, 10_000, "requests of one Track stream processed at once"),
};
