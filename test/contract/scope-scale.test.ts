import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScopeStore } from "../../src/store/ports/scope-store.js";
import { createMemoryScopeStore } from "../../src/store/memory/memory-scope-store.js";
import { createRedisScopeStore } from "../../src/store/redis/redis-scope-store.js";
import { loadScripts } from "../../src/store/redis/scripts.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";

/**
 * 100,000 users in one scope (the zones seed's "global" and its big zones): CountOnline's cost in
 * Redis commands and time, and ListOnline(page_size = 50) latency over a walk's first pages, on the
 * memory store and a real Redis. The figures are printed (they are stated, not asserted as timings:
 * speed is measured in bench/); what is asserted is the cost in commands and that pages are right.
 * PRESENCE_SCOPE_SCALE_USERS changes the size (default 100,000).
 */
const USERS = Number(process.env.PRESENCE_SCOPE_SCALE_USERS ?? 100_000);

async function fill(s: ScopeStore, scope: string) {
  const batch: Promise<void>[] = [];
  for (let i = 0; i < USERS; i++) {
    batch.push(s.addSession(`s${i}`, { userId: `user-${i}`, name: `User ${i}`, avatarUrl: "", metadata: {} }, [scope], 1_700_000_000_000 + i));
    if (batch.length === 2_000) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
}

async function measure(s: ScopeStore, scope: string, label: string, commands?: () => Promise<number>) {
  const c0 = commands ? await commands() : 0;
  const t0 = performance.now();
  const [count] = await s.count([scope]);
  const countMs = performance.now() - t0;
  const countCommands = commands ? (await commands()) - c0 - 1 : 0; // minus the INFO call itself
  expect(count).toEqual({ scope, users: USERS, connections: USERS });
  const lat: number[] = [];
  let after = null;
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    const page = await s.list(scope, 50, after);
    lat.push(performance.now() - t);
    expect(page.entries).toHaveLength(50);
    expect(page.entries[0]!.userId).toBe(`user-${USERS - 1 - i * 50}`);
    after = page.entries[49]!;
  }
  lat.sort((a, b) => a - b);
  const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!.toFixed(2);
  console.log(`${label}: ${USERS} users in one scope; CountOnline ${countMs.toFixed(2)} ms${commands ? ` (${countCommands} Redis commands: ZCARD + HLEN per shard)` : ""}; ListOnline(page_size=50) p50 ${p(0.5)} ms, p99 ${p(0.99)} ms over 40 pages`);
  return countCommands;
}

describe(`${USERS} users in one scope`, () => {
  it("memory store: counts are O(1), pages O(log n + page)", async () => {
    const s = createMemoryScopeStore();
    await fill(s, "zone:big");
    await measure(s, "zone:big", "memory");
  }, 120_000);

  describe("Redis", () => {
    let redis: RedisInstance;
    let client: Redis;
    beforeAll(async () => {
      redis = await startRedis();
      client = redis.client();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("counts with 2 commands per shard (32 for 16 shards), pages with a few per shard", async () => {
      const scripts = loadScripts(client, () => {});
      const s = createRedisScopeStore({ client, prefix: `t${randomBytes(4).toString("hex")}`, shards: 16, run: (n, k, a) => scripts.run(n, k, a), cmd: (_n, fn) => fn() });
      await fill(s, "zone:big");
      const info = async () => Number(/total_commands_processed:(\d+)/.exec(await client.info("stats"))![1]);
      const n = await measure(s, "zone:big", "redis", info);
      expect(n).toBe(32);
    }, 300_000);
  });
});
