import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import { connectClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs, type WsTestClient } from "../support/ws-client.js";

/**
 * Typed presence (member_presence.proto) against a real server on the memory store and on a real
 * Redis: the Join's initial object, UpdatePresence merges and replaces (one `updated` event each),
 * limits refused with PRESENCE_TOO_LARGE naming the limit, bursts merged (never refused, the last
 * state wins), anonymous callers refused, and the same over the WebSocket's update_presence frame.
 */
const servers: TestServer[] = [];
const sockets: WsTestClient[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Whether two flat objects have the same entries, whatever their key order. */
const sameEntries = (a: object | undefined, b: object) => JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b).sort());
/** Waits (up to 10 s) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !cond() && Date.now() < end; ) await sleep(10);
}

for (const store of ["memory", "redis"] as const) {
  describe(`typed presence on the ${store} store`, () => {
    let redis: RedisInstance | undefined;
    beforeAll(async () => {
      if (store === "redis") redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });
    async function server(env: Record<string, string> = {}) {
      const e: Record<string, string> = { ...env };
      if (redis) Object.assign(e, { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` });
      const s = await startTestServer(e);
      servers.push(s);
      return s;
    }
    const token = (sub: string) => signTestToken(TEST_SECRET, { sub, name: sub });

    /** A watcher's view of one user's presence, from its snapshot and `updated` events. */
    function follow(messages: WatchPresenceResponse[], userId: string) {
      let last: unknown = undefined;
      for (const m of messages) {
        if (m.message.case === "snapshot") last = m.message.value.view?.users.find((u) => u.user?.userId === userId)?.connections[0]?.presence ?? last;
        if (m.message.case === "event" && (m.message.value.kind.case === "updated" || m.message.value.kind.case === "joined") && m.message.value.kind.value.user?.userId === userId) {
          last = m.message.value.kind.value.connection?.presence ?? {};
        }
      }
      return last;
    }

    it("joins with an object, merges and replaces it, each change one event, refuses over the limit", async () => {
      const s = await server({ PRESENCE_MAX_PRESENCE_BYTES: "64" });
      const ana = connectClient(s.baseUrl, await token("ana"));
      const watcher = connectClient(s.baseUrl, await token("bob"));
      const j = await ana.join({ room: "/doc", presence: { tool: "pen", cell: null } });
      const sid = j.session!.sessionId;
      expect(j.view?.users[0]?.connections[0]?.presence).toEqual({ tool: "pen", cell: null });
      const seen: WatchPresenceResponse[] = [];
      const ac = new AbortController();
      const watching = (async () => {
        for await (const m of watcher.watchPresence({ room: "/doc" }, { signal: ac.signal })) seen.push(m);
      })().catch(() => undefined);
      const updates = () => seen.filter((m) => m.message.case === "event" && m.message.value.kind.case === "updated");
      // Events, not fixed sleeps: the watch's snapshot first (an update before it would be in it), then each update's event.
      await until(() => seen.some((m) => m.message.case === "snapshot"));
      await ana.updatePresence({ sessionId: sid, room: "/doc", presence: { cell: "B7" } });
      await until(() => updates().length >= 1);
      expect(follow(seen, "ana")).toEqual({ tool: "pen", cell: "B7" });
      await ana.updatePresence({ sessionId: sid, room: "/doc", presence: { only: [1, { x: true }] }, replace: true });
      await until(() => updates().length >= 2);
      expect(follow(seen, "ana")).toEqual({ only: [1, { x: true }] });
      const err = await ana.updatePresence({ sessionId: sid, room: "/doc", presence: { text: "x".repeat(100) } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
      expect((err as ConnectError).rawMessage).toBe("presence: must be at most 64 bytes (got 108)");
      const anon = await connectClient(s.baseUrl).updatePresence({ sessionId: sid, room: "/doc", presence: { a: 1 } }).catch((e: unknown) => e);
      expect((anon as ConnectError).code).toBe(Code.PermissionDenied);
      const notIn = await ana.updatePresence({ sessionId: sid, room: "/other", presence: { a: 1 } }).catch((e: unknown) => e);
      expect((notIn as ConnectError).code).toBe(Code.NotFound);
      expect(updates()).toHaveLength(2); // one event per change; the refused ones made none
      ac.abort();
      await watching;
    });

    it("merges a burst above the rate instead of refusing it: the last state wins, fewer events", async () => {
      const s = await server({ PRESENCE_PRESENCE_RATE_PER_SEC: "5" });
      const ana = connectClient(s.baseUrl, await token("ana"));
      const sid = (await ana.join({ room: "/burst" })).session!.sessionId;
      await Promise.all(Array.from({ length: 30 }, (_, i) => ana.updatePresence({ sessionId: sid, room: "/burst", presence: { [`k${i % 3}`]: i } })));
      // The merged rest is written when the rate allows (within about a second): read until it shows.
      const reader = connectClient(s.baseUrl);
      const want = { k0: 27, k1: 28, k2: 29 };
      let view = (await reader.getPresence({ room: "/burst" })).view!;
      for (const end = Date.now() + 10_000; Date.now() < end && !sameEntries(view.users[0]?.connections[0]?.presence, want); await sleep(50)) {
        view = (await reader.getPresence({ room: "/burst" })).view!;
      }
      expect(view.users[0]!.connections[0]!.presence).toEqual(want);
      expect(Number(view.version)).toBeLessThan(30); // merged, not one event per call
    });

    it("works over the WebSocket: join with presence, update_presence frames", async () => {
      const s = await server();
      const c = await connectWs(s.wsUrl, { token: await token("ana") });
      sockets.push(c);
      const j = await c.request({ case: "join", value: { room: "/ws", presence: { tool: "pen" } } });
      expect(j.frame.case).toBe("join");
      const ack = await c.request({ case: "updatePresence", value: { room: "/ws", presence: { tool: "eraser", size: 3 } } });
      expect(ack.frame.case).toBe("ack");
      const v = (await connectClient(s.baseUrl).getPresence({ room: "/ws" })).view!;
      expect(v.users[0]!.connections[0]!.presence).toEqual({ tool: "eraser", size: 3 });
    });
  });
}
