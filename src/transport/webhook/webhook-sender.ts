import { create, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { WebhookBatchSchema, type BackendEventSchema } from "../../../gen/presence/v1/backend_pb.js";
import type { Clock } from "../../core/clock.js";
import { signWebhook } from "./signature.js";

/**
 * Delivers backend events to one webhook endpoint: batched POSTs of `WebhookBatch` (protobuf JSON),
 * signed (signature.ts), retried with exponential backoff and full jitter for a bounded time.
 *
 * - Batching: a batch closes `batchDelayMs` after its first event or at `maxBatchEvents`.
 * - Order: one batch in flight at a time, in enqueue order, so events committed on this node reach
 *   the receiver in commit order (a batch being retried holds back the ones after it).
 * - Retries: any non-2xx answer, a network error or no answer within `timeoutMs` is retried after
 *   `random() × min(backoffMaxMs, backoffMinMs × 2^attempt)`, with the same `webhook-id` and body
 *   (receivers de-duplicate by it, and by each event's `id`), until `retryForMs` has passed since
 *   the first attempt; then the batch is dropped and counted as failed.
 * - Bounded: at most `maxQueue` events wait; more are dropped and counted.
 * - Drain: `drain(deadline)` keeps delivering (retries included) until the queue is empty or the
 *   deadline passes; what is left then is counted as dropped.
 */
export type BackendEventInit = MessageInitShape<typeof BackendEventSchema>;

export interface WebhookObserver {
  /** One POST attempt ended: `ok`, the HTTP status, `timeout` or `network`. */
  attempt(outcome: string): void;
  /** A batch was acknowledged (2xx) after `attempts` attempts. */
  delivered(events: number, attempts: number, seconds: number): void;
  /** An attempt failed and will be retried (`status`: the HTTP status, or `timeout` / `network`). */
  retried(status: string): void;
  /** Events given up on: retried for `retryForMs` (`failed`), over the queue bound or left at drain (`dropped`). */
  lost(events: number, why: "failed" | "overflow" | "drain"): void;
}

export interface WebhookSenderOptions {
  url: string;
  key: Buffer;
  nodeId: string;
  clock: Clock;
  random?: () => number;
  newBatchId: () => string;
  timeoutMs: number;
  retryForMs: number;
  maxBatchEvents: number;
  batchDelayMs: number;
  maxQueue: number;
  /** The first retry waits up to this (full jitter); doubles per attempt up to `backoffMaxMs`. */
  backoffMinMs: number;
  backoffMaxMs: number;
  observer?: Partial<WebhookObserver>;
}

export interface WebhookSender {
  enqueue(event: BackendEventInit): void;
  /** Events waiting (the batch in flight included). */
  queueDepth(): number;
  /** Delivers what is queued until `deadlineMs` (clock time), then stops; idempotent. */
  drain(deadlineMs: number): Promise<void>;
}

export function createWebhookSender(o: WebhookSenderOptions): WebhookSender {
  const random = o.random ?? Math.random;
  const base = o.backoffMinMs;
  const max = o.backoffMaxMs;
  const queue: BackendEventInit[] = [];
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let stopAt = Infinity;
  let stopped = false;
  /** Waits `ms`; `wakeable` waits also end on `notify()` (a new event, a full batch, a drain). */
  const sleep = (ms: number, wakeable: boolean) =>
    new Promise<void>((resolve) => {
      const t = o.clock.setTimeout(resolve, ms);
      if (wakeable)
        wake = () => {
          t.cancel();
          resolve();
        };
    });
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  async function post(id: string, body: string): Promise<string> {
    const ts = Math.floor(o.clock.now() / 1000);
    try {
      const res = await fetch(o.url, {
        method: "POST",
        headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": signWebhook(o.key, id, ts, body), "user-agent": "presence-webhooks/1" },
        body,
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? "ok" : String(res.status);
    } catch (e) {
      return (e as Error).name === "TimeoutError" ? "timeout" : "network";
    }
  }

  async function deliver(events: BackendEventInit[]): Promise<void> {
    const id = o.newBatchId();
    const body = toJsonString(WebhookBatchSchema, create(WebhookBatchSchema, { events, nodeId: o.nodeId }));
    const first = o.clock.now();
    for (let attempt = 0; ; attempt++) {
      const outcome = await post(id, body);
      o.observer?.attempt?.(outcome);
      if (outcome === "ok") return o.observer?.delivered?.(events.length, attempt + 1, (o.clock.now() - first) / 1000);
      const delay = random() * Math.min(max, base * 2 ** attempt);
      const now = o.clock.now();
      if (now + delay - first > o.retryForMs || now + delay > stopAt) {
        return o.observer?.lost?.(events.length, now + delay > stopAt && now + delay - first <= o.retryForMs ? "drain" : "failed");
      }
      o.observer?.retried?.(outcome);
      await sleep(delay, false);
    }
  }

  const worker = (async () => {
    for (;;) {
      if (queue.length === 0) {
        if (stopped) return;
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      if (queue.length < o.maxBatchEvents && !stopped) await sleep(o.batchDelayMs, true);
      const batch = queue.splice(0, o.maxBatchEvents);
      inFlight = batch.length;
      await deliver(batch);
      inFlight = 0;
    }
  })();

  return {
    enqueue(event) {
      if (stopped) return o.observer?.lost?.(1, "drain");
      if (queue.length >= o.maxQueue) return o.observer?.lost?.(1, "overflow");
      queue.push(event);
      if (queue.length === 1 || queue.length >= o.maxBatchEvents) notify();
    },
    queueDepth: () => queue.length + inFlight,
    async drain(deadlineMs) {
      stopAt = Math.min(stopAt, deadlineMs);
      stopped = true;
      notify();
      const bound = new Promise<void>((r) => o.clock.setTimeout(r, Math.max(0, deadlineMs - o.clock.now())));
      await Promise.race([worker, bound]);
      if (queue.length > 0) {
        o.observer?.lost?.(queue.length, "drain");
        queue.length = 0;
      }
    },
  };
}
