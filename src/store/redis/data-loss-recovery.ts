import { encodeMember, identityKey } from "./codec.js";
import type { RedisContext } from "./redis-context.js";
import { waitReady } from "./wait-ready.js";

/**
 * Recovery after Redis lost its data (invariant I2): every node writes a random "incarnation"
 * value once per dataset (`SET NX GET`); when a later check finds another value (or none), Redis
 * was restarted empty or flushed, and this node re-creates the live sessions it knows (same ids,
 * secrets and connection ids) and rejoins their rooms, so that clients see their own presence
 * come back without doing anything. Checks run when a known session is "not found" and after a
 * subscriber reconnect; concurrent checks share one run, so no caller misses a re-assertion.
 */
export interface DataLossRecovery {
  /** Checks (or sets) the dataset's incarnation marker. Call once at start-up. */
  init(): Promise<void>;
  /** True when `sid` is known here and Redis lost its data (its sessions were then re-asserted). */
  reassertIfDataLost(sid: string): Promise<boolean>;
  /** Re-asserts this node's sessions if Redis lost its data; true when it did (or a concurrent call did). */
  recoverIfDataLost(): Promise<boolean>;
  /**
   * The work after a subscriber reconnect, before watchers get their snapshot: wait for the
   * command connection (it may come back later than the subscriber), re-assert this node's
   * sessions if Redis lost its data, and give every watched room its state (epoch) again, so the
   * snapshot is taken in the room's new epoch and later re-assertions by other nodes arrive as
   * events in it, not as a second epoch change. Never rejects: reads report failures.
   */
  afterReconnect(watchedRooms: () => Iterable<string>): Promise<void>;
}

/** How long the work after a subscriber reconnect waits for the command connection to be ready. */
const RECONNECT_WAIT_MS = 5_000;

export function createDataLossRecovery(ctx: RedisContext): DataLossRecovery {
  let incarnation: string | null = null;
  let recovery: Promise<boolean> | null = null;

  const current = async (): Promise<string> => {
    const mine = ctx.ids.epoch();
    const prev = await ctx.cmd("set", () => ctx.client.set(ctx.keys.incarnation(), mine, "NX", "GET"));
    return prev ?? mine;
  };
  const dataLost = async (): Promise<boolean> => {
    if (incarnation === null) return false;
    const now = await current();
    if (now === incarnation) return false;
    incarnation = now;
    return true;
  };
  const reassertAll = async (): Promise<void> => {
    let n = 0;
    for (const k of ctx.known.reassertable(ctx.clock.now() - ctx.timings.sessionTtlMs)) {
      const rooms = [...k.rooms];
      if (rooms.length === 0) continue;
      try {
        for (const [room, md] of rooms) {
          const mode = room === rooms[0]![0] ? "new" : "use";
          const arg = mode === "new" ? JSON.stringify({ ...k.session, n: ctx.nodeId }) : "";
          await ctx.sessions.open({ mode, sid: k.sid, owner: k.owner, arg, room, metadataJson: JSON.stringify(md), nodeId: ctx.nodeId });
          const s = k.session;
          await ctx.rooms.join(room, { connectionId: s.c, memberJson: encodeMember(s.c, k.sid, s.id, md, s.act), identityKey: identityKey(s.id), epoch: ctx.ids.epoch() });
        }
        await ctx.users.session(k.session.id, "set", k.sid, k.session.act);
        n++;
      } catch {
        ctx.observer.redisError?.("reassert");
      }
    }
    ctx.observer.reassert?.(n);
  };
  const recoverIfDataLost = (): Promise<boolean> => {
    recovery ??= (async () => {
      try {
        if (!(await dataLost())) return false;
        await reassertAll();
        return true;
      } finally {
        recovery = null;
      }
    })();
    return recovery;
  };

  return {
    async init() {
      incarnation = await current();
    },
    async reassertIfDataLost(sid) {
      return ctx.known.has(sid) && recoverIfDataLost();
    },
    recoverIfDataLost,
    async afterReconnect(watchedRooms) {
      try {
        await waitReady(ctx.client, RECONNECT_WAIT_MS);
        await recoverIfDataLost();
        await Promise.all([...watchedRooms()].map((room) => ctx.rooms.touch(room, ctx.ids.epoch())));
      } catch {
        // Redis went away again: the snapshot reads fail and end the streams with `unavailable`.
      }
    },
  };
}
