import { randomUUID } from "node:crypto";
import type { BackendEvent } from "../../core/backend-events.js";
import type { Clock } from "../../core/clock.js";
import type { WebhookConfig } from "../../config-backends.js";
import { createBackendEvents } from "../../service/backend-events.js";
import type { CommitFeed, RoomStore, UserStatusStore } from "../../store/presence-store.js";
import { backendEventToPb } from "../backend-wire.js";
import { parseWebhookSecret } from "./signature.js";
import { createWebhookSender, type WebhookObserver } from "./webhook-sender.js";

/**
 * Webhooks, composed: this node's commits → backend events (service/backend-events.ts, after the
 * reconnect grace for departures) → the kinds and rooms the operator asked for → batched, signed
 * POSTs (webhook-sender.ts). Every event is announced by the node that committed it, once.
 *
 * Shutdown (`drain(deadline)`): pending departures are confirmed at once, then the queue is
 * delivered (retries included) until the deadline; what is left is counted as dropped.
 */
export interface WebhookDelivery {
  drain(deadlineMs: number): Promise<void>;
  queueDepth(): number;
  pending(): number;
}

export interface WebhookDeliveryDeps {
  feed: CommitFeed;
  rooms: Pick<RoomStore, "getView">;
  users: Pick<UserStatusStore, "getUserStatus">;
  clock: Clock;
  nodeId: string;
  reconnectGraceMs: number;
  /** Room filter (compiled PRESENCE_WEBHOOK_ROOMS); every room when undefined. */
  roomMatches?: (room: string) => boolean;
  observer?: Partial<WebhookObserver>;
  onError?(err: unknown): void;
}

export function startWebhookDelivery(config: WebhookConfig, d: WebhookDeliveryDeps): WebhookDelivery {
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
    observer: d.observer,
  });
  const kinds = new Set(config.kinds);
  const wanted = (e: BackendEvent) => (kinds.size === 0 || kinds.has(e.kind)) && (e.room === "" || d.roomMatches === undefined || d.roomMatches(e.room));
  const events = createBackendEvents({
    feed: d.feed,
    rooms: d.rooms,
    users: d.users,
    clock: d.clock,
    graceMs: d.reconnectGraceMs,
    tickMs: Math.max(10, Math.min(250, Math.floor(d.reconnectGraceMs / 4))),
    maxConfirmDelayMs: 60_000,
    sink: (e) => {
      if (wanted(e)) sender.enqueue(backendEventToPb(e));
    },
    onError: d.onError,
    onDropped: () => d.observer?.lost?.(1, "failed"), // its confirmation read kept failing for a minute
  });
  return {
    async drain(deadlineMs) {
      await events.drain();
      await sender.drain(deadlineMs);
    },
    queueDepth: () => sender.queueDepth(),
    pending: () => events.pending(),
  };
}
