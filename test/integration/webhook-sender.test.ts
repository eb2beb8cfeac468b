/**
 * The webhook delivery layer against a real HTTP receiver (node:http on port 0): signatures checked
 * with the `standardwebhooks` library (what receivers use), batches in order, each event once after
 * de-duplication by id, retries with the same webhook-id after 500s and timeouts, the bounded retry
 * time, the queue bound, and a drain that delivers what is queued.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { BackendEventKind } from "../../gen/presence/v1/backend_pb.js";
import { systemClock } from "../../src/core/clock.js";
import { parseWebhookSecret, verifyWebhook } from "../../src/transport/webhook/signature.js";
import { createWebhookSender, type BackendEventInit, type WebhookSenderOptions } from "../../src/transport/webhook/webhook-sender.js";
import { waitFor } from "../support/watch-recorder.js";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

interface Received {
  id: string;
  timestamp: string;
  body: string;
  verified: boolean;
  events: Array<{ id: string; room: string }>;
}

/** A receiver answering each request with `answer(n)` (n = requests so far): a status, or "hang". */
async function receiver(answer: (n: number, id: string) => number | "hang") {
  const got: Received[] = [];
  const wh = new Webhook(SECRET);
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const id = String(req.headers["webhook-id"]);
      let verified = false;
      try {
        wh.verify(body, { "webhook-id": id, "webhook-timestamp": String(req.headers["webhook-timestamp"]), "webhook-signature": String(req.headers["webhook-signature"]) });
        verified = true;
      } catch {
        verified = false;
      }
      const parsed = JSON.parse(body) as { events: Array<{ id: string; room: string }> };
      got.push({ id, timestamp: String(req.headers["webhook-timestamp"]), body, verified, events: parsed.events });
      const a = answer(got.length, id);
      if (a === "hang") return; // never answers: the sender times out
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    got,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function sender(url: string, over: Partial<WebhookSenderOptions> = {}) {
  const stats = { delivered: 0, attempts: [] as number[], retried: [] as string[], lost: [] as Array<[number, string]> };
  const s = createWebhookSender({
    url,
    key: parseWebhookSecret(SECRET),
    nodeId: "node-a",
    clock: systemClock,
    newBatchId: () => `b_${randomUUID()}`,
    timeoutMs: 300,
    retryForMs: 5_000,
    maxBatchEvents: 10,
    batchDelayMs: 20,
    maxQueue: 1_000,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    observer: {
      delivered: (n, attempts) => ((stats.delivered += n), stats.attempts.push(attempts)),
      retried: (status) => stats.retried.push(status),
      lost: (n, why) => stats.lost.push([n, why]),
    },
    ...over,
  });
  return { s, stats };
}

const event = (i: number, room = `room/${i % 3}`): BackendEventInit => ({ id: `ev-${i}`, kind: BackendEventKind.MEMBER_ADDED, timeMs: BigInt(Date.now()), room, userId: `u${i}` });
const delivered = (got: Received[]) => {
  const seen = new Map<string, string>();
  for (const r of got) for (const e of r.events) if (!seen.has(e.id)) seen.set(e.id, e.room); // receivers de-duplicate by event id
  return [...seen.keys()];
};

describe("webhook sender", () => {
  it("POSTs signed, ordered batches that a Standard Webhooks library verifies", async () => {
    const r = await receiver(() => 204);
    closers.push(r.close);
    const { s, stats } = sender(r.url);
    for (let i = 0; i < 35; i++) s.enqueue(event(i));
    await waitFor(() => stats.delivered === 35, 10_000, "35 events");
    expect(r.got.every((x) => x.verified)).toBe(true);
    expect(r.got.map((x) => x.events.length)).toEqual([10, 10, 10, 5]);
    expect(delivered(r.got)).toEqual(Array.from({ length: 35 }, (_, i) => `ev-${i}`));
    const body = JSON.parse(r.got[0]!.body) as { nodeId: string; events: Array<Record<string, unknown>> };
    expect(body.nodeId).toBe("node-a");
    expect(body.events[0]).toMatchObject({ id: "ev-0", kind: "BACKEND_EVENT_KIND_MEMBER_ADDED", room: "room/0", userId: "u0" });
    // Our own verifier agrees, and refuses a tampered body and a replay outside the window.
    const key = parseWebhookSecret(SECRET);
    const h = { id: r.got[0]!.id, timestamp: r.got[0]!.timestamp, signature: "" };
    const sig = (await import("../../src/transport/webhook/signature.js")).signWebhook(key, h.id, Number(h.timestamp), r.got[0]!.body);
    expect(verifyWebhook(key, { ...h, signature: sig }, r.got[0]!.body, Number(h.timestamp))).toBe(true);
    expect(verifyWebhook(key, { ...h, signature: sig }, r.got[0]!.body + " ", Number(h.timestamp))).toBe(false);
    expect(verifyWebhook(key, { ...h, signature: sig }, r.got[0]!.body, Number(h.timestamp) + 301)).toBe(false);
    expect(stats.retried).toEqual([]);
  });

  it("retries after 500s and timeouts with the same webhook-id, holding later batches back", async () => {
    const r = await receiver((n) => (n === 1 || n === 2 ? 500 : n === 3 ? "hang" : 200));
    closers.push(r.close);
    const { s, stats } = sender(r.url);
    for (let i = 0; i < 15; i++) s.enqueue(event(i));
    await waitFor(() => stats.delivered === 15, 10_000, "15 events");
    expect(stats.retried).toEqual(["500", "500", "timeout"]);
    expect(r.got.slice(0, 4).map((x) => x.id)).toEqual(Array(4).fill(r.got[0]!.id)); // one batch, four attempts
    expect(r.got[4]!.id).not.toBe(r.got[0]!.id);
    expect(stats.attempts).toEqual([4, 1]);
    expect(delivered(r.got)).toEqual(Array.from({ length: 15 }, (_, i) => `ev-${i}`)); // each once, in order
  });

  it("gives up on a batch after PRESENCE_WEBHOOK_RETRY_FOR_MS and goes on with the next", async () => {
    let failing = true;
    const r = await receiver(() => (failing ? 503 : 200));
    closers.push(r.close);
    const { s, stats } = sender(r.url, { retryForMs: 400, maxBatchEvents: 5 });
    for (let i = 0; i < 5; i++) s.enqueue(event(i));
    await waitFor(() => stats.lost.length === 1, 5_000, "the batch to be given up");
    expect(stats.lost).toEqual([[5, "failed"]]);
    expect(stats.retried.length).toBeGreaterThanOrEqual(2);
    failing = false;
    s.enqueue(event(99));
    await waitFor(() => stats.delivered === 1, 5_000, "the next batch");
  });

  it("drops what exceeds the queue bound, counted", async () => {
    const r = await receiver(() => "hang");
    closers.push(r.close);
    const { s, stats } = sender(r.url, { maxQueue: 10, maxBatchEvents: 10, timeoutMs: 2_000 });
    for (let i = 0; i < 25; i++) s.enqueue(event(i));
    expect(stats.lost.filter(([, why]) => why === "overflow").length).toBe(15);
    expect(s.queueDepth()).toBe(10);
  });

  it("drain delivers everything queued before it returns", async () => {
    const r = await receiver((n) => (n === 1 ? 500 : 200));
    closers.push(r.close);
    const { s, stats } = sender(r.url, { batchDelayMs: 1_000 });
    for (let i = 0; i < 23; i++) s.enqueue(event(i));
    await s.drain(Date.now() + 5_000);
    expect(stats.delivered).toBe(23);
    expect(stats.lost).toEqual([]);
    expect(delivered(r.got)).toHaveLength(23);
    s.enqueue(event(100)); // after the drain: refused, counted
    expect(stats.lost).toEqual([[1, "drain"]]);
  });
});
