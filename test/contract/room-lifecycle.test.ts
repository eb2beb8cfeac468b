import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createMemoryRoomLifecycle } from "../../src/store/memory/memory-room-lifecycle.js";
import { createRedisRoomLifecycle } from "../../src/store/redis/redis-room-lifecycle.js";
import { loadScripts } from "../../src/store/redis/scripts.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { roomLifecycleContract } from "./room-lifecycle.contract.js";

/** The RoomLifecycleStore contract on the memory store, a real Redis and a real 3-master Cluster (script time from the test's clock). */
const limits = { maxParticipants: 100_000, defaultIdleTimeoutMs: 86_400_000, tombstoneMs: 600_000 };

describe("RoomLifecycleStore contract: memory", () => {
  roomLifecycleContract(async () => {
    const clock = createFakeClock();
    return { clock, store: createMemoryRoomLifecycle({ clock, limits }) };
  });
});

function redisLifecycle(client: () => Redis | Cluster) {
  return async () => {
    const clock = createFakeClock(Date.now());
    const c = client();
    const scripts = loadScripts(c, () => {});
    const store = createRedisRoomLifecycle({
      client: c,
      prefix: `t${randomBytes(4).toString("hex")}`,
      limits,
      run: (n, k, a) => scripts.run(n, k, a),
      cmd: (_n, fn) => fn(),
      nowArg: () => String(clock.now()),
      nowMs: () => clock.now(),
    });
    return { clock, store };
  };
}

describe("RoomLifecycleStore contract: standalone Redis", () => {
  let redis: RedisInstance;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = redis.client();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  roomLifecycleContract(redisLifecycle(() => client));
});

describe("RoomLifecycleStore contract: Redis Cluster (3 masters)", () => {
  let cluster: RedisClusterInstance;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = cluster.client();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  roomLifecycleContract(redisLifecycle(() => client));
});
