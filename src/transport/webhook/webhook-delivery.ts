import { randomUUID } from "node:crypto";
import type { BackendEvent } from "../../core/backend-events.js";
import type { Clock } from "../../core/clock.js";
import type { WebhookConfig } from "../../config/backend-config.js";
import { backendEventToPb } from "../backend-wire.js";
import { parseWebhookSecret } from "./signature.js";
import { createWebhookSender, type WebhookObserver } from "./webhook-sender.js";

/**
 * Webhooks, composed: the backend events this node announces (service/backend-events.ts: each
 * commit once, by the node that made it; departures after the reconnect grace) → the kinds and
 * rooms the operator asked for → batched, signed POSTs (webhook-sender.ts).
 */
export interface WebhookDelivery {
  /** Takes one backend event (dropped here when the filters do not want it). */
  offer(event: BackendEvent): void;
  /** Delivers the queue (retries included) until the deadline; what is left is counted as dropped. */
  drain(deadlineMs: number): Promise<void>;
  queueDepth(): number;
}

export interface WebhookDeliveryDeps {
  clock: Clock;
  nodeId: string;
  /** Room filter (compiled PRESENCE_WEBHOOK_ROOMS); every room when undefined. */
  roomMatches?: (room: string) => boolean;
  observer?: Partial<WebhookObserver>;
}

export function createWebhookDelivery(config: WebhookConfig, d: WebhookDeliveryDeps): WebhookDelivery {
  const sender = createWebhookSender({
    url: config.url,
    key: parseWebhookSecret(config.secret),
    nodeId: d.nodeId,
    clock: d.clock,
    newBatchId: () => `wb_${randomUUID()}`,
    timeoutMs: config.timeoutMs,
    retryForMs: config.retryForMs,
    maxBatchEvents: config.batchMaxEvents,
    batchDelayMs: config.batchDelayMs,
    maxQueue: config.queueMax,
    backoffMinMs: config.backoffMinMs,
    backoffMaxMs: config.backoffMaxMs,
    observer: d.observer,
  });
  const kinds = new Set(config.kinds);
  const wanted = (e: BackendEvent) => (kinds.size === 0 || kinds.has(e.kind)) && (e.room === "" || d.roomMatches === undefined || d.roomMatches(e.room));
  return {
    offer(e) {
      if (wanted(e)) sender.enqueue(backendEventToPb(e));
    },
    drain: (deadlineMs) => sender.drain(deadlineMs),
    queueDepth: () => sender.queueDepth(),
  };
}
