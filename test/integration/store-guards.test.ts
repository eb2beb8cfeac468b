import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/*
 * The store guards of issue 11, with real clients against a real server:
 * - the memory guard, on the memory store and on a real Redis: once the store is over its budget
 *   (PRESENCE_STORE_MEMORY_BUDGET_BYTES), joins that would create a session or a room are refused
 *   with resource_exhausted / STORE_OVER_BUDGET, while a session made before keeps heartbeating,
 *   joins a room that exists, and watches;
 * - request-id de-duplication scoped to one anonymous caller and connection: a replayed anonymous
 *   `request_id` from another connection (even with the same anonymous id) gets a new session,
 *   never someone else's session or resume secret, and its Leave cannot touch the first caller.
 */
const servers: TestServer[] = [];
const redises: RedisInstance[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(redises.splice(0).map((r) => r.stop()));
});

function rpc(baseUrl: string, token?: string): Client<typeof PresenceService> {
  const auth = token ? [(next: never) => (req: { header: Headers }) => (req.header.set("authorization", `Bearer ${token}`), (next as (r: unknown) => unknown)(req))] : [];
  const sessionManager = new Http2SessionManager(baseUrl);
  closers.push(() => sessionManager.abort());
  return createClient(PresenceService, createGrpcTransport({ baseUrl, sessionManager, interceptors: auth as never }));
}

const reasonOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0]?.reason;

for (const store of ["memory", "redis"] as const) {
  it(`memory guard on the ${store} store: new rooms and sessions refused past the budget, old sessions keep working`, async () => {
    let env: Record<string, string> = { PRESENCE_STORE_MEMORY_CHECK_MS: "100", PRESENCE_STORE_MEMORY_BUDGET_BYTES: "30000" };
    if (store === "redis") {
      const redis = await startRedis();
      redises.push(redis);
      const used = Number(/used_memory:(\d+)/.exec(await redis.cli("INFO", "memory"))![1]);
      env = { ...env, PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `mg${randomBytes(3).toString("hex")}`, PRESENCE_STORE_MEMORY_BUDGET_BYTES: String(used + 2_000_000) }; // the server itself (scripts, clients) takes some
    }
    const s = await startTestServer(env);
    servers.push(s);
    const ana = rpc(s.baseUrl, await signTestToken(TEST_SECRET, { sub: "ana" }, 600));
    const filler = rpc(s.baseUrl, await signTestToken(TEST_SECRET, { sub: "filler", role: "service" }, 600)); // service quotas: only the guard stops it
    const mine = await ana.join({ room: "/old" });
    const sessionId = mine.session!.sessionId;
    const watch = new AbortController();
    closers.push(() => watch.abort());
    const watched: string[] = [];
    void (async () => {
      for await (const m of ana.watchPresence({ room: "/old" }, { signal: watch.signal })) watched.push(m.message.case ?? "");
    })().catch(() => {});

    // Fill the store with fresh rooms (a new session each) until the guard refuses.
    let refusal: ConnectError | undefined;
    let created = 0;
    for (let i = 0; i < 20_000 && !refusal; i++) {
      try {
        await filler.join({ room: `/fill/${i}`, metadata: { pad: "x".repeat(600) } });
        created++;
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 120)); // let the guard read the store
      } catch (e) {
        refusal = ConnectError.from(e);
      }
    }
    expect(refusal, `still accepted after ${created} rooms`).toBeDefined();
    expect([refusal!.code, reasonOf(refusal)]).toEqual([8, "STORE_OVER_BUDGET"]);
    expect(refusal!.rawMessage).toMatch(/^store: over its memory budget \(\d+ of \d+ bytes\): new (session|room)s are refused for now, existing ones keep working; retry later$/);

    // What existed keeps working: heartbeats, a join of an existing room, typing, the watch.
    await ana.heartbeat({ sessionId });
    await ana.join({ room: "/fill/0", sessionId });
    await ana.setTyping({ sessionId, room: "/old", typing: true });
    expect(watched[0]).toBe("snapshot");
    // What is new is refused: a new session, and a fresh room even for an existing session.
    expect(reasonOf(await ana.join({ room: "/old" }).catch((e: unknown) => e))).toBe("STORE_OVER_BUDGET");
    expect(reasonOf(await ana.join({ room: "/brand-new", sessionId }).catch((e: unknown) => e))).toBe("STORE_OVER_BUDGET");
    const scrape = await (await fetch(`${s.adminUrl}/metrics`)).text();
    const used = Number(/^presence_store_memory_bytes (\d+)/m.exec(scrape)![1]);
    const budget = Number(/^presence_store_memory_budget_bytes (\d+)/m.exec(scrape)![1]);
    expect(used).toBeGreaterThan(budget);
    console.log(`memory guard (${store}): refused after ${created} new rooms; store ${used} bytes, budget ${budget}`);
  });
}

describe("request-id de-duplication of anonymous joins", () => {
  for (const store of ["memory", "redis"] as const) {
    it(`on the ${store} store: a replay from another anonymous connection gets a new session, never someone else's`, async () => {
      let env: Record<string, string> = {};
      if (store === "redis") {
        const redis = await startRedis();
        redises.push(redis);
        env = { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `rq${randomBytes(3).toString("hex")}` };
      }
      const s = await startTestServer(env);
      servers.push(s);
      // Two anonymous callers, each on its own HTTP/1.1 connection (same address, same anonymous id even).
      const conn = () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        closers.push(() => agent.destroy());
        return createClient(PresenceService, createConnectTransport({ baseUrl: s.baseUrl, httpVersion: "1.1", nodeOptions: { agent } }));
      };
      const first = conn();
      const other = conn();
      const a = await first.join({ room: "/a", requestId: "req-1", anonymousId: "anon-x" });
      // The same caller retrying on its connection gets its session back (no second session).
      const retry = await first.join({ room: "/a", requestId: "req-1", anonymousId: "anon-x" });
      expect(retry.session?.sessionId).toBe(a.session?.sessionId);
      // Another connection replaying the id (another room, same anonymous id): a new session.
      const b = await other.join({ room: "/b", requestId: "req-1", anonymousId: "anon-x" });
      expect(b.session?.sessionId).not.toBe(a.session?.sessionId);
      expect(b.session?.resumeSecret).not.toBe(a.session?.resumeSecret);
      expect(b.session?.connectionId).not.toBe(a.session?.connectionId);
      // Its Leave is its own: the first caller is still in its room.
      await other.leave({ sessionId: b.session!.sessionId, room: "/b" });
      expect((await first.getPresence({ room: "/a" })).view?.counts?.anonymous).toBe(1);
      expect((await first.getPresence({ room: "/b" })).view?.counts?.connections).toBe(0);
    });
  }
});
