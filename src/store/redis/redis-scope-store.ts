import type { Cluster, Redis } from "ioredis";
import { compareOnline, GLOBAL_SCOPE, isAfter, shardOf, type OnlinePosition, type ScopeCount } from "../../core/scope.js";
import type { ScopeEntry, ScopeStore } from "../ports/scope-store.js";
import type { UserInfo } from "../../core/identity.js";

/**
 * ScopeStore on Redis and Redis Cluster (scopes.proto). A scope is split into `shards` shards by a
 * hash of the user id (`core/scope.ts` shardOf); shard i of scope S is three keys with the hash
 * tag `{sc:S:i}`:
 *   `<prefix>:{sc:S:i}:u`  sorted set  user id → last activity (ms)      (the order of lists)
 *   `<prefix>:{sc:S:i}:s`  hash        session id → user id               (connections: HLEN)
 *   `<prefix>:{sc:S:i}:n`  hash        user id → sessions carrying S      (when a user leaves)
 *   `<prefix>:{sc:S:i}:i`  hash        user id → public info JSON         (names in lists)
 * so a scope of 1,000,000 users is `shards` keys of ~n/shards users each, spread over the Cluster's
 * slots, and every script call touches one slot. All sessions of a user land in the same shard.
 *
 * Cost: a count is 2 O(1) commands per shard (ZCARD, HLEN); a page is, per shard in parallel, one
 * ZRANGE BYSCORE REV LIMIT page (O(log n + page)) and one ZRANGE of the members tied with the
 * page's lowest score (usually none), then a merge; plus one HMGET per shard for the connection
 * counts of the users kept. Mutations are one script per scope (idempotent: a reaper may repeat).
 *
 * Ties: a sorted set orders equal scores by member ascending and REV reverses that, but lists are
 * ordered by user id ascending within a score, so each shard's batch is completed with every
 * member tied at its lowest score before merging (bounded by `maxTies`, default 1,000 users with
 * the same millisecond in one shard).
 */
export interface RedisScopeStoreOptions {
  client: Redis | Cluster;
  prefix: string;
  /** PRESENCE_SCOPE_SHARDS (default 16); must be the same on every node and never change for a dataset. */
  shards: number;
  /** Runs one of the scope scripts (scopeAdd-4, scopeRemove-4, scopeStamp-2). */
  run(name: "scopeAdd" | "scopeRemove" | "scopeStamp", keys: string[], args: (string | number)[]): Promise<unknown>;
  /** Runs a plain command through the store's error mapping (STORE_UNAVAILABLE) and timing. */
  cmd<T>(name: string, fn: () => Promise<T>): Promise<T>;
  maxTies?: number;
}

function infoOf(userId: string, json: string | null): UserInfo {
  try {
    const v = json ? (JSON.parse(json) as { n?: string; a?: string; m?: Record<string, string> }) : {};
    return { userId, name: v.n ?? "", avatarUrl: v.a ?? "", metadata: v.m ?? {} };
  } catch {
    return { userId, name: "", avatarUrl: "", metadata: {} };
  }
}

export function scopeShardKeys(prefix: string, scope: string, shard: number) {
  const t = `${prefix}:{sc:${scope}:${shard}}`;
  return { users: `${t}:u`, sessions: `${t}:s`, counts: `${t}:n`, info: `${t}:i` };
}

export function createRedisScopeStore(o: RedisScopeStoreOptions): ScopeStore {
  const maxTies = o.maxTies ?? 1_000;
  const keysOf = (scope: string, userId: string) => scopeShardKeys(o.prefix, scope, shardOf(userId, o.shards));
  const call = <T>(name: string, ...args: (string | number)[]) => o.cmd(name.toLowerCase(), () => o.client.call(name, ...args) as Promise<T>);

  /** Members and scores of a WITHSCORES reply. */
  const pairs = (flat: string[]): OnlinePosition[] => {
    const out: OnlinePosition[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ userId: flat[i]!, lastActiveMs: Number(flat[i + 1]) });
    return out;
  };

  /** The first `n` users of one shard strictly after `after`, in list order (ties completed). */
  async function shardPage(key: string, n: number, after: OnlinePosition | null): Promise<OnlinePosition[]> {
    const got: OnlinePosition[] = [];
    if (after) {
      const ties = await call<string[]>("ZRANGE", key, after.lastActiveMs, after.lastActiveMs, "BYSCORE", "LIMIT", 0, maxTies, "WITHSCORES");
      got.push(...pairs(ties).filter((p) => isAfter(p, after)));
    }
    const top = after ? `(${after.lastActiveMs}` : "+inf";
    const batch = pairs(await call<string[]>("ZRANGE", key, top, "-inf", "BYSCORE", "REV", "LIMIT", 0, n, "WITHSCORES"));
    got.push(...batch);
    if (batch.length === n) {
      const low = batch[batch.length - 1]!.lastActiveMs;
      const tied = pairs(await call<string[]>("ZRANGE", key, low, low, "BYSCORE", "LIMIT", 0, maxTies, "WITHSCORES"));
      const have = new Set(batch.map((p) => p.userId));
      got.push(...tied.filter((p) => !have.has(p.userId)));
    }
    return got.sort(compareOnline).slice(0, n);
  }

  async function countOne(scope: string): Promise<ScopeCount> {
    const per = await Promise.all(
      Array.from({ length: o.shards }, async (_, i) => {
        const k = scopeShardKeys(o.prefix, scope, i);
        const [users, connections] = await Promise.all([call<number>("ZCARD", k.users), call<number>("HLEN", k.sessions)]);
        return { users: Number(users), connections: Number(connections) };
      }),
    );
    return { scope, users: per.reduce((a, b) => a + b.users, 0), connections: per.reduce((a, b) => a + b.connections, 0) };
  }

  return {
    async addSession(sessionId, user, scopes, lastActiveMs) {
      const info = JSON.stringify({ n: user.name, a: user.avatarUrl, m: user.metadata });
      await Promise.all(
        scopes.map((scope) => {
          const k = keysOf(scope, user.userId);
          return o.run("scopeAdd", [k.users, k.sessions, k.counts, k.info], [sessionId, user.userId, lastActiveMs, info]);
        }),
      );
    },
    async removeSession(sessionId, userId, scopes) {
      await Promise.all(
        scopes.map((scope) => {
          const k = keysOf(scope, userId);
          return o.run("scopeRemove", [k.users, k.sessions, k.counts, k.info], [sessionId]);
        }),
      );
    },
    async stamp(userId, scopes, lastActiveMs) {
      await Promise.all(
        scopes.map((scope) => {
          const k = keysOf(scope, userId);
          return o.run("scopeStamp", [k.users, k.counts], [userId, lastActiveMs]);
        }),
      );
    },
    count: (scopes) => Promise.all(scopes.map(countOne)),
    async lastActive(userIds) {
      const unique = [...new Set(userIds)];
      const scores = await Promise.all(unique.map((id) => call<string | null>("ZSCORE", keysOf(GLOBAL_SCOPE, id).users, id)));
      const out = new Map<string, number>();
      unique.forEach((id, i) => {
        if (scores[i] !== null && scores[i] !== undefined) out.set(id, Number(scores[i]));
      });
      return out;
    },
    async list(scope, pageSize, after) {
      const shards = Array.from({ length: o.shards }, (_, i) => scopeShardKeys(o.prefix, scope, i));
      const [pages, count] = await Promise.all([Promise.all(shards.map((k) => shardPage(k.users, pageSize, after))), countOne(scope)]);
      const page = pages.flat().sort(compareOnline).slice(0, pageSize);
      const byShard = new Map<number, OnlinePosition[]>();
      for (const p of page) {
        const i = shardOf(p.userId, o.shards);
        byShard.set(i, [...(byShard.get(i) ?? []), p]);
      }
      const extra = new Map<string, { connections: number; info: UserInfo }>();
      await Promise.all(
        [...byShard].map(async ([i, ps]) => {
          const k = scopeShardKeys(o.prefix, scope, i);
          const ids = ps.map((p) => p.userId);
          const [n, infos] = await Promise.all([call<(string | null)[]>("HMGET", k.counts, ...ids), call<(string | null)[]>("HMGET", k.info, ...ids)]);
          ps.forEach((p, j) => extra.set(p.userId, { connections: Number(n[j] ?? 0), info: infoOf(p.userId, infos[j] ?? null) }));
        }),
      );
      const entries: ScopeEntry[] = page.map((p) => ({ ...p, ...extra.get(p.userId)! }));
      return { entries, count };
    },
  };
}
