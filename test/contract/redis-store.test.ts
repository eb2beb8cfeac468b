import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import { createRedisPresenceStore } from "../../src/store/redis/create-redis-store.js";
import type { RedisPresenceStore } from "../../src/store/redis/redis-store.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { presenceStoreContract } from "./presence-store.contract.js";

/**
 * The same PresenceStore contract as the memory store, against a real standalone Redis and a real
 * 3-master Redis Cluster started for this file. Scripts take their time from the suite's fake
 * clock (`fixedTime`), so expiry is tested without sleeping; the room retention is a real Redis
 * TTL, shortened to 200 ms. Each test gets its own key prefix.
 */
const RETENTION_MS = 200;
const open: RedisPresenceStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

function harness(conn: () => { url?: string; clusterSeeds?: string[] }) {
  return async () => {
    const clock = createFakeClock(Date.now());
    const store = await createRedisPresenceStore(
      { ...conn(), prefix: `t${randomBytes(4).toString("hex")}`, commandTimeoutMs: 2_000, connectTimeoutMs: 10_000, scopeShards: 16 },
      {
        clock,
        ids: createIdSource((n) => randomBytes(n)),
        timings: { ...DEFAULT_TIMINGS, heartbeatIntervalMs: 100, sessionTtlMs: 300, nodeRefreshMs: 100, roomRetentionMs: RETENTION_MS },
        limits: DEFAULT_LIMITS,
        fixedTime: true,
      },
    );
    open.push(store);
    return {
      store,
      clock,
      settle: () => store.settleForTests(),
      expireIdleRoom: () => new Promise<void>((r) => setTimeout(r, RETENTION_MS + 150)),
      exactRoomStats: false,
      memoryEstimated: false,
    };
  };
}

describe("PresenceStore contract: standalone Redis", () => {
  let redis: RedisInstance;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  presenceStoreContract(harness(() => ({ url: redis.url })));
});

describe("PresenceStore contract: Redis Cluster (3 masters)", () => {
  let cluster: RedisClusterInstance;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  presenceStoreContract(harness(() => ({ clusterSeeds: cluster.seeds.split(",") })));
});
