import type { PendingHeartbeat } from "./heartbeat-batcher.js";
import type { RedisContext } from "./redis-context.js";
import type { HeartbeatReply } from "./session-scripts.js";

/**
 * One heartbeat batch, tracked by the outage guard (a failure starts an outage, a batch that
 * refreshed something ends it) and reviving sessions that expired during an outage (F-R3b).
 */
export async function heartbeatBatch(ctx: RedisContext, bucket: number, list: PendingHeartbeat[]): Promise<HeartbeatReply[]> {
  let replies: HeartbeatReply[];
  try {
    replies = await ctx.sessions.heartbeat(bucket, list, ctx.outage.reviving());
  } catch (e) {
    ctx.outage.failed();
    throw e;
  }
  let revived = 0;
  let wrote = false;
  for (const r of replies) {
    if (r.status === "not_found") continue;
    wrote = true;
    if (r.leftMs <= 0) revived++;
  }
  if (wrote) ctx.outage.ok();
  if (revived > 0) ctx.observer.revived?.(revived);
  return replies;
}
