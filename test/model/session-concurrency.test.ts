import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { PresenceError } from "../../src/core/presence-error.js";
import { createRedisPresenceStore } from "../../src/store/redis/create-redis-store.js";
import { createKeys } from "../../src/store/redis/keys.js";
import type { RedisPresenceStore } from "../../src/store/redis/redis-store.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { MODEL_LIMITS, MODEL_TIMINGS, ROOMS } from "./model-world.js";

/**
 * Concurrent membership calls on ONE session (joins, leaves, navigations racing on two nodes, the
 * way a client that retries on another node, or a page and a backend sharing a session, produce
 * them). Their steps (session script, room script, session script) interleave, so they are not
 * serializable (a join overtaken by a later leave of the same session is dropped instead of
 * flickering in and out); store-model.test.ts therefore runs such pairs one after the other, and
 * this property checks what must hold anyway (model counterexample 3 broke it):
 * - every room member of the session is listed by the session (so the reaper can find it);
 * - once the session expires, one reap empties every room, ends the session and the user's status.
 */
const SEED = Number(process.env.PRESENCE_MODEL_SEED ?? 20261207);
const RUNS = process.env.PRESENCE_MODEL_RUNS === undefined ? undefined : Number(process.env.PRESENCE_MODEL_RUNS);
const ana = { kind: "user" as const, user: { userId: "ana", name: "Ana", avatarUrl: "", metadata: {} } };

type Call = { op: "join" | "leave"; room: number; node: number } | { op: "navigate"; from: number; to: number; node: number };

const call: fc.Arbitrary<Call> = fc.oneof(
  fc.record({ op: fc.constantFrom("join" as const, "leave" as const), room: fc.nat({ max: ROOMS.length - 1 }), node: fc.nat({ max: 1 }) }),
  fc.record({ op: fc.constant("navigate" as const), from: fc.integer({ min: -1, max: ROOMS.length - 1 }), to: fc.nat({ max: ROOMS.length - 1 }), node: fc.nat({ max: 1 }) }),
);

async function check(conn: () => { url?: string; clusterSeeds?: string[] }, hkeys: (key: string) => Promise<string[]>, runs: number): Promise<void> {
  const batches = fc.array(fc.array(call, { minLength: 2, maxLength: 3 }), { minLength: 1, maxLength: 6 });
  await fc.assert(
    fc.asyncProperty(batches, async (list) => {
      const clock = createFakeClock(Date.now());
      const prefix = `c${randomBytes(4).toString("hex")}`;
      const make = (nodeId: string) =>
        createRedisPresenceStore({ ...conn(), prefix, commandTimeoutMs: 5_000, connectTimeoutMs: 10_000, scopeShards: 16 }, { clock, ids: createIdSource((n) => randomBytes(n)), timings: MODEL_TIMINGS, limits: MODEL_LIMITS, fixedTime: true, nodeId });
      const nodes: RedisPresenceStore[] = [await make("n0"), await make("n1")];
      try {
        const first = await nodes[0]!.join({ room: ROOMS[0]!, ownerKey: "u:ana", identity: ana, metadata: {} });
        const ref = { sessionId: first.session.sessionId, ownerKey: "u:ana" };
        const run = (c: Call) => {
          const store = nodes[c.node]!;
          if (c.op === "navigate") return store.navigate({ ...ref, fromRoom: c.from < 0 ? "" : ROOMS[c.from]!, toRoom: ROOMS[c.to]!, metadata: {} });
          if (c.op === "join") return store.join({ ...ref, room: ROOMS[c.room]!, identity: ana, metadata: {} });
          return store.leave({ ...ref, room: ROOMS[c.room]!, reason: "left" });
        };
        for (const batch of list) {
          const results = await Promise.allSettled(batch.map(run));
          for (const r of results) if (r.status === "rejected" && !(r.reason instanceof PresenceError)) throw r.reason;
          const listed = await hkeys(createKeys(prefix).sessionRooms(ref.sessionId));
          for (const room of ROOMS) {
            const v = await nodes[0]!.getView(room, { includeMembers: true });
            const member = v.users.some((u) => u.connections.some((m) => m.connectionId === first.session.connectionId));
            if (member) expect(listed, `${room}: a member its session does not list (a ghost once it expires)`).toContain(room);
          }
          if (listed.length === 0) break; // the session ended with its last room
        }
        clock.advance(MODEL_TIMINGS.sessionTtlMs + 1);
        await nodes[1]!.reap();
        for (const room of ROOMS) expect((await nodes[0]!.getView(room, { includeMembers: false })).counts.connections, room).toBe(0);
        expect(await nodes[0]!.countSessions("u:ana")).toBe(0);
        expect((await nodes[0]!.getUserStatus(["ana"]))[0]!.state).toBe("offline");
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    }),
    { seed: SEED, numRuns: RUNS ?? runs },
  );
}

describe("concurrent membership calls on one session", () => {
  describe("standalone Redis", () => {
    let redis: RedisInstance;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });
    it("never leave a member its session does not list, and one reap after expiry empties every room", async () => {
      const client = redis.client();
      await check(() => ({ url: redis.url }), (key) => client.hkeys(key), 60);
    }, 300_000);
  });

  describe("Redis Cluster (3 masters)", () => {
    let cluster: RedisClusterInstance;
    beforeAll(async () => {
      cluster = await startRedisCluster({ masters: 3 });
    }, 30_000);
    afterAll(async () => {
      await cluster?.stop();
    });
    it("never leave a member its session does not list, and one reap after expiry empties every room", async () => {
      const client = cluster.client();
      await check(() => ({ clusterSeeds: cluster.seeds.split(",") }), (key) => client.hkeys(key), 30);
    }, 300_000);
  });
});
