import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import { QUOTA_SPEC } from "../../src/config.js";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { connectWs, type WsTestClient } from "../support/ws-client.js";

/**
 * The `sessions` quota of anonymous callers (docs/security.md), per remote address: sessions carry
 * the quota key `a:<address>` they were made under, and the store counts them by it. With real
 * clients from two source addresses on loopback: one address's sessions over Connect and the
 * WebSocket bridge count together; the one past PRESENCE_ANON_QUOTA_SESSIONS (256) is refused with
 * resource_exhausted / QUOTA_EXCEEDED naming the quota, while another address is served; a session
 * that ends gives its place back. On the memory store and on Redis. The call-rate quota is lifted so
 * that the sessions quota is the one that refuses.
 */
const servers: TestServer[] = [];
const clients: PresenceClient[] = [];
const sockets: WsTestClient[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const LIMIT = QUOTA_SPEC.anonymous.sessions.default;

for (const store of ["memory", "redis"] as const) {
  describe(`anonymous sessions per address (${store} store)`, () => {
    let redis: RedisInstance | undefined;
    beforeAll(async () => {
      if (store === "redis") redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it(`the ${LIMIT + 1}th anonymous session from one address is refused with QUOTA_EXCEEDED; another address is served`, async () => {
      expect(LIMIT).toBe(256);
      const env: Record<string, string> = { PRESENCE_ANON_QUOTA_REQUESTS_PER_SEC: "1000000", PRESENCE_ANON_QUOTA_REQUEST_BURST: "1000000" };
      if (redis) Object.assign(env, { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` });
      const s = await startTestServer(env);
      servers.push(s);
      const from2 = connectClient(s.baseUrl, undefined, { httpVersion: "2", localAddress: "127.0.0.2" });
      const from1 = connectClient(s.baseUrl, undefined, { httpVersion: "2", localAddress: "127.0.0.1" });
      clients.push(from2, from1);

      // 255 sessions over Connect and one over the WebSocket bridge, all from 127.0.0.2.
      const sids: string[] = [];
      for (let batch = 0; batch < LIMIT - 1; batch += 51) {
        const joins = Array.from({ length: Math.min(51, LIMIT - 1 - batch) }, () => from2.join({ room: "/lobby" }));
        for (const j of await Promise.all(joins)) sids.push(j.session!.sessionId);
      }
      const socket = await connectWs(s.wsUrl, { localAddress: "127.0.0.2" });
      sockets.push(socket);
      expect((await socket.request({ case: "join", value: { room: "/lobby" } })).frame.case).toBe("join");

      // The next one from that address, by either transport, is refused naming the quota.
      const refused = await from2.join({ room: "/lobby" }).catch((e: unknown) => ConnectError.from(e));
      expect(refused).toBeInstanceOf(ConnectError);
      const err = refused as ConnectError;
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "QUOTA_EXCEEDED", metadata: { field: "sessions", limit: String(LIMIT) } });
      expect(err.rawMessage).toMatch(/^quota sessions: at most 256 .*anonymous/);
      const ws2 = await connectWs(s.wsUrl, { localAddress: "127.0.0.2" });
      sockets.push(ws2);
      const wsRefused = await ws2.request({ case: "join", value: { room: "/lobby" } });
      expect(wsRefused.frame.case).toBe("error");
      expect(wsRefused.frame.value).toMatchObject({ reason: ErrorReason.QUOTA_EXCEEDED });
      // Existing sessions are not affected: they heartbeat and join other rooms.
      await from2.heartbeat({ sessionId: sids[0]! });
      await from2.join({ room: "/elsewhere", sessionId: sids[0]! });

      // Another address has its own quota.
      expect((await from1.join({ room: "/lobby" })).session?.sessionId).toBeTruthy();

      // A session that ends gives its place back.
      await from2.leave({ sessionId: sids[1]!, room: "/lobby" });
      expect((await from2.join({ room: "/lobby" })).session?.sessionId).toBeTruthy();
      expect(await from2.join({ room: "/lobby" }).catch((e: unknown) => ConnectError.from(e).code)).toBe(Code.ResourceExhausted);

      const scrape = await (await fetch(`${s.adminUrl}/metrics`)).text();
      expect(scrape).toMatch(/presence_quota_refusals_total\{quota="sessions",caller="anonymous"\} 3/);
    }, 60_000);
  });
}
