import type { ConnectRouter } from "@connectrpc/connect";
import type { Clock } from "./core/clock.js";
import { compileGlob } from "./core/glob-pattern.js";
import type { IdSource } from "./core/ids.js";
import type { Config } from "./config.js";
import { createBackendEventHub } from "./fanout/backend-event-hub.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics/registry.js";
import type { AccessGuard } from "./service/access-guard.js";
import { createBackendEvents } from "./service/backend-events.js";
import { createBackendService } from "./service/backend-service.js";
import { createBroadcast, type BroadcastFn } from "./service/broadcast.js";
import type { PresenceService } from "./service/presence-service.js";
import type { PresenceStore } from "./store/presence-store.js";
import { backendRoutes } from "./transport/connect/backend-routes.js";
import { createWebhookDelivery } from "./transport/webhook/webhook-delivery.js";

/**
 * The backend features of issue 14, composed for the composition root (app.ts): BackendService
 * (Track, HeartbeatBatch, LeaveBatch, WatchEvents), the backend events of this node's commits
 * (announced to the deployment's feed and to webhooks), and their metrics.
 */
export interface BackendFeatures {
  /** Registers BackendService on a router. */
  register(router: ConnectRouter): ConnectRouter;
  /** PresenceService.Broadcast (service/broadcast.ts), announced as a backend event too. */
  broadcast: BroadcastFn;
  /** Node refresh: extends the stored trackers of this node's open Track streams. */
  refresh(): Promise<void>;
  /** Shutdown, step 1: Track and WatchEvents streams end with DRAINING. */
  endStreams(err: Error): void;
  /** Shutdown, step 2: pending departures announced, the feed flushed, webhooks delivered until the deadline. */
  drain(deadlineMs: number): Promise<void>;
}

export interface BackendFeatureDeps {
  store: PresenceStore;
  presence: PresenceService;
  clock: Clock;
  ids: IdSource;
  metrics: Metrics;
  log: Logger;
  /** Rights per WatchEvents event and the watches quota. */
  access: AccessGuard;
}

export function startBackendFeatures(config: Config, d: BackendFeatureDeps): BackendFeatures {
  const t = config.timings;
  const m = d.metrics.backends;
  const backends = createBackendService({ presence: d.presence, config: config.backends, clock: d.clock, ids: d.ids, reconnectGraceMs: t.reconnectGraceMs, store: d.store, sessions: d.store, sessionTtlMs: t.sessionTtlMs });
  const roomPatterns = (config.webhook?.rooms ?? []).map((p, i) => compileGlob(p, `PRESENCE_WEBHOOK_ROOMS[${i}]`));
  const webhooks = config.webhook
    ? createWebhookDelivery(config.webhook, {
        clock: d.clock,
        nodeId: config.nodeId,
        roomMatches: roomPatterns.length > 0 ? (room) => roomPatterns.some((p) => p.matches(room)) : undefined,
        observer: {
          attempt: (outcome) => m.webhookAttempts.inc({ result: m.attemptResult(outcome) }),
          delivered: (n, _attempts, seconds) => (m.webhookEvents.inc({ result: "delivered" }, n), m.webhookDelivery.observe(seconds)),
          lost: (n, why) => m.webhookEvents.inc({ result: why }, n),
        },
      })
    : undefined;
  const events = createBackendEvents({
    feed: d.store,
    rooms: d.store,
    users: d.store,
    clock: d.clock,
    nodeId: config.nodeId,
    graceMs: t.reconnectGraceMs,
    tickMs: Math.max(10, Math.min(250, Math.floor(t.reconnectGraceMs / 4))),
    maxConfirmDelayMs: 60_000,
    sink: webhooks && ((e) => webhooks.offer(e)),
    publish: d.store,
    retentionMs: config.backends.eventsRetentionMs,
    flushMs: 20,
    onError: (err) => d.log.warn("backend events: a store call failed; retrying", { err }),
    onDropped: () => m.webhookEvents.inc({ result: "failed" }),
  });
  const broadcast = createBroadcast({
    rooms: d.store,
    clock: d.clock,
    maxRoomNameBytes: config.limits.maxRoomNameBytes,
    maxBytes: config.backends.broadcastMaxBytes,
    ratePerSec: config.backends.broadcastRatePerSec,
    burst: config.backends.broadcastBurst,
    authorize: (caller, room) => d.access.authorize(caller, "join", room),
    onBroadcast: (m) => events.broadcast(m),
  });
  const hub = createBackendEventHub({ feed: d.store, clock: d.clock, pollMs: 100, keepaliveMs: t.keepaliveMs, pageSize: 500 });
  m.bind({
    webhookQueue: webhooks && (() => webhooks.queueDepth()),
    webhookPending: () => events.pending(),
    trackStreams: () => backends.stats().streams,
    trackedPresences: () => backends.stats().presences,
  });
  return {
    broadcast,
    register: (router) =>
      backendRoutes({
        service: backends,
        config: config.backends,
        clock: d.clock,
        openTimeoutMs: config.http.requestTimeoutMs,
        keepaliveMs: t.keepaliveMs,
        maxQueuedAnswers: config.limits.watcherQueueSize,
        reconnectGraceMs: t.reconnectGraceMs,
        events: { hub, access: d.access, clock: d.clock },
      })(router),
    refresh: () => backends.refreshTrackers(),
    endStreams(err) {
      backends.drain();
      hub.close(err);
    },
    async drain(deadlineMs) {
      await events.drain();
      await webhooks?.drain(deadlineMs);
    },
  };
}
