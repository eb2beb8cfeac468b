import type { TimerHandle } from "../../core/clock.js";
import { encodeMember, identityKey, sessionScopes } from "./codec.js";
import type { KnownSession } from "./known-sessions.js";
import { SESSION_BUCKETS } from "./keys.js";
import type { RedisContext } from "./redis-context.js";
import { createRedisSessionQuota } from "./redis-session-quota.js";
import { sweepOrphanedMembers } from "./orphan-sweep.js";
import { waitReady } from "./wait-ready.js";

/**
 * Recovery after Redis lost data (invariant I2). Every session bucket's slot holds a random
 * "incarnation" value written once (`SET NX GET`); when a check finds another value (or none), the
 * master holding that slot lost its data: restarted empty, flushed, or (on Cluster) one master of
 * several. Then this node:
 * 1. re-creates the live sessions it knows in the lost buckets (same ids, secrets and connection
 *    ids), rejoins their rooms (metadata and typed presence as this node last knew them) and
 *    re-creates their users' records with the custom status and the invisible flag it last saw, in
 *    the same script (user-scripts.ts: an invisible user is never published visible), then puts
 *    them back (`userRestore`) where another node re-created a record first with older ones;
 * 2. refreshes its other known sessions and rejoins their rooms (a lost master may have held
 *    rooms of sessions whose buckets survived; a rejoin of a present member changes nothing);
 * 3. one refresh interval later (time for every node to re-assert), one node sweeps every room for
 *    members whose session no longer exists anywhere (its node died too), leaving them with
 *    TIMEOUT: without this they would never expire (I1).
 * Checks run when a known session is "not found", after a subscriber reconnect, and every
 * `nodeRefreshMs` over all 64 buckets (64 small commands); concurrent checks share one run.
 */
export interface DataLossRecovery {
  /** Reads (or sets) every bucket's incarnation and starts the periodic check. Call once at start-up. */
  init(): Promise<void>;
  /** True when `sid` is known here and its bucket lost its data (the lost sessions were then re-asserted). */
  reassertIfDataLost(sid: string): Promise<boolean>;
  /** Re-asserts what this node knows if any bucket lost its data; true when it did (or a concurrent call did). */
  recoverIfDataLost(): Promise<boolean>;
  /**
   * The work after a subscriber reconnect, before watchers get their snapshot: wait for the
   * command connection (it may come back later than the subscriber), recover if Redis lost data,
   * and give every watched room its state (epoch) again, so the snapshot is taken in the room's new
   * epoch and later re-assertions by other nodes arrive as events in it, not as a second epoch
   * change. Never rejects: reads report failures.
   */
  afterReconnect(watchedRooms: () => Iterable<string>): Promise<void>;
  close(): void;
}

/** How long the work after a subscriber reconnect waits for the command connection to be ready. */
const RECONNECT_WAIT_MS = 5_000;
const ALL_BUCKETS = Array.from({ length: SESSION_BUCKETS }, (_, b) => b);

export function createDataLossRecovery(ctx: RedisContext): DataLossRecovery {
  const incarnations = new Map<number, string>();
  const quota = createRedisSessionQuota(ctx);
  let recovery: Promise<boolean> | null = null;
  let checkTimer: TimerHandle | null = null;
  let sweepTimer: TimerHandle | null = null;

  const current = async (bucket: number): Promise<string> => {
    const mine = ctx.ids.epoch();
    const prev = await ctx.cmd("set", () => ctx.client.set(ctx.keys.incarnation(bucket), mine, "NX", "GET"));
    return prev ?? mine;
  };
  /** The buckets among `buckets` whose incarnation changed since last seen. */
  const lostBuckets = async (buckets: readonly number[]): Promise<Set<number>> => {
    const now = await Promise.all(buckets.map((b) => current(b)));
    const lost = new Set<number>();
    buckets.forEach((b, i) => {
      const seen = incarnations.get(b);
      if (seen !== undefined && seen !== now[i]) lost.add(b);
      incarnations.set(b, now[i]!);
    });
    return lost;
  };

  async function reassert(k: KnownSession): Promise<void> {
    const rooms = [...k.rooms];
    const s = k.session;
    for (const [room, md] of rooms) {
      const mode = room === rooms[0]![0] ? "new" : "use";
      const arg = mode === "new" ? JSON.stringify({ ...s, n: ctx.nodeId }) : "";
      // Counted again whatever the quota (standalone: by the script; Cluster: its own slot, same member).
      if (mode === "new" && ctx.cluster) await quota.reserve(s.q ?? k.owner, k.sid, 0);
      await ctx.sessions.open({ mode, sid: k.sid, owner: k.owner, arg, room, metadataJson: JSON.stringify(md), nodeId: ctx.nodeId, quotaKey: s.q });
      await rejoin(k, room, md);
    }
    await ctx.users.session(s.id, "set", k.sid, s.act);
    if (s.id.kind === "user") await ctx.scopes.addSession(k.sid, s.id.user, sessionScopes(s), ctx.clock.now());
  }
  const rejoin = (k: KnownSession, room: string, md: Record<string, string>) =>
    ctx.rooms.join(room, {
      connectionId: k.session.c,
      memberJson: encodeMember(k.session.c, k.sid, k.session.id, md, k.session.act, k.presence.get(room), k.session.la),
      identityKey: identityKey(k.session.id),
      epoch: ctx.ids.epoch(),
      seq: 0,
      validUntilMs: 0,
      force: true, // the session's call numbers restart after a bucket lost its data
    });

  async function recover(lost: Set<number>): Promise<void> {
    let n = 0;
    const survivors: KnownSession[] = [];
    for (const k of ctx.known.reassertable(ctx.clock.now() - ctx.timings.sessionTtlMs)) {
      if (k.rooms.size === 0) continue;
      if (!lost.has(ctx.keys.bucketOf(k.sid))) {
        survivors.push(k);
        continue;
      }
      try {
        await reassert(k);
        n++;
      } catch {
        ctx.observer.redisError?.("reassert");
      }
    }
    // The users' own settings: an invisible user must not become visible because Redis lost data.
    for (const [userId, settings] of ctx.known.settings) {
      if (settings.changedAtMs === 0) continue;
      await ctx.users.restore(userId, settings).catch(() => ctx.observer.redisError?.("reassert"));
    }
    await rejoinSurvivors(survivors);
    ctx.observer.reassert?.(n);
    scheduleSweep();
  }

  /** Known sessions whose buckets survived: refreshed (so they cannot be reaped meanwhile), then their rooms rejoined. */
  async function rejoinSurvivors(survivors: KnownSession[]): Promise<void> {
    const byBucket = new Map<number, KnownSession[]>();
    for (const k of survivors) {
      const b = ctx.keys.bucketOf(k.sid);
      byBucket.set(b, [...(byBucket.get(b) ?? []), k]);
    }
    for (const [b, list] of byBucket) {
      try {
        const replies = await ctx.sessions.heartbeat(b, list.map((k) => ({ sid: k.sid, owner: null, activity: "", ttlMs: ctx.timings.sessionTtlMs })));
        for (const [i, k] of list.entries()) {
          if (replies[i]!.status === "not_found") continue;
          for (const [room, md] of k.rooms) await rejoin(k, room, md);
        }
      } catch {
        ctx.observer.redisError?.("reassert");
      }
    }
  }

  function scheduleSweep(): void {
    if (sweepTimer) return;
    sweepTimer = ctx.clock.setTimeout(() => {
      sweepTimer = null;
      sweepOrphanedMembers(ctx).catch(() => ctx.observer.redisError?.("reassert"));
    }, ctx.timings.nodeRefreshMs);
  }

  const recoverIf = (buckets: readonly number[]): Promise<boolean> => {
    recovery ??= (async () => {
      try {
        const lost = await lostBuckets(buckets);
        if (lost.size === 0) return false;
        await recover(lost);
        return true;
      } finally {
        recovery = null;
      }
    })();
    return recovery;
  };

  return {
    async init() {
      // Started first: when Redis is down at start-up, the first check that works records the values.
      checkTimer ??= ctx.clock.setInterval(() => void recoverIf(ALL_BUCKETS).catch(() => {}), ctx.timings.nodeRefreshMs);
      await lostBuckets(ALL_BUCKETS);
    },
    async reassertIfDataLost(sid) {
      return ctx.known.has(sid) && recoverIf([ctx.keys.bucketOf(sid)]);
    },
    recoverIfDataLost: () => recoverIf(ALL_BUCKETS),
    async afterReconnect(watchedRooms) {
      try {
        await waitReady(ctx.client, RECONNECT_WAIT_MS);
        await recoverIf(ALL_BUCKETS);
        await Promise.all([...watchedRooms()].map((room) => ctx.rooms.touch(room, ctx.ids.epoch())));
      } catch {
        // Redis went away again: the snapshot reads fail and end the streams with `unavailable`.
      }
    },
    close() {
      checkTimer?.cancel();
      sweepTimer?.cancel();
    },
  };
}
