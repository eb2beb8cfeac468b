import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Metrics of the backend features (issue 14) on the server's one registry: webhook delivery and
 * Track streams. Labels are bounded (results and outcomes below, never URLs, rooms or users).
 */
export const WEBHOOK_EVENT_RESULTS = ["delivered", "failed", "overflow", "drain"] as const;
export const WEBHOOK_ATTEMPT_RESULTS = ["ok", "http_4xx", "http_5xx", "http_other", "timeout", "network"] as const;

export interface BackendGaugeSources {
  /** Webhook events waiting for delivery on this node (batch in flight included). */
  webhookQueue?: () => number;
  /** Departures waiting for the reconnect grace before they are announced. */
  webhookPending?: () => number;
  /** Open Track streams and the presences they hold. */
  trackStreams: () => number;
  trackedPresences: () => number;
}

export interface BackendMetrics {
  /** `presence_webhook_events_total{result}`: events delivered, or lost (failed after retrying, queue overflow, left at drain). */
  readonly webhookEvents: Counter<"result">;
  /** `presence_webhook_attempts_total{result}`: POST attempts by outcome. */
  readonly webhookAttempts: Counter<"result">;
  /** `presence_webhook_delivery_seconds`: from a batch's first attempt to its 2xx (retries included). */
  readonly webhookDelivery: Histogram;
  /** The label of an attempt's outcome (`500` → `http_5xx`). */
  attemptResult(status: string): (typeof WEBHOOK_ATTEMPT_RESULTS)[number];
  bind(sources: BackendGaugeSources): void;
}

export function createBackendMetrics(registry: Registry): BackendMetrics {
  const registers = [registry];
  let sources: BackendGaugeSources | undefined;
  const webhookEvents = new Counter({ name: "presence_webhook_events_total", help: "Webhook events delivered, or lost (failed after retrying, queue overflow, left at drain).", labelNames: ["result"], registers });
  const webhookAttempts = new Counter({ name: "presence_webhook_attempts_total", help: "Webhook POST attempts by outcome.", labelNames: ["result"], registers });
  for (const result of WEBHOOK_EVENT_RESULTS) webhookEvents.inc({ result }, 0);
  for (const result of WEBHOOK_ATTEMPT_RESULTS) webhookAttempts.inc({ result }, 0);
  const webhookDelivery = new Histogram({
    name: "presence_webhook_delivery_seconds",
    help: "Time from a webhook batch's first attempt to its 2xx answer, retries included.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const gauge = (name: string, help: string, read: (s: BackendGaugeSources) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(sources ? read(sources) : 0);
      },
    });
  gauge("presence_webhook_queue_events", "Webhook events waiting for delivery on this node.", (s) => s.webhookQueue?.() ?? 0);
  gauge("presence_webhook_pending_departures", "Departures (member removed, room vacated, user offline) waiting for the reconnect grace.", (s) => s.webhookPending?.() ?? 0);
  gauge("presence_track_streams", "Open Track streams on this node.", (s) => s.trackStreams());
  gauge("presence_tracked_presences", "Presences (keys × rooms) held by this node's Track streams.", (s) => s.trackedPresences());
  return {
    webhookEvents,
    webhookAttempts,
    webhookDelivery,
    attemptResult(status) {
      if (status === "timeout" || status === "network") return status;
      const code = Number(status);
      if (code >= 400 && code < 500) return "http_4xx";
      if (code >= 500 && code < 600) return "http_5xx";
      return "http_other";
    },
    bind(s) {
      sources = s;
    },
  };
}
