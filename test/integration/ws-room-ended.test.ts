import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/presence/v1/admin_pb.js";
import type { ServerFrame } from "../../gen/presence/v1/frames_pb.js";
import { connectClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { pubsubMessage } from "../support/resp-frames.js";
import { startTcpForwarder, type TcpForwarder } from "../support/tcp-forwarder.js";
import { connectWs, type WsTestClient } from "../support/ws-client.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";

/**
 * The end of a managed room reaches every WebSocket member socket (frames.proto ServerFrame
 * `room_ended`), also raw clients that never watch the room: each gets one `room_ended`, the room
 * leaves the socket's session (a session in other rooms carries on; a session whose last room it
 * was has ended, and the socket's next Join makes a new one, while the socket stays open: no 4005
 * at the next node refresh). A member that also watches gets the watch's `ended` too. On the memory
 * store, and on two nodes sharing a real Redis (the room is ended on the other node), per engine.
 */
const servers: TestServer[] = [];
const sockets: WsTestClient[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRoomEnded = (f: ServerFrame) => f.frame.case === "roomEnded";

for (const engine of WS_ENGINES) {
  for (const store of ["memory", "redis"] as const) {
    describe(`room_ended to member sockets (${store} store, ${engine} engine)`, () => {
      let redis: RedisInstance | undefined;
      beforeAll(async () => {
        if (store === "redis") redis = await startRedis();
      });
      afterAll(async () => {
        await redis?.stop();
      });

      it("every member socket gets one room_ended, watching or not; their sessions follow; sockets stay open", async () => {
        const env: Record<string, string> = { ...engineEnv(engine), PRESENCE_NODE_REFRESH_MS: "200" };
        if (redis) Object.assign(env, { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` });
        const a = await startTestServer(env);
        const b = redis ? await startTestServer(env) : a;
        servers.push(...new Set([a, b]));
        const owner = connectClient(a.baseUrl, await signTestToken(TEST_SECRET, { sub: "owner" }));
        await owner.createRoom({ room: "/op/a" });
        const raw = async (sub: string) => {
          const c = await connectWs(b.wsUrl, { token: await signTestToken(TEST_SECRET, { sub, name: sub }) });
          sockets.push(c);
          return c;
        };
        const sessionOf = (f: ServerFrame) => (f.frame.case === "join" ? f.frame.value.session!.sessionId : "");
        // r1: in /op/a and /keep, watching neither; r2: only in /op/a, not watching; r3: in /op/a and watching it.
        const r1 = await raw("r1");
        const r1Session = sessionOf(await r1.request({ case: "join", value: { room: "/op/a" } }));
        await r1.request({ case: "join", value: { room: "/keep" } });
        const r2 = await raw("r2");
        const r2Session = sessionOf(await r2.request({ case: "join", value: { room: "/op/a" } }));
        const r3 = await raw("r3");
        await r3.request({ case: "join", value: { room: "/op/a" } });
        await r3.request({ case: "watch", value: { room: "/op/a" } });
        await r3.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "snapshot");
        expect(r2Session).not.toBe("");

        const ended = await owner.endRoom({ room: "/op/a", reason: "wrap-up" });
        expect(ended.connectionsRemoved).toBe(3);
        for (const c of [r1, r2, r3]) {
          const f = await c.waitFor(isRoomEnded);
          expect(f.requestId).toBe(0);
          expect(f.frame.value).toMatchObject({ room: "/op/a", endedBy: "owner", reason: "wrap-up" });
        }
        await r3.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "ended");
        await sleep(700); // several node refreshes: a socket whose session ended is not closed with 4005
        for (const c of [r1, r2, r3]) expect(c.frames.filter(isRoomEnded)).toHaveLength(1);
        expect(r2.ws.readyState).toBe(r2.ws.OPEN);

        // r1's session carries on in /keep; r2's ended with its last room: its next Join makes a new one.
        const typing = await r1.request({ case: "typing", value: { room: "/keep", typing: true } });
        expect(typing.frame.case).toBe("ack");
        const reader = connectClient(a.baseUrl);
        expect((await reader.getPresence({ room: "/keep" })).view!.users.map((u) => u.user!.userId)).toEqual(["r1"]);
        const again = await r2.request({ case: "join", value: { room: "/after" } });
        expect(sessionOf(again)).not.toBe("");
        expect(sessionOf(again)).not.toBe(r2Session);
        expect(r1Session).not.toBe(sessionOf(again));
        expect((await reader.getPresence({ room: "/op/a" })).view!.counts?.connections ?? 0).toBe(0);
      });
    });
  }
}

/**
 * The node refresh that finds a member socket's session gone may come before the room's `ended`
 * message (EndRoom ends a session with its last room): the socket still gets `room_ended` (from the
 * room's record, inside its tombstone) and stays open, never 4005. Made certain here: node B reaches
 * Redis through a forwarder that drops every pub/sub message of the room, so only the refresh can
 * tell B. A session lost for another reason (kicked) still closes its socket with 4005.
 */
describe("room_ended when the end's message never reaches the members' node (redis)", () => {
  let redis: RedisInstance;
  let fwd: TcpForwarder;
  beforeAll(async () => {
    redis = await startRedis();
    fwd = await startTcpForwarder(redis.port);
  });
  afterAll(async () => {
    await fwd?.close();
    await redis?.stop();
  });

  it("the refresh that finds the session gone sends room_ended from the room's record; a kick still closes with 4005", async () => {
    const env = { PRESENCE_NODE_REFRESH_MS: "200", PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` };
    const a = await startTestServer({ ...env, PRESENCE_REDIS_URL: redis.url });
    servers.push(a);
    const b = await startTestServer({ ...env, PRESENCE_REDIS_URL: `redis://127.0.0.1:${fwd.port}` });
    servers.push(b);
    let dropped = 0;
    fwd.filterPushes((f) => {
      const m = pubsubMessage(f);
      if (m && m.channel.includes("/op/lost")) {
        dropped++;
        return [];
      }
      return [f];
    });
    try {
      const owner = connectClient(a.baseUrl, await signTestToken(TEST_SECRET, { sub: "owner" }));
      await owner.createRoom({ room: "/op/lost" });
      const member = await connectWs(b.wsUrl, { token: await signTestToken(TEST_SECRET, { sub: "m1", name: "m1" }) });
      const kicked = await connectWs(b.wsUrl, { token: await signTestToken(TEST_SECRET, { sub: "m2", name: "m2" }) });
      sockets.push(member, kicked);
      expect((await member.request({ case: "join", value: { room: "/op/lost" } })).frame.case).toBe("join");
      const k = await kicked.request({ case: "join", value: { room: "/other" } });
      const kickedSession = k.frame.case === "join" ? k.frame.value.session!.sessionId : "";

      const ended = await owner.endRoom({ room: "/op/lost", reason: "lost message" });
      expect(ended.connectionsRemoved).toBe(1);
      const f = await member.waitFor(isRoomEnded, 10_000);
      expect(f.frame.value).toMatchObject({ room: "/op/lost", endedBy: "owner", reason: "lost message" });
      expect(dropped).toBeGreaterThan(0); // B never saw the room's messages: the refresh told it
      await sleep(700); // several refreshes more: no 4005, no second room_ended
      expect(member.ws.readyState).toBe(member.ws.OPEN);
      expect(member.frames.filter(isRoomEnded)).toHaveLength(1);
      expect((await member.request({ case: "join", value: { room: "/after" } })).frame.case).toBe("join");

      // Kicked (not an ended room): the refresh closes the socket with 4005 as before.
      const ops = createClient(AdminService, createConnectTransport({ baseUrl: a.baseUrl, httpVersion: "1.1" }));
      await ops.kickSession({ sessionId: kickedSession }, { headers: { authorization: `Bearer ${await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" })}` } });
      expect(await kicked.closed).toEqual({ code: 4005, reason: "session ended" });
      expect(kicked.frames.filter(isRoomEnded)).toHaveLength(0);
    } finally {
      fwd.filterPushes(null);
    }
  });
});
