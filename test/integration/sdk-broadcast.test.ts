import WebSocket from "ws";
import { afterEach, describe, expect, it } from "vitest";
import { createPresenceClient, PresenceClientError, type BroadcastEvent, type PresenceClient, type PresenceClientOptions, type RoomHandle } from "@presence-platform/client";
import { DEFAULT_BROADCAST_MAX_BYTES } from "../../packages/client/src/client-options.js";
import { loadConfig } from "../../src/config.js";
import { connectClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";

/**
 * Room broadcasts through the client SDK (`handle.broadcast`, `onBroadcast`, `on("broadcast")`)
 * against a real server on port 0, over the WebSocket bridge (each engine) and over Connect: what
 * a member sends reaches every watcher once with the sender's ids, comes back to the sender marked
 * `isSelf`, is filtered by type, stops after unsubscribing, and a backend's broadcast (service
 * role, no session) arrives too; the server's rules hold through the SDK: type and size refused
 * before sending with the server's codes, the server's own smaller limit, the per-session rate,
 * anonymous viewers refused, and no queueing while not connected.
 */
const servers: TestServer[] = [];
const clients: PresenceClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const tokenFor = (sub: string, extra: Record<string, unknown> = {}) => signTestToken(TEST_SECRET, { sub, name: sub[0]!.toUpperCase() + sub.slice(1), ...extra });

async function until(pred: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function refusal(p: Promise<unknown>): Promise<PresenceClientError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PresenceClientError);
  return e as PresenceClientError;
}

/**
 * A broadcast reaches the watches that are live when it is sent, and a room's watch starts after
 * its Join is answered (`ready` may come from the Join's own view): `from` broadcasts numbered
 * `warmup`s until every handle of `to` has received the last one sent. Later listeners see none of
 * them (each watch delivers in order).
 */
async function warmUp(from: RoomHandle, to: RoomHandle[]) {
  const seen = to.map(() => -1);
  const offs = to.map((h, i) => h.on("broadcast", (e) => void (e.type === "warmup" && (seen[i] = e.payload as number))));
  try {
    for (let n = 0; ; n++) {
      if (n > 60) throw new Error("no watch went live within 60 warm-up broadcasts");
      await from.broadcast("warmup", n);
      const deadline = Date.now() + 200;
      while (Date.now() < deadline && !seen.every((v) => v === n)) await new Promise((r) => setTimeout(r, 10));
      if (seen.every((v) => v === n)) return;
    }
  } finally {
    offs.forEach((off) => off());
  }
}

const TRANSPORTS = [...WS_ENGINES.map((engine) => ({ name: `websocket (${engine})`, transport: "websocket" as const, env: engineEnv(engine) })), { name: "connect", transport: "connect" as const, env: {} }];

for (const t of TRANSPORTS) {
  describe(`SDK broadcasts over ${t.name}`, () => {
    async function server(env: Record<string, string> = {}) {
      const s = await startTestServer({ ...t.env, ...env });
      servers.push(s);
      return s;
    }
    async function client(s: TestServer, sub: string | null, extra: Partial<PresenceClientOptions> = {}) {
      const token = sub === null ? undefined : await tokenFor(sub);
      const url = t.transport === "websocket" ? s.wsUrl : s.baseUrl;
      const c = createPresenceClient({ transport: t.transport, url, token, webSocket: WebSocket, reconnect: { baseMs: 50, capMs: 400 }, visibility: false, trackInput: false, ...extra });
      clients.push(c);
      return c;
    }

    it("delivers a member's broadcast to every watcher once, its own marked isSelf, filtered by type, until unsubscribed; a backend's too", async () => {
      const s = await server();
      const ana = await client(s, "ana");
      const bob = await client(s, "bob");
      const anaDoc = ana.join("/doc");
      const bobDoc = bob.join("/doc");
      await Promise.all([anaDoc.ready, bobDoc.ready]);
      await warmUp(anaDoc, [anaDoc, bobDoc]);

      const bobAll: BroadcastEvent[] = [];
      const bobOnClient: BroadcastEvent[] = [];
      const bobReactions: BroadcastEvent<{ emoji: string; n: number }>[] = [];
      const anaAll: BroadcastEvent[] = [];
      const anaReactions: BroadcastEvent[] = [];
      bobDoc.on("broadcast", (e) => bobAll.push(e));
      bob.on("broadcast", (e) => bobOnClient.push(e));
      const offBob = bobDoc.onBroadcast<{ emoji: string; n: number }>("reaction", (e) => bobReactions.push(e));
      anaDoc.on("broadcast", (e) => anaAll.push(e));
      anaDoc.onBroadcast("reaction", (e) => anaReactions.push(e));

      const before = Date.now();
      const res = await anaDoc.broadcast("reaction", { emoji: "🎉", n: 1 });
      expect(res.localWatchers).toBeGreaterThanOrEqual(1); // diagnostics: this node's watchers of the room (one per WebSocket room broadcaster, one per Connect stream)
      await until(() => bobReactions.length === 1 && anaAll.length === 1, "the reaction at bob and back at ana");
      const got = bobReactions[0]!;
      expect(got).toMatchObject({ room: "/doc", type: "reaction", payload: { emoji: "🎉", n: 1 }, userId: "ana", connectionId: ana.connectionId, isSelf: false });
      expect(got.timeMs).toBeGreaterThanOrEqual(before - 1_000);
      expect(got.timeMs).toBeLessThanOrEqual(Date.now() + 1_000);
      expect(anaAll[0]).toMatchObject({ type: "reaction", userId: "ana", connectionId: ana.connectionId, isSelf: true });
      expect(bobOnClient).toEqual(bobAll); // the client-level listener sees every room's

      // Another type, and a bare type (payload null). Ana's own reaction stayed out of her
      // reaction listener: bob's later one is the first it got (one stream, in order).
      await bobDoc.broadcast("cursor.ping", [1, "two", null]);
      await bobDoc.broadcast("reaction", { emoji: "👍", n: 2 });
      await anaDoc.broadcast("saved");
      await until(() => anaReactions.length === 1 && bobAll.length === 4, "bob's reaction at ana and all four at bob");
      expect(anaReactions[0]).toMatchObject({ userId: "bob", payload: { emoji: "👍", n: 2 }, isSelf: false });
      expect(bobAll.map((e) => [e.type, e.isSelf])).toEqual([
        ["reaction", false],
        ["cursor.ping", true],
        ["reaction", true],
        ["saved", false],
      ]);
      expect(bobAll[1]!.payload).toEqual([1, "two", null]);
      expect(bobAll[3]!.payload).toBeNull();
      expect(bobReactions).toHaveLength(1); // bob's own reaction left out (no includeSelf)

      // Unsubscribed: the reaction listener gets nothing more, the others still do.
      offBob();
      await anaDoc.broadcast("reaction", { emoji: "🚀", n: 3 });
      await anaDoc.broadcast("marker", { last: true });
      await until(() => bobAll.length === 6, "the last two at bob");
      expect(bobReactions).toHaveLength(1);

      // A backend (service role, no session) broadcasts to the room: no sender ids.
      const svc = connectClient(s.baseUrl, await tokenFor("backend", { role: "service" }));
      try {
        await svc.broadcast({ room: "/doc", type: "page.saved", payload: { kind: { case: "numberValue", value: 7 } } });
      } finally {
        svc.close?.();
      }
      await until(() => bobAll.length === 7, "the backend's broadcast at bob");
      expect(bobAll[6]).toMatchObject({ type: "page.saved", payload: 7, userId: "", connectionId: "", isSelf: false });
    });

    it("applies the server's rules: type and size refused before sending, the server's own limit, the rate, anonymous viewers, no queueing", async () => {
      expect(DEFAULT_BROADCAST_MAX_BYTES).toBe(loadConfig({}).backends.broadcastMaxBytes);
      const s = await server({ PRESENCE_BROADCAST_MAX_BYTES: "100", PRESENCE_BROADCAST_RATE_PER_SEC: "1", PRESENCE_BROADCAST_BURST: "3" });
      const ana = await client(s, "ana");
      const small = await client(s, "cy", { broadcastMaxBytes: 50 });
      const anon = await client(s, null);
      const doc = ana.join("/doc");
      const cyDoc = small.join("/doc");
      const anonDoc = anon.join("/doc");
      await Promise.all([doc.ready, cyDoc.ready, anonDoc.ready]);

      const badType = await refusal(doc.broadcast("no spaces", {}));
      expect([badType.code, badType.reason, badType.retry]).toEqual(["invalid_argument", "INVALID_ARGUMENT", "never"]);
      expect(badType.message).toMatch(/^type: /);

      const local = await refusal(cyDoc.broadcast("note", { text: "x".repeat(60) }));
      expect([local.code, local.reason]).toEqual(["resource_exhausted", "MESSAGE_TOO_LARGE"]);
      expect(local.message).toMatch(/^payload: must be at most 50 bytes \(got \d+; broadcastMaxBytes\)$/);

      const remote = await refusal(doc.broadcast("note", { text: "x".repeat(200) })); // under the SDK's 4,096, over the server's 100
      expect([remote.code, remote.reason, remote.retry]).toEqual(["resource_exhausted", "MESSAGE_TOO_LARGE", "never"]);
      expect(remote.message).toMatch(/payload: must be at most 100 bytes \(got \d+\)/);

      // Six at once against a burst of 3 at 1/s: the burst passes (and at most what refilled
      // meanwhile, on a slow box), the rest is refused.
      const ticks = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => doc.broadcast("tick", i)));
      const passed = ticks.filter((r) => r.status === "fulfilled").length;
      expect(passed).toBeGreaterThanOrEqual(3);
      expect(passed).toBeLessThan(6);
      const limited = (ticks.find((r) => r.status === "rejected") as PromiseRejectedResult).reason as PresenceClientError;
      expect(limited).toBeInstanceOf(PresenceClientError);
      expect([limited.code, limited.reason, limited.retry]).toEqual(["resource_exhausted", "RATE_LIMITED", "backoff"]);
      expect(limited.message).toContain("PRESENCE_BROADCAST_RATE_PER_SEC");
      expect(ana.status).toBe("connected"); // a refused broadcast leaves the connection and the room alone
      expect(doc.connected).toBe(true);

      const denied = await refusal(anonDoc.broadcast("hello", {}));
      expect([denied.code, denied.reason]).toEqual(["permission_denied", "PERMISSION_DENIED"]);

      // Not connected (nothing listens there): refused at once, never queued for later.
      const offline = createPresenceClient({ transport: t.transport, url: t.transport === "websocket" ? "ws://127.0.0.1:9/ws" : "http://127.0.0.1:9", webSocket: WebSocket, visibility: false, trackInput: false, reconnect: { baseMs: 60_000, capMs: 60_000 } });
      clients.push(offline);
      const unavailable = await refusal(offline.join("/doc").broadcast("hello", {}));
      expect([unavailable.code, unavailable.retry]).toEqual(["unavailable", "backoff"]);
      expect(unavailable.message).toContain("not joined on a live connection");
    });
  });
}
