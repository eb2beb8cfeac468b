import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryScopeStore } from "../../src/store/memory/memory-scope-store.js";
import { createRedisScopeStore, scopeShardKeys } from "../../src/store/redis/redis-scope-store.js";
import { loadScripts } from "../../src/store/redis/scripts.js";
import { keySlot, startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { scopeStoreContract } from "./scope-store.contract.js";

/** The ScopeStore contract on the memory store, a real standalone Redis and a real 3-master Cluster. */
describe("ScopeStore contract: memory", () => {
  scopeStoreContract(async () => createMemoryScopeStore());
});

function redisScopes(client: () => Redis | Cluster) {
  return async () => {
    const c = client();
    const scripts = loadScripts(c, () => {});
    return createRedisScopeStore({ client: c, prefix: `t${randomBytes(4).toString("hex")}`, shards: 16, run: (name, keys, args) => scripts.run(name, keys, args), cmd: (_n, fn) => fn() });
  };
}

describe("ScopeStore contract: standalone Redis", () => {
  let redis: RedisInstance;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    const { Redis } = await import("ioredis");
    client = new Redis(redis.url, { protocol: 2 });
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });
  scopeStoreContract(redisScopes(() => client));
});

describe("ScopeStore contract: Redis Cluster (3 masters)", () => {
  let cluster: RedisClusterInstance;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = cluster.client();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  scopeStoreContract(redisScopes(() => client));

  it("keeps each script call in one slot and spreads a scope's shards over the masters", () => {
    const slots = new Set<number>();
    for (let i = 0; i < 16; i++) {
      const k = scopeShardKeys("pr", "zone:10", i);
      expect(new Set([keySlot(k.users), keySlot(k.sessions), keySlot(k.counts)]).size).toBe(1);
      slots.add(keySlot(k.users));
    }
    expect(slots.size).toBe(16);
  });
});
