import type { Cluster, Redis } from "ioredis";
import { PresenceError } from "../../core/presence-error.js";
import { createCommitEmitter } from "../commit-emitter.js";
import type { PresenceStore } from "../presence-store.js";
import type { StoreMemory } from "../ports/store-health.js";
import { redisConfigWarnings } from "./config-warnings.js";
import { createDataLossRecovery, type DataLossRecovery } from "./data-loss-recovery.js";
import type { ScopeStore } from "../ports/scope-store.js";
import type { RoomLifecycleStore } from "../ports/room-lifecycle-store.js";
import type { RoomLimits } from "../../core/room-lifecycle.js";
import { createRedisRoomLifecycle } from "./redis-room-lifecycle.js";
import { createRedisContext, type RedisContext, type RedisContextOptions, type RedisStoreObserver } from "./redis-context.js";
import { createRedisEventBus, type RedisEventBus } from "./redis-event-bus.js";
import { createRedisNodeRegistry } from "./redis-node-registry.js";
import { createRedisRoomStore, type RedisRoomStore } from "./redis-room-store.js";
import { createRedisSessionStore } from "./redis-session-store.js";
import { createRedisUserStatusStore } from "./redis-user-status-store.js";
import { createRedisTrackerStore } from "./redis-tracker-store.js";
import { createRedisEventFeed } from "./redis-event-feed.js";
import { createSessionReaper } from "./session-reaper.js";
import { createSubscriber, type Subscriber } from "./subscriber.js";

export type { RedisStoreObserver };

/**
 * RedisPresenceStore: every store port over standalone Redis or Redis Cluster, shared by any
 * number of nodes. It only composes the parts, one per port (redis-session-store.ts,
 * redis-room-store.ts, redis-user-status-store.ts, redis-event-bus.ts, redis-node-registry.ts),
 * which share the context of redis-context.ts (clients, keys, typed scripts, commit feed) and
 * never call each other: each mutation of a room is one Lua script (members, version, log,
 * publish in one step, time from Redis); sessions live in 64 hash-tagged buckets and user statuses
 * in per-user hashes, so every script call touches one slot.
 *
 * Reaping is shared by the nodes (session-reaper.ts); after Redis lost its data, this node
 * re-asserts the sessions it serves (data-loss-recovery.ts).
 */
export interface RedisStoreOptions extends Omit<RedisContextOptions, "nodeId" | "commits" | "commandTimeoutMs"> {
  /** The pub/sub connection (a `duplicate()` of a standalone client, or a Cluster with shardedSubscribers). */
  subscriberConnection: Redis | Cluster;
  /** This process's node id, recorded on the sessions it creates, attaches or reclaims (default "local"). */
  nodeId?: string;
  /** Bound of the subscriber round trip in `ping()` (the command timeout). */
  probeTimeoutMs: number;
  /** A commit-feed listener threw (it is skipped; the others still run). */
  onCommitListenerError?: (err: unknown) => void;
}

export type RedisPresenceStore = PresenceStore & {
  /** Reads (or sets) the buckets' incarnation markers and starts their periodic check. Call once at start-up. */
  init(): Promise<void>;
  /** Warnings about the Redis configuration (an evicting `maxmemory-policy`), for the start-up log. */
  configWarnings(): Promise<string[]>;
  /** Whether the pub/sub subscriber is connected right now (cached flag; `presence_redis_subscriber_up`). */
  subscriberHealthy(): boolean;
  /** Scope membership, kept by the session lifecycle (scopes.proto). */
  readonly scopeStore: ScopeStore;
  /** Managed room records (rooms.proto). */
  roomLifecycle(limits: RoomLimits): RoomLifecycleStore;
  /**
   * Tests only: resolves when every call issued so far (cursor flushes included) has completed and
   * what it published has reached this node's subscriber.
   */
  settleForTests(): Promise<void>;
};

export function createRedisStore(o: RedisStoreOptions): RedisPresenceStore {
  const nodeId = o.nodeId ?? "local";
  const commits = createCommitEmitter(nodeId, o.onCommitListenerError);
  const ctx: RedisContext = createRedisContext({ ...o, nodeId, commits, commandTimeoutMs: o.probeTimeoutMs });
  const recovery: DataLossRecovery = createDataLossRecovery(ctx);
  let bus: RedisEventBus | undefined;
  const sub: Subscriber = createSubscriber({
    connection: o.subscriberConnection,
    sharded: o.cluster,
    clock: o.clock,
    onReconnect: () => {
      ctx.observer.subscriberReconnect?.();
      bus?.afterReconnect(recovery);
    },
    onError: () => ctx.observer.redisError?.("subscriber"),
    // End to end on standalone Redis and Sentinel: the node's own probe channel (F-P4).
    ...(o.cluster ? {} : { echo: { channel: ctx.keys.probeChannel(nodeId), publish: (ch: string, payload: string) => (o.client as Redis).publish(ch, payload) } }),
    onStarved: () => ctx.observer.subscriberStarved?.(),
  });
  bus = createRedisEventBus(ctx, sub);
  const reaper = createSessionReaper(ctx);
  let liveSessions = 0;
  const sessions = createRedisSessionStore(ctx, { recovery, reaper, onLiveSessions: (n) => (liveSessions = n) });
  const rooms: RedisRoomStore = createRedisRoomStore(ctx);
  const users = createRedisUserStatusStore(ctx);
  const nodes = createRedisNodeRegistry(ctx, reaper);
  const events = bus;
  let closed = false;

  return {
    ...sessions,
    getView: rooms.getView,
    readLog: rooms.readLog,
    position: rooms.position,
    renewEpoch: rooms.renewEpoch,
    setTyping: rooms.setTyping,
    broadcast: rooms.broadcast,
    updateCursor: rooms.updateCursor,
    listRooms: rooms.listRooms,
    ...users,
    subscribe: events.subscribe,
    ready: events.ready,
    subscribeUsers: events.subscribeUsers,
    ...nodes,
    ...createRedisTrackerStore(ctx),
    ...createRedisEventFeed(ctx),
    onCommit: commits.onCommit,

    init: () => recovery.init(),
    configWarnings: () => redisConfigWarnings(o.client, o.cluster),
    subscriberHealthy: () => sub.healthy(),
    scopeStore: ctx.scopes,
    roomLifecycle: (limits) =>
      createRedisRoomLifecycle({
        client: o.client,
        prefix: o.prefix,
        limits,
        run: (name, keys, args) => ctx.run(name, keys, args),
        cmd: ctx.cmd,
        nowArg: ctx.nowArg,
        nowMs: () => (ctx.nowArg() === "0" ? o.clock.now() : Number(ctx.nowArg())),
      }),

    stats: () => ({ sessions: liveSessions, rooms: events.watchedCount() }),

    /**
     * Readiness: a real write (fails when Redis is unreachable or refuses writes), then a fresh
     * round trip through the subscriber connection(s), bounded by `probeTimeoutMs` (standalone and
     * Sentinel: a message published to the node's probe channel must arrive; Cluster: PING): a
     * subscriber that is down, frozen or starved means this node would miss events, so it is not
     * ready either (a starved one is restarted, subscriber.ts).
     */
    async ping() {
      await ctx.cmd("set", () => o.client.set(`${o.prefix}:ping`, String(Date.now()), "PX", 10_000));
      await sub.probe(o.probeTimeoutMs).catch((e: unknown) => {
        ctx.observer.redisError?.("subscriber");
        throw new PresenceError("STORE_UNAVAILABLE", `redis subscriber probe failed: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
      });
    },

    async memoryUsage(): Promise<StoreMemory> {
      const servers = o.cluster ? (o.client as Cluster).nodes("master") : [o.client as Redis];
      const used = await Promise.all(servers.map(async (s) => usedMemory(await ctx.cmd("info", () => s.info("memory")))));
      return { usedBytes: used.reduce((a, b) => a + b, 0), largestNodeBytes: Math.max(0, ...used), estimated: false };
    },

    async close() {
      if (closed) return;
      closed = true;
      recovery.close();
      await rooms.close();
      await sub.close();
      o.client.disconnect();
    },

    async settleForTests() {
      await rooms.lastCursorFlush();
      await new Promise((r) => setImmediate(r));
      if (o.cluster) await new Promise((r) => setTimeout(r, 60));
      else await (o.subscriberConnection as Redis).ping();
    },
  };
}

/** `used_memory` of an `INFO memory` answer. */
function usedMemory(info: string): number {
  const m = /^used_memory:(\d+)/m.exec(info);
  return m ? Number(m[1]) : 0;
}
