import type { Cluster, Redis } from "ioredis";
import type { Clock } from "../../core/clock.js";
import type { IdSource } from "../../core/ids.js";
import type { Limits, Timings } from "../../core/options.js";
import type { ScopeStore } from "../ports/scope-store.js";
import type { ScriptName } from "./scripts.js";
import type { AwayPolicy } from "../../core/away-policy.js";
import { createRedisScopeStore } from "./redis-scope-store.js";
import { PresenceError } from "../../core/presence-error.js";
import type { Lease } from "../../core/session.js";
import type { CommitEmitter } from "../commit-emitter.js";
import { KnownSessions } from "./known-sessions.js";
import { createKeys, type Keys } from "./keys.js";
import { createNodeScripts, type NodeScripts } from "./node-scripts.js";
import { createOutageGuard, type OutageGuard } from "./outage-guard.js";
import { clusterNotRun, redisErrorKind } from "./redis-error-kind.js";
import { createRoomScripts, type RoomScripts } from "./room-scripts.js";
import type { ScriptContext } from "./script-reply.js";
import { loadScripts } from "./scripts.js";
import { createSessionScripts, type SessionScripts } from "./session-scripts.js";
import { createUserScripts, type UserScripts } from "./user-scripts.js";

/**
 * The shared infrastructure of the Redis store's parts (one per port: redis-session-store.ts,
 * redis-room-store.ts, redis-user-status-store.ts, redis-event-bus.ts, redis-node-registry.ts):
 * the clients, the keys, the typed scripts, the commit feed and the sessions this node knows.
 * Parts use the context, never each other's methods.
 *
 * Failure behaviour: request-path commands fail fast (no offline queue) and surface as
 * `unavailable` / STORE_UNAVAILABLE; background work reports through `observer`.
 */
export interface RedisStoreObserver {
  scriptReload?(name: string): void;
  redisError?(kind: string): void;
  commandDuration?(command: string, seconds: number): void;
  subscriberReconnect?(): void;
  published?(kind: string): void;
  reassert?(sessions: number): void;
  /** A Heartbeat (not an attach or refresh) found the session last refreshed `seconds` ago (TTL minus the time it had left). */
  heartbeatLag?(seconds: number): void;
  /** The subscriber's end-to-end probe got no delivery although Redis took the publish (restarted on the second in a row, F-P4). */
  subscriberStarved?(): void;
  /** Refreshes or heartbeats revived sessions that expired during a store outage (outage-guard.ts). */
  revived?(sessions: number): void;
  /** This node's store writes work again after failing for `outageMs`; revives last `reviveMs`. */
  storeRecovered?(outageMs: number, reviveMs: number): void;
}

export interface RedisContext {
  readonly client: Redis | Cluster;
  readonly cluster: boolean;
  readonly prefix: string;
  readonly keys: Keys;
  readonly nodeId: string;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly timings: Timings;
  readonly limits: Limits;
  readonly observer: RedisStoreObserver;
  readonly rooms: RoomScripts;
  readonly sessions: SessionScripts;
  readonly users: UserScripts;
  readonly nodes: NodeScripts;
  readonly commits: CommitEmitter;
  /** Live sessions this node served, for re-assertion after data loss (I2). */
  readonly known: KnownSessions;
  /** Scope membership (scopes.proto): kept with the sessions' lifecycle. */
  readonly scopes: ScopeStore;
  readonly awayPolicy: AwayPolicy | undefined;
  /** The time given to scripts: '0' (Redis TIME) or the injected clock's ms (tests). */
  nowArg(): string;
  /** Runs one script through the error mapping. */
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown>;
  /** Store outages seen by this node: reaper pause and revives after them (F-R3b). */
  readonly outage: OutageGuard;
  /** Runs one Redis command; failures become STORE_UNAVAILABLE (request paths fail fast). */
  cmd<T>(name: string, fn: () => Promise<T>): Promise<T>;
  lease(expiresAtMs: number): Lease;
}

export interface RedisContextOptions {
  /** The command client (request paths fail fast: no offline queue). */
  client: Redis | Cluster;
  cluster: boolean;
  prefix: string;
  ids: IdSource;
  timings: Timings;
  limits: Limits;
  /** Local timers (cursor flush, position checks) and, when `fixedTime` is set, the time given to scripts. */
  clock: Clock;
  /** Tests only: scripts take their time from `clock` instead of Redis TIME. */
  fixedTime?: boolean;
  /** How long a Redis call may take (the client's command timeout, PRESENCE_REDIS_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs: number;
  observer?: RedisStoreObserver;
  nodeId: string;
  commits: CommitEmitter;
  /** Shards per scope (PRESENCE_SCOPE_SHARDS): the same on every node, never changed for a dataset. */
  scopeShards: number;
  /** Server-side away thresholds (PRESENCE_AWAY_AFTER_MS and scope overrides); absent: never away by silence. */
  awayPolicy?: AwayPolicy;
}

/** What a client is told when Redis fails a call, by failure kind (redis-error-kind.ts). */
const UNAVAILABLE_BECAUSE: Readonly<Record<string, string>> = {
  timeout: "presence store unavailable (timeout: Redis did not answer within PRESENCE_REDIS_COMMAND_TIMEOUT_MS)",
  connection: "presence store unavailable (connection: Redis cannot be reached)",
  oom: "presence store full (oom: Redis refuses writes at its maxmemory limit)",
  readonly: "presence store read-only (readonly: the Redis server is a replica, a failover may be under way)",
};

export function createRedisContext(o: RedisContextOptions): RedisContext {
  const observer = o.observer ?? {};
  const keys = createKeys(o.prefix);
  const runner = loadScripts(o.client, (name) => observer.scriptReload?.(name));
  /**
   * Runs one Redis call. On Cluster, an answer saying the call did not run (a slot moving: MOVED,
   * ASK or TRYAGAIN that ioredis surfaced from an auto-pipeline, or CLUSTERDOWN) is sent again
   * every twentieth of the command timeout until the command timeout has passed.
   */
  async function cmd<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const retryMs = o.commandTimeoutMs / 20;
    try {
      for (;;) {
        try {
          return await fn();
        } catch (e) {
          if (!o.cluster || !clusterNotRun(e) || performance.now() + retryMs - t0 >= o.commandTimeoutMs) throw e;
          await new Promise<void>((r) => o.clock.setTimeout(r, retryMs));
        }
      }
    } catch (e) {
      if (e instanceof PresenceError) throw e;
      const kind = redisErrorKind(e);
      observer.redisError?.(kind);
      throw new PresenceError("STORE_UNAVAILABLE", `${UNAVAILABLE_BECAUSE[kind] ?? `presence store unavailable (${kind})`}; retry with backoff`, {}, { cause: e });
    } finally {
      observer.commandDuration?.(name, (performance.now() - t0) / 1000);
    }
  }
  const sc: ScriptContext = {
    run: (name, k, args) => cmd(name, () => runner.run(name, k, args)),
    keys,
    nowArg: () => (o.fixedTime ? String(o.clock.now()) : "0"),
    pub: o.cluster ? "SPUBLISH" : "PUBLISH",
    cluster: o.cluster,
    timings: o.timings,
    limits: o.limits,
  };
  const rooms = createRoomScripts(sc, (event) => {
    observer.published?.(event.kind);
    o.commits.roomEvent(event);
  });
  const known = new KnownSessions();
  const users = createUserScripts(
    sc,
    (status, timeMs, settings) => o.commits.userStatus(status, timeMs, settings),
    (userId, settings) => known.learn(userId, settings),
    (userId) => known.settings.get(userId),
  );
  return {
    client: o.client,
    cluster: o.cluster,
    prefix: o.prefix,
    keys,
    nodeId: o.nodeId,
    clock: o.clock,
    ids: o.ids,
    timings: o.timings,
    limits: o.limits,
    observer,
    rooms,
    sessions: createSessionScripts(sc),
    users,
    nodes: createNodeScripts(sc),
    commits: o.commits,
    known,
    awayPolicy: o.awayPolicy,
    nowArg: sc.nowArg,
    run: sc.run,
    scopes: createRedisScopeStore({ client: o.client, prefix: o.prefix, shards: o.scopeShards, run: (name, k, args) => cmd(name, () => runner.run(name, k, args)), cmd }),
    outage: createOutageGuard({
      clock: o.clock,
      sessionTtlMs: o.timings.sessionTtlMs,
      heartbeatIntervalMs: o.timings.heartbeatIntervalMs,
      nodeRefreshMs: o.timings.nodeRefreshMs,
      commandTimeoutMs: o.commandTimeoutMs,
      fixedTime: o.fixedTime,
      onRecovered: (outageMs, reviveMs) => observer.storeRecovered?.(outageMs, reviveMs),
    }),
    cmd,
    lease: (expiresAtMs) => ({ ttlMs: o.timings.sessionTtlMs, heartbeatIntervalMs: o.timings.heartbeatIntervalMs, expiresAtMs }),
  };
}
