import type { Cluster, Redis } from "ioredis";
import { decodeMemberRef } from "./codec.js";
import type { RedisContext } from "./redis-context.js";
import { FINAL_CALL } from "./room-scripts.js";

/**
 * After a data loss, one node sweeps every room for members whose session exists nowhere (neither
 * live or expired in its bucket's expiry zset, nor being reaped): their session's bucket was lost
 * and no live node knew the session to re-assert it, so no reaper would ever remove them. Each is
 * left with reason TIMEOUT (fenced by session id, so a member that rejoined meanwhile stays).
 *
 * Cost: a SCAN of every master for room meta keys, then per room one HGETALL and per bucket of its
 * members two ZMSCORE: O(rooms + members), once per data-loss event (a lock key makes one node do
 * it; it expires after `LOCK_MS`).
 */
const LOCK_MS = 60_000;
const SCAN_COUNT = 1_000;

export async function sweepOrphanedMembers(ctx: RedisContext): Promise<number> {
  const locked = await ctx.cmd("set", () => ctx.client.set(ctx.keys.sweepLock(), ctx.nodeId, "PX", LOCK_MS, "NX"));
  if (locked === null) return 0;
  let left = 0;
  for (const room of await roomNames(ctx)) {
    const members = await ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.room(room).members));
    const byBucket = new Map<number, { conn: string; sid: string }[]>();
    for (const [conn, json] of Object.entries(members)) {
      const sid = decodeMemberRef(json).sessionId;
      const b = ctx.keys.bucketOf(sid);
      byBucket.set(b, [...(byBucket.get(b) ?? []), { conn, sid }]);
    }
    for (const [b, list] of byBucket) {
      const bk = ctx.keys.bucket(b);
      const sids = list.map((m) => m.sid);
      const [live, reaping] = await Promise.all([
        ctx.cmd("zmscore", () => ctx.client.zmscore(bk.expiry, ...sids)),
        ctx.cmd("zmscore", () => ctx.client.zmscore(bk.reaping, ...sids)),
      ]);
      for (const [i, m] of list.entries()) {
        if (live[i] !== null || reaping[i] !== null) continue;
        const { event } = await ctx.rooms.leave(room, { connectionId: m.conn, sessionId: m.sid, reason: "timeout", seq: FINAL_CALL, tombstone: false });
        if (event) left++;
      }
    }
  }
  return left;
}

async function roomNames(ctx: RedisContext): Promise<string[]> {
  const servers = ctx.cluster ? (ctx.client as Cluster).nodes("master") : [ctx.client as Redis];
  const out = new Set<string>();
  for (const server of servers) {
    let cursor = "0";
    do {
      const [next, keys] = await ctx.cmd("scan", () => server.scan(cursor, "MATCH", ctx.keys.roomMetaPattern(), "COUNT", SCAN_COUNT));
      cursor = next;
      for (const k of keys) out.add(ctx.keys.roomOfMetaKey(k));
    }
    while (cursor !== "0");
  }
  return [...out];
}
