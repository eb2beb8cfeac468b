import type { TrackedKeyRecord, TrackerStore } from "../ports/tracker-store.js";
import type { RedisContext } from "./redis-context.js";

/**
 * The TrackerStore on Redis: one hash per tracker, `<prefix>:{t:<name>}` (its own slot on Cluster),
 * field `secret` = the secret's hash, `holder` = the stream holding it, fields `k:<key>` = the key's record (JSON); the hash's TTL is
 * the tracker's expiry. Creation is HSETNX + PEXPIRE; a key's record is HSET + PEXPIRE in one
 * MULTI (one slot), so the hash never outlives its TTL; a record written into an expired tracker
 * makes a hash without `secret`, which reads as no tracker and expires. The other calls are single
 * commands (auto-pipelined): a tracker costs one extra round trip per track / untrack and one
 * PEXPIRE per node refresh. No Lua: every step is one key.
 */
export function createRedisTrackerStore(ctx: RedisContext): TrackerStore {
  const key = (name: string) => `${ctx.prefix}:{t:${name}}`;
  return {
    async createTracker(name, secretHash, ttlMs) {
      const k = key(name);
      const created = await ctx.cmd("hsetnx", () => ctx.client.hsetnx(k, "secret", secretHash));
      if (created === 1) await ctx.cmd("pexpire", () => ctx.client.pexpire(k, ttlMs));
      return created === 1;
    },
    async loadTracker(name) {
      const flat = await ctx.cmd("hgetall", () => ctx.client.hgetall(key(name)));
      if (flat.secret === undefined) return null;
      const keys = new Map<string, TrackedKeyRecord>();
      for (const [field, value] of Object.entries(flat)) if (field.startsWith("k:")) keys.set(field.slice(2), JSON.parse(value) as TrackedKeyRecord);
      return { secretHash: flat.secret, keys };
    },
    async putTrackedKey(name, k, record, ttlMs) {
      const h = key(name);
      await ctx.cmd("multi", () => ctx.client.multi().hset(h, `k:${k}`, JSON.stringify(record)).pexpire(h, ttlMs).exec());
    },
    async setTrackerHolder(name, holder, ttlMs) {
      const h = key(name);
      // Only into a tracker that exists (one with its secret): HSET alone would make a hash without a TTL.
      const exists = await ctx.cmd("hexists", () => ctx.client.hexists(h, "secret"));
      if (exists === 1) await ctx.cmd("multi", () => ctx.client.multi().hset(h, "holder", holder).pexpire(h, ttlMs).exec());
    },
    async trackerHolders(names) {
      return Promise.all(names.map((n) => ctx.cmd("hget", () => ctx.client.hget(key(n), "holder"))));
    },
    async deleteTrackedKey(name, k) {
      await ctx.cmd("hdel", () => ctx.client.hdel(key(name), `k:${k}`));
    },
    async expireTrackers(names, ttlMs) {
      await Promise.all(names.map((n) => ctx.cmd("pexpire", () => ctx.client.pexpire(key(n), ttlMs))));
    },
    async deleteTracker(name) {
      await ctx.cmd("del", () => ctx.client.del(key(name)));
    },
  };
}
