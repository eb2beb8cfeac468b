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

import { parseWebhookSecret } from "./transport/webhook/signature.js";

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
  /** How long backend events stay in the deployment's feed for WatchEvents resumes. */
  eventsRetentionMs: number;
  /** Broadcast payload limit (serialized bytes). */
  broadcastMaxBytes: number;
  /** Broadcasts per second per session (or per caller without a session), and the burst above it. */
  broadcastRatePerSec: number;
  broadcastBurst: number;
}

export const BACKEND_SPEC: Record<keyof BackendsConfig, BackendNumSpec> = {
  maxBatchSessions: n("PRESENCE_MAX_BATCH_SESSIONS", 1_000, 1, 100_000, "sessions per HeartbeatBatch / LeaveBatch call"),
  trackMaxPresences: n("PRESENCE_TRACK_MAX_PRESENCES", 50_000, 1, 1_000_000, "presences (keys × rooms) one Track stream may hold; past it: TOO_MANY_PRESENCES"),
  trackMaxMessagesPerSec: n("PRESENCE_TRACK_MAX_MESSAGES_PER_SEC", 10_000, 1, 1_000_000, "requests per second one Track stream is read at on average (flow control: the server reads more slowly, nothing is refused)"),
  trackBurst: n("PRESENCE_TRACK_BURST", 20_000, 1, 1_000_000, "requests one Track stream may send at once above that rate"),
  trackMaxInFlight: n("PRESENCE_TRACK_MAX_IN_FLIGHT", 256, 1, 10_000, "requests of one Track stream processed at once"),
  broadcastMaxBytes: n("PRESENCE_BROADCAST_MAX_BYTES", 4_096, 2, 65_536, "Broadcast payload (serialized bytes); over it: MESSAGE_TOO_LARGE"),
  broadcastRatePerSec: n("PRESENCE_BROADCAST_RATE_PER_SEC", 10, 1, 10_000, "Broadcasts per second per session (per caller without a session); over it: RATE_LIMITED"),
  broadcastBurst: n("PRESENCE_BROADCAST_BURST", 20, 1, 100_000, "Broadcasts one session may send at once above that rate"),
  eventsRetentionMs: n("PRESENCE_EVENTS_RETENTION_MS", 300_000, 1_000, 86_400_000, "backend events kept in the feed for WatchEvents resumes; an older cursor gets a gap"),
};

/** Webhooks (PRESENCE_WEBHOOK_URL and friends); absent when no URL is set. */
export interface WebhookConfig {
  url: string;
  /** `whsec_<base64 key>` (Standard Webhooks). */
  secret: string;
  /** Room-name patterns whose room events are sent (empty: every room). */
  rooms: string[];
  /** Kinds sent (empty: every kind). */
  kinds: string[];
  timeoutMs: number;
  retryForMs: number;
  batchMaxEvents: number;
  batchDelayMs: number;
  queueMax: number;
}

export const WEBHOOK_SPEC = {
  timeoutMs: n("PRESENCE_WEBHOOK_TIMEOUT_MS", 5_000, 100, 60_000, "a webhook POST not answered within this is retried"),
  retryForMs: n("PRESENCE_WEBHOOK_RETRY_FOR_MS", 600_000, 0, 86_400_000, "a batch is retried (backoff with full jitter, 250 ms doubling to 30 s) for this long, then dropped and counted"),
  batchMaxEvents: n("PRESENCE_WEBHOOK_BATCH_MAX_EVENTS", 100, 1, 10_000, "events per webhook POST"),
  batchDelayMs: n("PRESENCE_WEBHOOK_BATCH_DELAY_MS", 200, 0, 60_000, "a webhook batch is sent this long after its first event (or when full)"),
  queueMax: n("PRESENCE_WEBHOOK_QUEUE_MAX", 100_000, 1, 10_000_000, "events waiting for delivery; more are dropped and counted"),
} satisfies Record<string, BackendNumSpec>;

/** The webhook kinds PRESENCE_WEBHOOK_KINDS accepts. */
export const WEBHOOK_KINDS = ["room_occupied", "room_vacated", "member_added", "member_removed", "user_online", "user_away", "user_offline", "broadcast"] as const;

/**
 * Reads the webhook options (`nums` validates the numeric ones like every other option); problems
 * are pushed with the variable's name. Undefined without PRESENCE_WEBHOOK_URL.
 */
export function loadWebhookConfig(str: (name: string) => string | undefined, nums: WebhookNums, problems: string[]): WebhookConfig | undefined {
  const url = str("PRESENCE_WEBHOOK_URL");
  const secret = str("PRESENCE_WEBHOOK_SECRET");
  if (url === undefined) {
    if (secret !== undefined) problems.push("PRESENCE_WEBHOOK_SECRET is set but PRESENCE_WEBHOOK_URL is not");
    return undefined;
  }
  if (!/^https?:\/\/[^\s]+$/.test(url)) problems.push(`PRESENCE_WEBHOOK_URL=${JSON.stringify(url)}: must be an http:// or https:// URL`);
  if (secret === undefined) problems.push("PRESENCE_WEBHOOK_SECRET: required with PRESENCE_WEBHOOK_URL (whsec_ followed by a base64 key of at least 24 bytes)");
  else {
    try {
      parseWebhookSecret(secret);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const list = (name: string) => (str(name) ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const kinds = list("PRESENCE_WEBHOOK_KINDS");
  for (const k of kinds) if (!(WEBHOOK_KINDS as readonly string[]).includes(k)) problems.push(`PRESENCE_WEBHOOK_KINDS: ${JSON.stringify(k)} is not one of ${WEBHOOK_KINDS.join(", ")}`);
  return { url, secret: secret ?? "", rooms: list("PRESENCE_WEBHOOK_ROOMS"), kinds, ...nums };
}

export type WebhookNums = Record<keyof typeof WEBHOOK_SPEC, number>;
