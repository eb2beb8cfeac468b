import type { LeaveReason } from "../../core/presence-event.js";
import { decodeSession, sessionScopes, type StoredSession } from "./codec.js";
import { SESSION_BUCKETS } from "./keys.js";
import type { RedisContext } from "./redis-context.js";
import { createRedisSessionQuota } from "./redis-session-quota.js";
import { FINAL_CALL } from "./room-scripts.js";
import { REAP_BATCH } from "./session-scripts.js";

/**
 * Shared, fenced reaping (design §5): every node, every reaper interval, walks the 64 session
 * buckets, PRESENCE_REAPER_CONCURRENCY (8) at a time (claiming nothing while the outage guard
 * pauses reaping: outage-guard.ts). Per bucket it claims expired sessions (`sessionsClaimExpired`: from then on heartbeats
 * and refreshes are refused, so a reaped session is never resurrected), leaves each claimed
 * session's rooms with reason TIMEOUT (idempotent, fenced per member by session id), records the
 * end in the user's status, and deletes the session (`sessionReapDone`). A claim not finished
 * within REAP_CLAIM_MS (a node died mid-reap) is claimed again by any node.
 *
 * Kicks (AdminService) claim one live session the same way (`sessionKick`) and finish it with
 * `finish(sid, "kicked")`: the same idempotent steps, so a node dying mid-kick leaves a claim that
 * any reaper completes (then with reason TIMEOUT). The leaves are committed (and reported by the
 * commit feed) on the node that runs these steps.
 */
export interface SessionReaper {
  /** One pass over every bucket. `liveSessions` counts the sessions left (for the gauge). */
  reap(): Promise<{ expiredSessions: number; leaves: number; liveSessions: number }>;
  /** Finishes one claimed session: leaves its rooms with `reason`, ends it. */
  finish(sessionId: string, reason: "timeout" | "kicked"): Promise<{ leaves: number; session: StoredSession | null }>;
}

const NOTHING_CLAIMED = { expiredNow: 0, sids: [] as string[] };

export function createSessionReaper(ctx: RedisContext): SessionReaper {
  async function finish(sid: string, reason: LeaveReason): Promise<{ leaves: number; session: StoredSession | null }> {
    const bk = ctx.keys.bucket(ctx.keys.bucketOf(sid));
    const [json, rooms] = await Promise.all([
      ctx.cmd("hget", () => ctx.client.hget(bk.sessions, sid)),
      ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.sessionRooms(sid))),
    ]);
    let leaves = 0;
    const session = json ? decodeSession(json) : null;
    if (session) {
      for (const room of Object.keys(rooms)) {
        const { event } = await ctx.rooms.leave(room, { connectionId: session.c, sessionId: sid, reason, seq: FINAL_CALL, tombstone: reason === "kicked" });
        if (event) leaves++;
      }
      await ctx.users.session(session.id, "end", sid, session.act);
      // Before the record goes: a node dying here leaves a claim whose taker repeats it (idempotent).
      if (session.id.kind === "user") await ctx.scopes.removeSession(sid, session.id.user.userId, sessionScopes(session));
      await ctx.cmd("zrem", () => ctx.client.zrem(bk.away, sid)); // the away index keeps nothing of it
    }
    // Cluster: out of its quota set before the record goes (the claim's next taker repeats it).
    const quotaKey = session ? (session.q ?? session.o) : null;
    if (ctx.cluster && quotaKey !== null) await createRedisSessionQuota(ctx).remove(quotaKey, sid);
    await ctx.sessions.reapDone(sid, quotaKey);
    ctx.known.delete(sid);
    return { leaves, session };
  }

  return {
    finish,
    async reap() {
      let expiredSessions = 0;
      let leaves = 0;
      let liveSessions = 0;
      // After a store outage no session is judged by the time nobody could refresh it (F-R3b);
      // nor before this node knows Redis' clock (each claim carries a deadline in it, set as it is sent).
      const paused = ctx.outage.reapPaused();
      const reapBucket = async (b: number) => {
        // A full claim may leave more expired sessions behind: the bucket is claimed again (each
        // claim with its own deadline), so a mass expiry beyond one claim's batch leaves in this
        // pass, not one reaper interval per batch later.
        for (let more = true; more; ) {
          const deadline = paused ? null : ctx.outage.claimDeadline();
          const claimed = deadline === null ? NOTHING_CLAIMED : await ctx.sessions.claimExpired(b, deadline).catch((e: unknown) => {
            ctx.outage.failed();
            throw e;
          });
          expiredSessions += claimed.expiredNow;
          more = claimed.sids.length >= REAP_BATCH;
          // The claimed sessions (at most a claim's batch) are finished side by side: each one's steps
          // are a few round trips in a row, independent of the others' (every step is fenced per
          // session and idempotent), and auto-pipelining shares the trips. One after the other, a
          // backend's 10,000 presences took ~25 s to leave on Redis (~5 round trips each).
          const done = await Promise.allSettled(claimed.sids.map((sid) => finish(sid, "timeout")));
          for (const d of done) if (d.status === "fulfilled") leaves += d.value.leaves;
          const failed = done.find((d) => d.status === "rejected");
          if (failed) throw failed.reason;
        }
        const bk = ctx.keys.bucket(b);
        const live = await ctx.cmd("zcard", () => ctx.client.zcard(bk.expiry)); // not `liveSessions += await …`: buckets run side by side
        liveSessions += live;
      };
      // Buckets are claimed `reaperConcurrency` at a time (PRESENCE_REAPER_CONCURRENCY): one after
      // the other, a mass expiry's leaves waited for 64 claims and their finishes in a row. Buckets
      // are independent (their own keys, claims and deadlines). The first failure stops the pass
      // from taking more buckets; the ones under way finish, then it is thrown (the next pass goes on).
      let next = 0;
      let failure: { error: unknown } | null = null;
      const worker = async () => {
        while (failure === null && next < SESSION_BUCKETS) {
          const b = next++;
          try {
            await reapBucket(b);
          } catch (error) {
            failure ??= { error };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(ctx.limits.reaperConcurrency, SESSION_BUCKETS) }, worker));
      if (failure !== null) throw (failure as { error: unknown }).error;
      return { expiredSessions, leaves, liveSessions };
    },
  };
}
