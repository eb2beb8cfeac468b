import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { AwayPolicy } from "../../core/away-policy.js";
import type { Clock } from "../../core/clock.js";
import type { IdSource } from "../../core/ids.js";
import type { Limits, Timings } from "../../core/options.js";
import { createRedisStore, type RedisPresenceStore, type RedisStoreObserver } from "./redis-store.js";
import { waitReady } from "./wait-ready.js";

/**
 * Builds the Redis clients with the settings the store relies on and returns a started store.
 * - RESP2 set explicitly (ioredis 6 defaults to RESP3).
 * - Request-path client: no offline queue, one retry, a command timeout: when Redis is down or
 *   frozen, calls fail fast with `unavailable` instead of queueing without bound.
 * - Subscriber: its own connection (standalone: a duplicate; Cluster: sharded subscribers), with
 *   an offline queue so subscriptions made during a reconnect are sent when it is back.
 * - Reconnects forever with a capped backoff (100 ms steps, at most 2 s).
 * - Sentinel: ioredis' Sentinel client (see `sentinelOptions`), otherwise like standalone Redis.
 * - Standalone: EVALSHA bypasses ioredis auto-pipelining. ioredis keeps one auto-pipeline in
 *   flight per connection and resolves none of its commands before the last reply, so under load
 *   Node and Redis took turns (each ~50% busy); a script call is already a batch (heartbeats: one
 *   per bucket per turn), so it is written at once and resolved by its own reply. About 1.8× the
 *   heartbeats/s in bench/heartbeats.ts. Cluster keeps auto-pipelining (it also waits for slots).
 */
export interface RedisConnectionOptions {
  /** `redis://host:port[/db]` for standalone Redis. */
  url?: string;
  /** `host:port` seeds for Redis Cluster. */
  clusterSeeds?: string[];
  /** Redis Sentinel: the Sentinels, the master group's name and the Sentinels' own credentials. */
  sentinel?: { sentinels: { host: string; port: number }[]; master: string; username?: string; password?: string };
  prefix: string;
  commandTimeoutMs: number;
  /** How long start-up waits for Redis before going on not ready (PRESENCE_REDIS_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number;
  /** Shards per scope (PRESENCE_SCOPE_SHARDS): part of the key layout, like `prefix`. */
  scopeShards: number;
  /** ACL user (or none: the default user) and password, for every node (standalone or Cluster). */
  username?: string;
  password?: string;
  /** TLS to every node (PEM strings); for Cluster, each node's connection. */
  tls?: { ca?: string; cert?: string; key?: string; servername?: string };
}

export async function createRedisPresenceStore(
  conn: RedisConnectionOptions,
  deps: {
    clock: Clock;
    ids: IdSource;
    timings: Timings;
    limits: Limits;
    fixedTime?: boolean;
    observer?: RedisStoreObserver;
    nodeId?: string;
    onCommitListenerError?: (err: unknown) => void;
    /** Server-side away thresholds; absent: never away by silence. */
    awayPolicy?: AwayPolicy;
  },
): Promise<RedisPresenceStore> {
  const retryStrategy = (times: number) => Math.min(times * 100, 2_000);
  const base: RedisOptions = {
    protocol: 2,
    retryStrategy,
    connectionName: "presence",
    ...(conn.username !== undefined ? { username: conn.username } : {}),
    ...(conn.password !== undefined ? { password: conn.password } : {}),
    ...(conn.tls !== undefined ? { tls: conn.tls } : {}),
  };
  let client: Redis | Cluster;
  let subscriberConnection: Redis | Cluster;
  const cluster = (conn.clusterSeeds?.length ?? 0) > 0;
  if (cluster) {
    const seeds = conn.clusterSeeds!.map((s) => {
      const [host, port] = s.split(":");
      return { host: host!, port: Number(port) };
    });
    client = new Cluster(seeds, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      // Scripts go alone, so ioredis follows ASK (ASKING first) and retries TRYAGAIN itself while
      // their slot moves (F-R8); in an auto-pipeline a redirect comes back as an error.
      autoPipeliningIgnoredCommands: ["evalsha", "eval"],
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...base, commandTimeout: conn.commandTimeoutMs, maxRetriesPerRequest: 1 },
    });
    subscriberConnection = new Cluster(seeds, { shardedSubscribers: true, clusterRetryStrategy: retryStrategy, redisOptions: { ...base, connectionName: "presence-sub" } });
  } else {
    const request: RedisOptions = {
      ...base,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: ["evalsha"],
      maxRetriesPerRequest: 1,
      commandTimeout: conn.commandTimeoutMs,
    };
    const c = conn.sentinel ? new Redis({ ...request, ...sentinelOptions(conn.sentinel, conn, retryStrategy) }) : new Redis(conn.url ?? "redis://127.0.0.1:6379", request);
    client = c;
    subscriberConnection = c.duplicate({ enableOfflineQueue: true, enableAutoPipelining: false, commandTimeout: undefined, connectionName: "presence-sub" });
  }
  // Connection errors are reported through failing calls and readiness; keep them off stderr.
  client.on("error", () => {});
  subscriberConnection.on("error", () => {});
  await waitReady(client, conn.connectTimeoutMs);
  const store = createRedisStore({ client, subscriberConnection, cluster, prefix: conn.prefix, scopeShards: conn.scopeShards, probeTimeoutMs: conn.commandTimeoutMs, ...deps });
  await store.init().catch(() => {});
  return store;
}

/**
 * ioredis' native Sentinel client (F-R4): it asks the Sentinels for the master of `master` at every
 * (re)connect, and follows a failover three ways: the failover detector (a subscription to the
 * Sentinels' `+switch-master`) drops the connection to the old master at once; Sentinel itself
 * kills the old master's clients when it demotes it; and a `READONLY` answer (a connection still on
 * a demoted master) reconnects, so no node keeps writing to a replica. The subscriber connection is
 * a duplicate, so it follows the same master.
 */
function sentinelOptions(s: NonNullable<RedisConnectionOptions["sentinel"]>, conn: RedisConnectionOptions, retryStrategy: (times: number) => number): RedisOptions {
  return {
    sentinels: s.sentinels,
    name: s.master,
    role: "master",
    failoverDetector: true,
    sentinelRetryStrategy: retryStrategy,
    sentinelCommandTimeout: conn.commandTimeoutMs,
    ...(s.username !== undefined ? { sentinelUsername: s.username } : {}),
    ...(s.password !== undefined ? { sentinelPassword: s.password } : {}),
    ...(conn.tls !== undefined ? { enableTLSForSentinelMode: true, sentinelTLS: conn.tls } : {}),
    reconnectOnError: (err) => (err.message.startsWith("READONLY") ? 2 : false),
  };
}
