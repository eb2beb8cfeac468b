import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import { createRedisPresenceStore } from "../../src/store/redis/create-redis-store.js";
import { createKeys } from "../../src/store/redis/keys.js";
import type { RedisPresenceStore } from "../../src/store/redis/redis-store.js";
import { QUOTA_CHECK_AFTER_TTLS } from "../../src/store/redis/session-scripts.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";

/**
 * The `sessions` quota on Redis (redis-session-quota.ts): one sorted set per quota key, checked in
 * the step that creates a session. What the store contract cannot show: a leftover entry (on
 * Cluster a node can die between a session's end and its removal from the set) holds a place for at
 * most QUOTA_CHECK_AFTER_TTLS TTLs and is then freed by the next refused Join, while live entries
 * stay; and sessions re-asserted after a data loss are counted once. Time is the fake clock.
 */
const TTL = 300;
const user = (id: string) => ({ kind: "user" as const, user: { userId: id, name: id, avatarUrl: "", metadata: {} } });
const open: RedisPresenceStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function node(conn: { url?: string; clusterSeeds?: string[] }) {
  const clock = createFakeClock(Date.now());
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const store = await createRedisPresenceStore(
    { ...conn, prefix, commandTimeoutMs: 2_000, connectTimeoutMs: 10_000, scopeShards: 16 },
    { clock, ids: createIdSource((n) => randomBytes(n)), timings: { ...DEFAULT_TIMINGS, sessionTtlMs: TTL, heartbeatIntervalMs: 100 }, limits: DEFAULT_LIMITS, fixedTime: true },
  );
  open.push(store);
  return { store, clock, keys: createKeys(prefix) };
}

function quotaCases(name: string, setup: () => Promise<{ conn: { url?: string; clusterSeeds?: string[] }; client: () => Redis | Cluster; flushAll: () => Promise<void> }>) {
  describe(name, () => {
    let env: Awaited<ReturnType<typeof setup>>;
    beforeAll(async () => {
      env = await setup();
    }, 30_000);

    it("a leftover entry holds a place for at most two TTLs; the next refused Join frees it and keeps the live ones", async () => {
      const { store, clock, keys } = await node(env.conn);
      const join = (id: string) => store.join({ room: "q", ownerKey: "s:svc", identity: user(id), metadata: {}, maxSessions: 3 });
      const live = [await join("a"), await join("b")].map((j) => ({ sessionId: j.session.sessionId, ownerKey: "s:svc" }));
      const set = keys.quota("s:svc");
      // A session that ended without leaving the set (its id has no session record).
      await env.client().zadd(set, clock.now() + QUOTA_CHECK_AFTER_TTLS * TTL, "Aleftover0000000000000");
      expect(await store.countSessions("s:svc")).toBe(3);
      await expect(join("c")).rejects.toMatchObject({ reason: "QUOTA_EXCEEDED", detail: { field: "sessions", limit: 3, actual: 4 } });
      // Not yet due: the entry could be a Join in flight. The live sessions are kept alive meanwhile.
      for (let t = 0; t < QUOTA_CHECK_AFTER_TTLS * 2; t++) {
        clock.advance(TTL / 2);
        for (const ref of live) await store.heartbeat(ref);
        if (t < QUOTA_CHECK_AFTER_TTLS * 2 - 1) await expect(join("c")).rejects.toMatchObject({ reason: "QUOTA_EXCEEDED" });
      }
      clock.advance(1);
      for (const ref of live) await store.heartbeat(ref);
      expect(await join("c")).toMatchObject({ sessionCreated: true }); // the leftover was checked and freed
      expect(await env.client().zscore(set, "Aleftover0000000000000")).toBeNull();
      expect(await store.countSessions("s:svc")).toBe(3);
      // The live entries were checked too: next checked two TTLs from now, so a refusal now reads nothing.
      for (const ref of live) expect(Number(await env.client().zscore(set, ref.sessionId))).toBe(clock.now() + QUOTA_CHECK_AFTER_TTLS * TTL);
      await expect(join("d")).rejects.toMatchObject({ reason: "QUOTA_EXCEEDED" });
    });

    it("sessions re-asserted after a data loss are counted once, and the quota holds afterwards", async () => {
      const { store, keys } = await node(env.conn);
      const join = (id: string) => store.join({ room: "dl", ownerKey: "s:dl", identity: user(id), metadata: {}, maxSessions: 2 });
      const refs = [await join("a"), await join("b")].map((j) => ({ sessionId: j.session.sessionId, ownerKey: "s:dl" }));
      await env.flushAll();
      for (const ref of refs) await store.heartbeat(ref); // finds its session gone, re-asserts
      expect(await store.countSessions("s:dl")).toBe(2);
      await expect(join("c")).rejects.toMatchObject({ reason: "QUOTA_EXCEEDED" });
      // The session buckets lose their data, the quota set survives: re-asserting adds nothing.
      for (const ref of refs) {
        const n = keys.bucketOf(ref.sessionId);
        const b = keys.bucket(n);
        await env.client().del(b.expiry, b.sessions, b.seqs, b.owners, b.away, keys.sessionRooms(ref.sessionId), keys.incarnation(n));
      }
      expect(await store.countSessions("s:dl")).toBe(2);
      for (const ref of refs) await store.heartbeat(ref);
      expect(await store.countSessions("s:dl")).toBe(2);
      await store.leave({ ...refs[0]!, room: "dl", reason: "left" });
      expect(await join("c")).toMatchObject({ sessionCreated: true });
    });
  });
}

let redis: RedisInstance;
let cluster: RedisClusterInstance;
afterAll(async () => {
  await redis?.stop();
  await cluster?.stop();
});

quotaCases("sessions quota: standalone Redis", async () => {
  redis = await startRedis();
  return { conn: { url: redis.url }, client: () => redis.client(), flushAll: async () => void (await redis.cli("FLUSHALL")) };
});

quotaCases("sessions quota: Redis Cluster (3 masters)", async () => {
  cluster = await startRedisCluster({ masters: 3 });
  const client = cluster.client();
  return { conn: { clusterSeeds: cluster.seeds.split(",") }, client: () => client, flushAll: async () => void (await Promise.all(cluster.nodes.map((n) => n.cli("FLUSHALL")))) };
});
