import type { BackendLimits } from "../core/options.js";
import { int, setting, type IntSpec, type SettingSpec } from "./option-spec.js";

/**
 * Options of the backend calls (issue 14: BackendService.Track, HeartbeatBatch, LeaveBatch,
 * WatchEvents, Broadcast) and of webhooks: variable, default, bounds, meaning.
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
export const BACKEND_SPEC = {
  maxBatchSessions: int("PRESENCE_MAX_BATCH_SESSIONS", 1_000, 1, 100_000, "sessions per HeartbeatBatch / LeaveBatch call ([backends.md](backends.md))"),
  trackMaxPresences: int("PRESENCE_TRACK_MAX_PRESENCES", 50_000, 1, 1_000_000, "presences (keys × rooms) one Track stream may hold; past it: `TOO_MANY_PRESENCES`"),
  trackMaxMessagesPerSec: int(
    "PRESENCE_TRACK_MAX_MESSAGES_PER_SEC",
    10_000,
    1,
    1_000_000,
    "requests per second one Track stream is read at on average (flow control: above it the server reads more slowly, nothing is refused)",
  ),
  trackBurst: int("PRESENCE_TRACK_BURST", 20_000, 1, 1_000_000, "requests one Track stream may send at once above that rate"),
  trackMaxInFlight: int("PRESENCE_TRACK_MAX_IN_FLIGHT", 256, 1, 10_000, "requests of one Track stream processed at once"),
  broadcastMaxBytes: int("PRESENCE_BROADCAST_MAX_BYTES", 4_096, 2, 65_536, "Broadcast payload (serialized bytes); over it: `MESSAGE_TOO_LARGE`"),
  broadcastRatePerSec: int("PRESENCE_BROADCAST_RATE_PER_SEC", 10, 1, 10_000, "Broadcasts per second per session (per caller without a session); over it: `RATE_LIMITED`"),
  broadcastBurst: int("PRESENCE_BROADCAST_BURST", 20, 1, 100_000, "Broadcasts one session may send at once above that rate"),
  eventsMaxPatterns: int("PRESENCE_EVENTS_MAX_PATTERNS", 32, 1, 1_024, "room patterns, and user patterns, per WatchEvents call; over it: `INVALID_ARGUMENT` naming `rooms` or `users`"),
  eventsRetentionMs: int(
    "PRESENCE_EVENTS_RETENTION_MS",
    300_000,
    1_000,
    86_400_000,
    "backend events kept in the deployment's feed for WatchEvents resumes (a Redis stream on Redis); an older cursor gets a `gap`",
  ),
} as const satisfies Record<keyof BackendLimits, IntSpec>;

/** Webhook delivery's numeric options. */
export const WEBHOOK_SPEC = {
  timeoutMs: int("PRESENCE_WEBHOOK_TIMEOUT_MS", 5_000, 100, 60_000, "a webhook POST not answered within this is retried"),
  retryForMs: int(
    "PRESENCE_WEBHOOK_RETRY_FOR_MS",
    600_000,
    0,
    86_400_000,
    "a webhook batch is retried (backoff with full jitter, PRESENCE_WEBHOOK_BACKOFF_MIN_MS doubling to PRESENCE_WEBHOOK_BACKOFF_MAX_MS) for this long, then dropped and counted",
  ),
  batchMaxEvents: int("PRESENCE_WEBHOOK_BATCH_MAX_EVENTS", 100, 1, 10_000, "events per webhook POST"),
  batchDelayMs: int("PRESENCE_WEBHOOK_BATCH_DELAY_MS", 200, 0, 60_000, "a webhook batch is sent this long after its first event (or when full)"),
  backoffMinMs: int("PRESENCE_WEBHOOK_BACKOFF_MIN_MS", 250, 1, 600_000, "first retry of a failed webhook POST waits a random time up to this (full jitter), doubling per attempt"),
  backoffMaxMs: int("PRESENCE_WEBHOOK_BACKOFF_MAX_MS", 30_000, 1, 3_600_000, "the longest wait between webhook retries (the doubling stops here)"),
  queueMax: int("PRESENCE_WEBHOOK_QUEUE_MAX", 100_000, 1, 10_000_000, "webhook events waiting for delivery on this node; more are dropped and counted"),
} as const satisfies Record<string, IntSpec>;

/** The webhook kinds PRESENCE_WEBHOOK_KINDS accepts. */
export const WEBHOOK_KINDS = ["room_occupied", "room_vacated", "member_added", "member_removed", "user_online", "user_away", "user_offline", "broadcast"] as const;

/** Webhook settings (webhooks are off without a URL). */
export const WEBHOOK_SETTING_SPEC = {
  url: setting(
    "PRESENCE_WEBHOOK_URL",
    null,
    "POST backend events (member added/removed, room occupied/vacated, user online/away/offline, broadcasts) to this URL, signed ([backends.md](backends.md#webhooks)); unset: no webhooks",
  ),
  secret: setting("PRESENCE_WEBHOOK_SECRET", null, "`whsec_<base64 key>` (at least 24 bytes) signing the webhooks (Standard Webhooks); required with the URL"),
  kinds: setting("PRESENCE_WEBHOOK_KINDS", null, `comma-separated kinds to send: ${WEBHOOK_KINDS.map((k) => `\`${k}\``).join(", ")}`, "every kind"),
  rooms: setting(
    "PRESENCE_WEBHOOK_ROOMS",
    null,
    "comma-separated room-name patterns (`*` within a `/`-segment, `**` across) whose room events are sent; user events are always sent",
    "every room",
  ),
} as const satisfies Record<string, SettingSpec>;
