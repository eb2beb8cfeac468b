import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createFakeClock, type FakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { createMemoryPresenceStore } from "../../src/store/memory/memory-store.js";
import { createRedisPresenceStore } from "../../src/store/redis/create-redis-store.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { stepArbitrary, type Step } from "./model-commands.js";
import { runStep } from "./model-runner.js";
import { createMemoryRoomLifecycle } from "../../src/store/memory/memory-room-lifecycle.js";
import { MODEL_AWAY, MODEL_LIMITS, MODEL_ROOM_LIMITS, MODEL_TIMINGS, ModelWorld, type StoreNode } from "./model-world.js";

/**
 * Model-based tests (issue 10): random sequences of operations (join, reclaim, request-id retries,
 * leave, navigate, heartbeat with activity changes, attach, release, node refresh, status changes,
 * kicks, clock advances past the TTL, reaping; issue 12's transitions: scopes, typed presence on
 * join and UpdatePresence, activity signals, the away sweep by the clock (default, scope and managed
 * room thresholds), manual presence set and cleared, managed rooms created with a participant limit,
 * their threshold updated, ended (model-seeds-commands.ts); and concurrent pairs, on two nodes for
 * Redis) run against the pure presence model (src/core/presence-model.ts, presence-seeds.ts) and a
 * store; after every step the outcome, every room's view (epoch, version, counts, members with
 * their last activity and typed presence), every user's status, every quota key's session count
 * and the commits must match. fast-check shrinks a failure to a minimal sequence and
 * prints it with the seed to replay it.
 *
 * CI size by default (a fixed seed, a few dozen runs per store); a longer run:
 *   PRESENCE_MODEL_RUNS=2000 PRESENCE_MODEL_SEED=$RANDOM npx vitest run test/model
 */
const SEED = Number(process.env.PRESENCE_MODEL_SEED ?? 20261207);
const RUNS = process.env.PRESENCE_MODEL_RUNS === undefined ? undefined : Number(process.env.PRESENCE_MODEL_RUNS);
const MAX_STEPS = Number(process.env.PRESENCE_MODEL_STEPS ?? 40);

async function check(nodes: number, runs: number, make: (clock: FakeClock) => Promise<StoreNode[]>): Promise<void> {
  const steps = fc.array(stepArbitrary(nodes), { minLength: 1, maxLength: MAX_STEPS });
  await fc.assert(
    fc.asyncProperty(steps, async (list: Step[]) => {
      const clock = createFakeClock(Date.now());
      const stores = await make(clock);
      try {
        const world = new ModelWorld(clock, stores);
        for (const step of list) await runStep(world, step);
      } finally {
        await Promise.all(stores.map((s) => s.store.close()));
      }
    }),
    { seed: SEED, numRuns: RUNS ?? runs, endOnFailure: false },
  );
}

describe("store model: memory store", () => {
  it("agrees with the pure model on random sequences", async () => {
    await check(1, 300, async (clock) => {
      const rooms = createMemoryRoomLifecycle({ clock, limits: MODEL_ROOM_LIMITS });
      const store = createMemoryPresenceStore({ clock, ids: createIdSource((n) => randomBytes(n)), timings: MODEL_TIMINGS, limits: MODEL_LIMITS, awayPolicy: MODEL_AWAY, managedRooms: rooms });
      return [{ store, rooms, settle: async () => {} }];
    });
  }, 120_000);
});

function redisNodes(conn: () => { url?: string; clusterSeeds?: string[] }) {
  return async (clock: FakeClock): Promise<StoreNode[]> => {
    const prefix = `m${randomBytes(4).toString("hex")}`;
    const node = async (nodeId: string) => {
      const store = await createRedisPresenceStore(
        { ...conn(), prefix, commandTimeoutMs: 5_000, connectTimeoutMs: 10_000, scopeShards: 16 },
        { clock, ids: createIdSource((n) => randomBytes(n)), timings: MODEL_TIMINGS, limits: MODEL_LIMITS, fixedTime: true, nodeId, awayPolicy: MODEL_AWAY },
      );
      return { store, rooms: store.roomLifecycle(MODEL_ROOM_LIMITS), settle: () => store.settleForTests() };
    };
    return [await node("n0"), await node("n1")];
  };
}

describe("store model: standalone Redis (two nodes)", () => {
  let redis: RedisInstance;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  it("agrees with the pure model on random sequences", async () => {
    await check(2, 100, redisNodes(() => ({ url: redis.url })));
  }, 300_000);
});

describe("store model: Redis Cluster (3 masters, two nodes)", () => {
  let cluster: RedisClusterInstance;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  it("agrees with the pure model on random sequences", async () => {
    await check(2, 40, redisNodes(() => ({ clusterSeeds: cluster.seeds.split(",") })));
  }, 300_000);
});
