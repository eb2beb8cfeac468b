import { sessionsQuotaFull } from "../../core/access-errors.js";
import type { RedisContext } from "./redis-context.js";

/**
 * The `sessions` quota on Redis (JoinInput.maxSessions; issue 16): one sorted set of session ids per
 * quota key (keys.ts `quota`, lua/lib/quota.lua), so checking it is one command, not a read of every
 * session bucket.
 *
 * - Standalone Redis: `sessionOpen` checks and adds in the step that creates the session, and
 *   `sessionLeaveRoom` / `sessionReapDone` remove in the step that deletes it: exact, no
 *   check-then-act race, nothing left behind by a crash.
 * - Cluster: the set has its own slot, which the session scripts cannot reach. A session the
 *   session step created (not yet in any room) then takes its place (`quotaAdmit`: check and add in
 *   one script, so of concurrent Joins at the limit only the places left pass) or is ended again
 *   before its room join; a retry of a first Join that finds its session (request id) takes no
 *   place. An ended session leaves the set in a second command (before `sessionReapDone` in a reap,
 *   so the claim's next taker repeats it; after `sessionLeaveRoom`). A node dying between two such
 *   commands leaves either an uncounted session in no room (it expires unrefreshed: fails open by
 *   one for one TTL) or an entry behind, which is repaired, not left to lock the caller out.
 * - Repair: a refusal lists the entries whose check is due (older than QUOTA_CHECK_AFTER_TTLS session
 *   TTLs, or last checked that long ago); their session records are read (one round trip), the gone
 *   ones leave the set and the Join is tried again. A leftover holds a place for at most two TTLs.
 * - Data loss: re-asserted sessions are added again (same member, counted once); a Cluster master
 *   that lost only quota sets counts too few (fails open) until those sessions end.
 */
export interface RedisSessionQuota {
  /** Cluster: counts a new session `sid` unless full (max 0: always); throws QUOTA_EXCEEDED when full after repair. */
  reserve(quotaKey: string, sid: string, max: number): Promise<void>;
  /** Cluster: removes an ended session from its quota set; idempotent. */
  remove(quotaKey: string, sid: string): Promise<void>;
  /**
   * A refusal (from `sessionOpen` or `quotaAdmit`): repairs the due entries and returns true when a
   * place was freed (try again), else throws QUOTA_EXCEEDED.
   */
  refused(quotaKey: string, max: number, r: { count: number; due: string[] }): Promise<true>;
  /** Sessions counted against the quota key (one command). */
  count(quotaKey: string): Promise<number>;
}

export function createRedisSessionQuota(ctx: RedisContext): RedisSessionQuota {
  async function refused(quotaKey: string, max: number, r: { count: number; due: string[] }): Promise<true> {
    if (r.due.length > 0) {
      const live = await Promise.all(
        r.due.map((sid) => ctx.cmd("hexists", () => ctx.client.hexists(ctx.keys.bucket(ctx.keys.bucketOf(sid)).sessions, sid))),
      );
      const removed = await ctx.sessions.quotaRepair(quotaKey, r.due.map((sid, i) => ({ sid, live: live[i] === 1 })));
      if (removed > 0) return true;
    }
    throw sessionsQuotaFull(max, r.count);
  }
  return {
    refused,
    async reserve(quotaKey, sid, max) {
      for (;;) {
        const r = await ctx.sessions.quotaAdmit(quotaKey, sid, max);
        if (r.status === "ok") return;
        await refused(quotaKey, max, r);
      }
    },
    async remove(quotaKey, sid) {
      await ctx.cmd("zrem", () => ctx.client.zrem(ctx.keys.quota(quotaKey), sid));
    },
    count: (quotaKey) => ctx.cmd("zcard", () => ctx.client.zcard(ctx.keys.quota(quotaKey))),
  };
}
