import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UserState } from "../../gen/presence/v1/types_pb.js";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * Scopes (scopes.proto) on two nodes sharing a real Redis, and sharing a real 3-master Cluster:
 * after churn (joins on either node, users with two sessions, leaves of the last room, sessions
 * that stop heartbeating and are reaped by whichever node), CountOnline and ListOnline answer the
 * ground truth on both nodes, and a walk returns every user once. Also: the token's scopes, and
 * the refusals (a scope the token does not list, too many, anonymous).
 */
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TIMINGS = { PRESENCE_SESSION_TTL_MS: "1500", PRESENCE_HEARTBEAT_INTERVAL_MS: "500", PRESENCE_REAPER_INTERVAL_MS: "50" };

interface Live {
  userId: string;
  sessionId: string;
  room: string;
  client: PresenceClient;
  scopes: string[];
}

function scenarios(name: string, storeEnv: () => Record<string, string>, shared: boolean) {
  describe(`scopes: ${name}`, () => {
    async function twoNodes() {
      const env = { ...storeEnv(), ...TIMINGS };
      const a = await startTestServer(env);
      const b = shared ? await startTestServer(env) : a; // the embedded store is one process
      servers.push(...new Set([a, b]));
      const service = await signTestToken(TEST_SECRET, { sub: "backend", role: "service" });
      return { a, b, svcA: connectClient(a.baseUrl, service), svcB: connectClient(b.baseUrl, service) };
    }

    it("counts and lists equal the ground truth after churn, on both nodes", async () => {
      const { svcA, svcB } = await twoNodes();
      const live: Live[] = [];
      const join = async (client: PresenceClient, i: number, room: string) => {
        const userId = `user-${String(i).padStart(2, "0")}`;
        const scopes = [`zone:${i % 3}`, `org:${i % 2}`];
        const j = await client.join({ room, onBehalfOf: { userId, name: `User ${i}` }, scopes });
        expect(j.scopes).toEqual(scopes);
        live.push({ userId, sessionId: j.session!.sessionId, room, client, scopes });
      };
      // Heartbeats from the first join on (36 joins may outlast the 1.5 s TTL on a loaded machine).
      const keepAlive = setInterval(() => {
        for (const s of live) void s.client.heartbeat({ sessionId: s.sessionId }).catch(() => undefined);
      }, 250);
      try {
        for (let i = 0; i < 30; i++) {
          await join(i % 2 === 0 ? svcA : svcB, i, `/lobby/${i % 4}`);
          if (i % 5 === 0) await join(i % 2 === 0 ? svcB : svcA, i, "/elsewhere"); // a second device, other node
        }
        const leaving = live.filter((_, k) => k % 4 === 1);
        const silent = live.filter((s, k) => k % 7 === 3 && !leaving.includes(s));
        for (const s of leaving) expect((await s.client.leave({ sessionId: s.sessionId, room: s.room })).left).toBe(true);
        const staying = live.filter((s) => !leaving.includes(s) && !silent.includes(s));
        live.length = 0;
        live.push(...staying); // the silent ones get no more heartbeats: reaped after the TTL
        await sleep(2_500);
        const truth = (scope: string) => {
          const ss = live.filter((s) => scope === "" || s.scopes.includes(scope));
          return { scope, users: new Set(ss.map((s) => s.userId)).size, connections: ss.length };
        };
        const asked = ["zone:0", "zone:1", "zone:2", "org:0", "org:1"];
        for (const client of [svcA, svcB]) {
          const c = await client.countOnline({ scopes: [...asked, "zone:9"] });
          expect(c.scopes.map((x) => ({ scope: x.scope, users: x.users, connections: x.connections }))).toEqual([...asked.map(truth), { scope: "zone:9", users: 0, connections: 0 }]);
          expect({ scope: c.global!.scope, users: c.global!.users, connections: c.global!.connections }).toEqual(truth(""));
          for (const scope of ["zone:1", ""]) {
            const seen: string[] = [];
            let token = "";
            do {
              const page = await client.listOnline({ scope, pageSize: 4, pageToken: token });
              for (const u of page.users) {
                expect(u.state).toBe(UserState.ONLINE);
                expect(u.user?.name).toBe(`User ${Number(u.user!.userId.slice(5))}`);
              }
              seen.push(...page.users.map((u) => u.user!.userId));
              token = page.nextPageToken;
            } while (token !== "");
            expect(new Set(seen).size).toBe(seen.length); // never twice in one walk
            expect(new Set(seen)).toEqual(new Set(live.filter((s) => scope === "" || s.scopes.includes(scope)).map((s) => s.userId)));
          }
        }
      } finally {
        clearInterval(keepAlive);
      }
    });

    it("takes a user's scopes from the token and refuses scopes it does not list", async () => {
      const { svcA, a } = await twoNodes();
      void svcA;
      const ana = connectClient(a.baseUrl, await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana", scopes: ["zone:7", "org:1"] }));
      expect((await ana.join({ room: "/z" })).scopes).toEqual(["zone:7", "org:1"]);
      expect((await ana.join({ room: "/z2", scopes: ["org:1"] })).scopes).toEqual(["org:1"]);
      const denied = await ana.join({ room: "/z3", scopes: ["zone:8"] }).catch((e: unknown) => e);
      expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
      expect((denied as ConnectError).rawMessage).toBe('scopes[0]: scope "zone:8" is not in the caller\'s token');
      const anon = await connectClient(a.baseUrl).join({ room: "/z", scopes: ["zone:7"] }).catch((e: unknown) => e);
      expect((anon as ConnectError).code).toBe(Code.PermissionDenied);
      const svc = connectClient(a.baseUrl, await signTestToken(TEST_SECRET, { sub: "backend", role: "service" }));
      const many = await svc.join({ room: "/z", onBehalfOf: { userId: "bob" }, scopes: Array.from({ length: 9 }, (_, i) => `s:${i}`) }).catch((e: unknown) => e);
      expect((many as ConnectError).code).toBe(Code.ResourceExhausted);
      expect((many as ConnectError).rawMessage).toBe("scopes: must be at most 8 scopes per session (got 9)");
      const count = await svc.countOnline({ scopes: ["zone:7", "org:1"] });
      expect(count.scopes.map((s) => [s.scope, s.users, s.connections])).toEqual([["zone:7", 1, 1], ["org:1", 1, 2]]);
    });
  });
}

let redis: RedisInstance;
let cluster: RedisClusterInstance;
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});
scenarios("one node on the memory store", () => ({}), false);
scenarios("two nodes on a standalone Redis", () => ({ PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` }), true);
scenarios("two nodes on a 3-master Redis Cluster", () => ({ PRESENCE_REDIS_CLUSTER: cluster.seeds, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` }), true);
