/**
 * Webhooks end to end: real servers (memory store, and two nodes on a real Redis) POST to a real
 * HTTP receiver in the test, which verifies every request with the `standardwebhooks` library and
 * de-duplicates events by id. Checked: the events of arrivals and departures, departures only
 * after the reconnect grace, no event for a flap inside the grace, retries after 500 and a timeout,
 * per-room commit order, each event announced by exactly one node, the kinds filter, and nothing
 * lost when the committing node is drained.
 */
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { waitFor } from "../support/watch-recorder.js";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const GRACE_MS = 600;

interface Ev {
  id: string;
  kind: string;
  room?: string;
  userId?: string;
  receivedAt: number;
  webhookId: string;
  nodeId: string;
}

async function receiver() {
  const wh = new Webhook(SECRET);
  const requests: Array<{ id: string; verified: boolean }> = [];
  const events: Ev[] = [];
  let answer: (n: number) => number | "hang" = () => 200;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const id = String(req.headers["webhook-id"]);
      let verified = true;
      try {
        wh.verify(body, { "webhook-id": id, "webhook-timestamp": String(req.headers["webhook-timestamp"]), "webhook-signature": String(req.headers["webhook-signature"]) });
      } catch {
        verified = false;
      }
      requests.push({ id, verified });
      const a = answer(requests.length);
      if (a === "hang") return;
      if (a >= 200 && a < 300) {
        const batch = JSON.parse(body) as { nodeId: string; events: Array<Omit<Ev, "receivedAt" | "webhookId" | "nodeId">> };
        for (const e of batch.events) events.push({ ...e, receivedAt: Date.now(), webhookId: id, nodeId: batch.nodeId });
      }
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/presence`,
    requests,
    /** Events once each (by id), in arrival order: what a de-duplicating receiver keeps. */
    unique: () => [...new Map(events.map((e) => [e.id, e])).values()],
    raw: events,
    setAnswer: (f: (n: number) => number | "hang") => (answer = f),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

const ENV = (url: string, extra: Record<string, string> = {}) => ({
  PRESENCE_WEBHOOK_URL: url,
  PRESENCE_WEBHOOK_SECRET: SECRET,
  PRESENCE_WEBHOOK_BATCH_DELAY_MS: "20",
  PRESENCE_WEBHOOK_TIMEOUT_MS: "300",
  PRESENCE_RECONNECT_GRACE_MS: String(GRACE_MS),
  PRESENCE_REAPER_INTERVAL_MS: "50",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "3000",
  ...extra,
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(extra: Record<string, string> = {}) {
  const r = await receiver();
  cleanups.push(r.close);
  const server = await startTestServer(ENV(r.url, extra));
  cleanups.push(() => server.close());
  const as = async (sub: string) => {
    const c = connectClient(server.baseUrl, await signTestToken(TEST_SECRET, { sub, name: sub }));
    cleanups.push(() => c.close());
    return c;
  };
  return { r, server, as };
}

/** Room events and user events apart: each kind's order is promised, not the order between them. */
const split = (evs: Ev[]) => ({ room: kinds(evs.filter((e) => e.room)), user: kinds(evs.filter((e) => !e.room)) });
const kinds = (evs: Ev[], room?: string) => evs.filter((e) => room === undefined || e.room === room || e.room === "").map((e) => `${e.kind.replace("BACKEND_EVENT_KIND_", "").toLowerCase()}${e.userId ? `:${e.userId}` : ""}`);

describe("webhooks (memory store)", () => {
  it("announces arrivals at once and departures after the grace, signed, each once", async () => {
    const { r, as } = await setup();
    const ana = await as("ana");
    const tab1 = await ana.join({ room: "/wh/a" });
    await waitFor(() => r.unique().length >= 3, 5_000, "the arrival events");
    expect(split(r.unique())).toEqual({ room: ["room_occupied", "member_added:ana"], user: ["user_online:ana"] });
    const tab2 = await ana.join({ room: "/wh/a" });
    await ana.leave({ sessionId: tab1.session!.sessionId, room: "/wh/a" }); // one of two tabs: nothing
    const leftAt = Date.now();
    await ana.leave({ sessionId: tab2.session!.sessionId, room: "/wh/a" });
    await waitFor(() => r.unique().length >= 6, 5_000, "the departure events");
    const departures = r.unique().slice(3);
    expect(split(departures)).toEqual({ room: ["member_removed:ana", "room_vacated"], user: ["user_offline:ana"] });
    for (const e of departures) expect(e.receivedAt - leftAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
    expect(r.requests.every((q) => q.verified)).toBe(true);
    expect(r.raw).toHaveLength(r.unique().length); // no duplicates were even sent
  });

  it("a flap inside the grace fires nothing; a user leaving for longer does", async () => {
    const { r, as } = await setup();
    const bob = await as("bob");
    const s = await bob.join({ room: "/wh/flap" });
    await waitFor(() => r.unique().length >= 3, 5_000, "the arrival events");
    await bob.leave({ sessionId: s.session!.sessionId, room: "/wh/flap" });
    await new Promise((res) => setTimeout(res, GRACE_MS / 3));
    const back = await bob.join({ room: "/wh/flap" }); // back inside the grace
    await new Promise((res) => setTimeout(res, GRACE_MS * 2));
    expect(split(r.unique())).toEqual({ room: ["room_occupied", "member_added:bob"], user: ["user_online:bob"] });
    await bob.leave({ sessionId: back.session!.sessionId, room: "/wh/flap" });
    await waitFor(() => r.unique().length >= 6, 5_000, "the departure");
    expect(split(r.unique().slice(3))).toEqual({ room: ["member_removed:bob", "room_vacated"], user: ["user_offline:bob"] });
  });

  it("retries after a 500 and a timeout with the same webhook-id; order per room holds", async () => {
    const { r, as } = await setup();
    r.setAnswer((n) => (n === 1 ? 500 : n === 2 ? "hang" : 200));
    const users = await Promise.all(["c1", "c2", "c3"].map(as));
    for (const u of users) await u.join({ room: "/wh/order" });
    await waitFor(() => r.unique().filter((e) => e.kind.endsWith("MEMBER_ADDED")).length === 3, 10_000, "three added");
    expect(r.requests[0]!.id).toBe(r.requests[1]!.id);
    expect(r.requests[1]!.id).toBe(r.requests[2]!.id);
    const room = r.unique().filter((e) => e.room === "/wh/order");
    expect(kinds(room)).toEqual(["room_occupied", "member_added:c1", "member_added:c2", "member_added:c3"]);
    const versions = room.map((e) => Number(e.id.split("/").at(-2)));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
  });

  it("sends only PRESENCE_WEBHOOK_KINDS", async () => {
    const { r, as } = await setup({ PRESENCE_WEBHOOK_KINDS: "member_added,member_removed" });
    const dee = await as("dee");
    const s = await dee.join({ room: "/wh/kinds" });
    await dee.leave({ sessionId: s.session!.sessionId, room: "/wh/kinds" });
    await waitFor(() => r.unique().length >= 2, 5_000, "two events");
    await new Promise((res) => setTimeout(res, 300));
    expect(kinds(r.unique())).toEqual(["member_added:dee", "member_removed:dee"]);
  });

  it("loses nothing when the committing node is drained inside the grace", async () => {
    const { r, server, as } = await setup();
    const eve = await as("eve");
    const s = await eve.join({ room: "/wh/drain" });
    await waitFor(() => r.unique().length >= 3, 5_000, "the arrival events");
    await eve.leave({ sessionId: s.session!.sessionId, room: "/wh/drain" });
    await server.close(); // SIGTERM-like drain before the grace has passed
    expect(split(r.unique().slice(3))).toEqual({ room: ["member_removed:eve", "room_vacated"], user: ["user_offline:eve"] });
  });
});

describe("webhooks (two nodes on Redis)", () => {
  let redis: RedisInstance;
  afterAll(async () => {
    await redis?.stop();
  });

  it("each event is announced by the node that committed it, once", async () => {
    redis = await startRedis();
    const r = await receiver();
    cleanups.push(r.close);
    const env = ENV(r.url, { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `w${randomBytes(4).toString("hex")}` });
    const [a, b] = await Promise.all([startTestServer({ ...env, PRESENCE_NODE_ID: "node-a" }), startTestServer({ ...env, PRESENCE_NODE_ID: "node-b" })]);
    cleanups.push(() => a.close(), () => b.close());
    const clients: PresenceClient[] = [];
    const on = async (s: TestServer, sub: string) => {
      const c = connectClient(s.baseUrl, await signTestToken(TEST_SECRET, { sub }));
      clients.push(c);
      return c;
    };
    cleanups.push(() => clients.forEach((c) => c.close()));
    const fay = await (await on(a, "fay")).join({ room: "/wh/nodes" });
    await (await on(b, "gus")).join({ room: "/wh/nodes" });
    await (await on(a, "fay")).leave({ sessionId: fay.session!.sessionId, room: "/wh/nodes" });
    await waitFor(() => r.unique().some((e) => e.kind.endsWith("USER_OFFLINE")), 10_000, "fay offline");
    await new Promise((res) => setTimeout(res, 300));
    expect(r.raw.length).toBe(r.unique().length); // never sent twice
    const byNode = Object.fromEntries(r.unique().map((e) => [kinds([e])[0], e.nodeId]));
    expect(byNode).toEqual({
      room_occupied: "node-a",
      "member_added:fay": "node-a",
      "user_online:fay": "node-a",
      "member_added:gus": "node-b",
      "user_online:gus": "node-b",
      "member_removed:fay": "node-a",
      "user_offline:fay": "node-a",
    });
  });
});
