import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import { createRedisPresenceStore } from "../../src/store/redis/create-redis-store.js";
import type { RedisPresenceStore } from "../../src/store/redis/redis-store.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";

/**
 * F-C4 (reliability.md): a client retries its first Join (same request id) on another node while
 * the first try is still in flight. Both tries must end in one session: the same session id and
 * connection, one `joined` event, one session counted for the owner. Before the de-duplication
 * moved into the session script, the loser of `SET NX GET` opened the winner's session id before
 * the winner had created it, found nothing, and created a second session.
 */
const user = (id: string) => ({ kind: "user" as const, user: { userId: id, name: id, avatarUrl: "", metadata: {} } });
const open: RedisPresenceStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function twoNodes(conn: { url?: string; clusterSeeds?: string[] }) {
  const clock = createFakeClock(Date.now());
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const make = async (nodeId: string) => {
    const s = await createRedisPresenceStore(
      { ...conn, prefix, commandTimeoutMs: 2_000, connectTimeoutMs: 10_000, scopeShards: 16 },
      { clock, ids: createIdSource((n) => randomBytes(n)), timings: DEFAULT_TIMINGS, limits: DEFAULT_LIMITS, fixedTime: true, nodeId },
    );
    open.push(s);
    return s;
  };
  return { clock, a: await make("a"), b: await make("b") };
}

function dedupeRace(conn: () => { url?: string; clusterSeeds?: string[] }) {
  return async () => {
    const { a, b } = await twoNodes(conn());
    const joined: string[] = [];
    a.onCommit((c) => c.type === "room_event" && joined.push(c.event.kind));
    b.onCommit((c) => c.type === "room_event" && joined.push(c.event.kind));
    const tries = 40;
    for (let i = 0; i < tries; i++) {
      const input = { room: `r${i}`, ownerKey: `u:p${i}`, identity: user(`p${i}`), metadata: {}, requestId: `req-${i}` };
      const [x, y] = await Promise.all([a.join(input), b.join(input)]);
      expect(y.session, `try ${i}`).toEqual(x.session);
      expect([x.sessionCreated, y.sessionCreated].sort(), `try ${i}`).toEqual([false, true]);
      expect(await a.countSessions(`u:p${i}`), `try ${i}`).toBe(1);
      expect((await a.getView(`r${i}`, { includeMembers: false })).counts.connections, `try ${i}`).toBe(1);
    }
    expect(joined.filter((k) => k === "joined")).toHaveLength(tries);
  };
}

describe("F-C4 concurrent retries of a first Join on two nodes", () => {
  describe("standalone Redis", () => {
    let redis: RedisInstance;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });
    it("make one session", dedupeRace(() => ({ url: redis.url })), 60_000);
  });

  describe("Redis Cluster (3 masters)", () => {
    let cluster: RedisClusterInstance;
    beforeAll(async () => {
      cluster = await startRedisCluster({ masters: 3 });
    }, 30_000);
    afterAll(async () => {
      await cluster?.stop();
    });
    it("make one session", dedupeRace(() => ({ clusterSeeds: cluster.seeds.split(",") })), 60_000);
  });
});
