import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Activity, PresenceOverride, UserState } from "../../gen/presence/v1/types_pb.js";
import { connectClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * Server-side away (types.proto Activity) on a real server with a short threshold, on the memory
 * store and on two nodes sharing a real Redis: a session with no activity signal for
 * PRESENCE_AWAY_AFTER_MS shows away (its connection and its user status), liveness heartbeats do
 * not keep it active, an activity signal (typing here, or Heartbeat ACTIVE) brings it back at once,
 * and a scope override shortens the threshold for the sessions of that scope.
 */
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(pred: () => Promise<boolean>, what: string, timeoutMs = 5_000) {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(25);
  }
}

for (const store of ["memory", "redis"] as const) {
  describe(`server-side away on the ${store} store`, () => {
    let redis: RedisInstance | undefined;
    beforeAll(async () => {
      if (store === "redis") redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("a silent session becomes away after the threshold; a signal brings it back; liveness heartbeats do not", async () => {
      const env: Record<string, string> = {
        PRESENCE_AWAY_AFTER_MS: "800",
        PRESENCE_AWAY_CHECK_MS: "50",
        PRESENCE_AWAY_AFTER_MS_BY_SCOPE: "fast:=400",
      };
      if (redis) Object.assign(env, { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` });
      const a = await startTestServer(env);
      servers.push(a);
      const b = redis ? await startTestServer(env) : a; // on Redis, the other node reads (and may sweep)
      if (b !== a) servers.push(b);
      const ana = connectClient(a.baseUrl, await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" }));
      const reader = connectClient(b.baseUrl, await signTestToken(TEST_SECRET, { sub: "bob" }));
      const sid = (await ana.join({ room: "/idle" })).session!.sessionId;
      const shown = async () => (await reader.getPresence({ room: "/idle" })).view?.users[0]?.connections[0]?.activity;
      const state = async () => (await reader.getUserStatus({ userIds: ["ana"] })).statuses[0]?.state;

      const t0 = Date.now();
      const keepAlive = setInterval(() => void ana.heartbeat({ sessionId: sid }).catch(() => undefined), 100); // liveness only
      try {
        expect(await shown()).toBe(Activity.ACTIVE);
        await until(async () => (await shown()) === Activity.AWAY, "away after the threshold");
        expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
        expect(await state()).toBe(UserState.AWAY);
        await ana.setTyping({ sessionId: sid, room: "/idle", typing: true }); // an activity signal
        await until(async () => (await shown()) === Activity.ACTIVE, "active again after typing", 2_000);
        expect(await state()).toBe(UserState.ONLINE);
        await until(async () => (await shown()) === Activity.AWAY, "away again", 3_000);
        await ana.heartbeat({ sessionId: sid, activity: Activity.ACTIVE });
        await until(async () => (await shown()) === Activity.ACTIVE, "active again after Heartbeat ACTIVE", 2_000);

        // A session in the `fast:` scope goes away after 400 ms.
        const svc = connectClient(a.baseUrl, await signTestToken(TEST_SECRET, { sub: "backend", role: "service" }));
        const fast = (await svc.join({ room: "/fast", onBehalfOf: { userId: "cy" }, scopes: ["fast:1"] })).session!.sessionId;
        const t1 = Date.now();
        const keepFast = setInterval(() => void svc.heartbeat({ sessionId: fast }).catch(() => undefined), 100);
        try {
          await until(async () => (await reader.getPresence({ room: "/fast" })).view?.users[0]?.activity === Activity.AWAY, "fast scope away");
          expect(Date.now() - t1).toBeLessThan(800 + 300);
        } finally {
          clearInterval(keepFast);
        }
      } finally {
        clearInterval(keepAlive);
      }
    });

    it("a managed room's away_after_ms makes its silent members away before the longer default; UpdateRoom applies to members present; leaving restores the default", async () => {
      // The collaboration seed's 2 min shortened to 1 s (the smallest away_after_ms); the default stays a minute.
      const env: Record<string, string> = { PRESENCE_AWAY_AFTER_MS: "60000", PRESENCE_AWAY_CHECK_MS: "50" };
      if (redis) Object.assign(env, { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` });
      const a = await startTestServer(env);
      servers.push(a);
      const b = redis ? await startTestServer(env) : a;
      if (b !== a) servers.push(b);
      const owner = connectClient(a.baseUrl, await signTestToken(TEST_SECRET, { sub: "owner" }));
      await owner.createRoom({ room: "/collab", awayAfterMs: 1_000n });
      await owner.createRoom({ room: "/later", awayAfterMs: 0n });
      const ana = connectClient(a.baseUrl, await signTestToken(TEST_SECRET, { sub: "ana" }));
      const bob = connectClient(b.baseUrl, await signTestToken(TEST_SECRET, { sub: "bob" }));
      const cy = connectClient(b.baseUrl, await signTestToken(TEST_SECRET, { sub: "cy" }));
      const t0 = Date.now(); // before ana's last activity (her first Join): she may go away 1 s after it, not before
      const anaSid = (await ana.join({ room: "/lobby" })).session!.sessionId;
      const joined = await ana.join({ room: "/collab", sessionId: anaSid });
      expect(joined.roomInfo?.awayAfterMs).toBe(1_000n);
      const bobSid = (await bob.join({ room: "/lobby" })).session!.sessionId;
      const cySid = (await cy.join({ room: "/later" })).session!.sessionId;
      const reader = connectClient(b.baseUrl, await signTestToken(TEST_SECRET, { sub: "reader" }));
      const shown = async (room: string, userId: string) => (await reader.getPresence({ room })).view?.users.find((u) => u.user?.userId === userId)?.activity;
      const alive = setInterval(() => {
        for (const [c, sid] of [[ana, anaSid], [bob, bobSid], [cy, cySid]] as const) void c.heartbeat({ sessionId: sid }).catch(() => undefined); // liveness only
      }, 100);
      try {
        await until(async () => (await shown("/collab", "ana")) === Activity.AWAY, "ana away after the room's 1 s");
        expect(Date.now() - t0).toBeGreaterThanOrEqual(990); // 1 s, give or take the ms rounding of Redis' clock
        expect(await shown("/lobby", "ana")).toBe(Activity.AWAY); // the session is away, in every room
        expect((await reader.getUserStatus({ userIds: ["ana"] })).statuses[0]?.state).toBe(UserState.AWAY);
        expect(await shown("/lobby", "bob")).toBe(Activity.ACTIVE); // the default (1 min) still holds for others
        expect(await shown("/later", "cy")).toBe(Activity.ACTIVE); // a managed room without its own value

        // UpdateRoom gives /later a threshold: cy, already in it, goes away by it.
        const t1 = Date.now();
        await owner.updateRoom({ room: "/later", awayAfterMs: 1_000n });
        await until(async () => (await shown("/later", "cy")) === Activity.AWAY, "cy away after UpdateRoom");
        expect(Date.now() - t1).toBeLessThan(3_000);

        // Ana leaves /collab: back to the default threshold, she stays active after a signal.
        await ana.leave({ sessionId: anaSid, room: "/collab" });
        await ana.heartbeat({ sessionId: anaSid, activity: Activity.ACTIVE });
        await until(async () => (await shown("/lobby", "ana")) === Activity.ACTIVE, "ana active again");
        await sleep(1_500);
        expect(await shown("/lobby", "ana")).toBe(Activity.ACTIVE);
        expect(await shown("/lobby", "bob")).toBe(Activity.ACTIVE);
      } finally {
        clearInterval(alive);
      }
    });
  });
}

describe("manual presence (SetStatus presence) across devices and nodes", () => {
  let redis: RedisInstance;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("a manual away shows on both devices of the user on two nodes; auto returns to the computed status", async () => {
    const env = { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` };
    const a = await startTestServer(env);
    const b = await startTestServer(env);
    servers.push(a, b);
    const token = await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" });
    const phone = connectClient(a.baseUrl, token);
    const laptop = connectClient(b.baseUrl, token);
    const p = (await phone.join({ room: "/chat" })).session!.sessionId;
    await laptop.join({ room: "/chat" });
    const reader = connectClient(b.baseUrl, await signTestToken(TEST_SECRET, { sub: "bob" }));
    const view = async () => (await reader.getPresence({ room: "/chat" })).view!.users[0]!;
    const state = async () => (await reader.getUserStatus({ userIds: ["ana"] })).statuses[0]!;
    expect((await view()).connections.map((c) => c.activity)).toEqual([Activity.ACTIVE, Activity.ACTIVE]);

    const set = await phone.setStatus({ sessionId: p, presence: PresenceOverride.AWAY });
    expect(set.status).toMatchObject({ state: UserState.AWAY, presenceOverride: PresenceOverride.AWAY });
    await until(async () => (await view()).connections.every((c) => c.activity === Activity.AWAY), "both devices away");
    expect(await state()).toMatchObject({ state: UserState.AWAY, presenceOverride: PresenceOverride.UNSPECIFIED }); // others never see the override itself
    // Activity on a device does not lift a manual away.
    await laptop.heartbeat({ sessionId: (await laptop.join({ room: "/chat" })).session!.sessionId, activity: Activity.ACTIVE });
    expect((await state()).state).toBe(UserState.AWAY);
    // A new device of a manually away user shows away too.
    const tablet = connectClient(a.baseUrl, token);
    const joined = (await tablet.join({ room: "/chat" })).session!;
    const t = joined.sessionId;
    const tabletShows = async () => (await view()).connections.find((c) => c.connectionId === joined.connectionId)?.activity;
    await until(async () => (await tabletShows()) === Activity.AWAY, "the new device away");
    await tablet.leave({ sessionId: t, room: "/chat" });

    await phone.setStatus({ sessionId: p, presence: PresenceOverride.AUTO });
    await until(async () => (await view()).connections.every((c) => c.activity === Activity.ACTIVE), "back to the computed activity");
    expect((await state()).state).toBe(UserState.ONLINE);
    // A manual online keeps the user online while every device reports away.
    await phone.setStatus({ sessionId: p, presence: PresenceOverride.ONLINE });
    await phone.heartbeat({ sessionId: p, activity: Activity.AWAY });
    expect((await state()).state).toBe(UserState.ONLINE);
  });
});
