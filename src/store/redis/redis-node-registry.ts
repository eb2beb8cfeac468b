import { compareNodes, deadAfterMs, nodeAlive, nodeNotFound, type NodeInfo } from "../../core/node-id.js";
import type { NodeRegistry } from "../ports/node-registry.js";
import { decodeSession, type StoredSession } from "./codec.js";
import { SESSION_BUCKETS } from "./keys.js";
import type { RedisContext } from "./redis-context.js";
import type { SessionReaper } from "./session-reaper.js";

/**
 * The NodeRegistry on Redis (AdminService): node registry, node listings and purges.
 *
 * Cost: these walk the store and are meant for operators, never for request paths.
 * - listNodes / purgeNode: the 64 session buckets, each with one ZRANGEBYSCORE (live sessions) and
 *   HSCAN steps of 1,000 (O(sessions)).
 * - The registry is one hash for the deployment (`keys.nodes()`): one write per node per refresh
 *   interval, entries not announced for NODE_RETENTION_MS forgotten by the next announce.
 *
 * A purge claims each session of the node (`sessionKick`, only while it is still recorded for that
 * node: fenced from then on) and finishes it through the reaper's steps with reason KICKED, so each
 * room gets one `left` event, exactly as for a Leave.
 */
export const NODE_RETENTION_MS = 24 * 3_600_000;
/** Sessions kicked in parallel by one purge. */
const PURGE_CONCURRENCY = 8;
const SCAN_COUNT = 1_000;

export function createRedisNodeRegistry(ctx: RedisContext, reaper: SessionReaper): NodeRegistry {
  const bound = deadAfterMs(ctx.timings.nodeRefreshMs);

  /** Every live session (expiry after `now`), bucket by bucket. */
  async function* liveSessions(now: number): AsyncGenerator<{ sid: string; session: StoredSession }> {
    for (let b = 0; b < SESSION_BUCKETS; b++) {
      const bk = ctx.keys.bucket(b);
      const live = new Set(await ctx.cmd("zrangebyscore", () => ctx.client.zrangebyscore(bk.expiry, `(${now}`, "+inf")));
      if (live.size === 0) continue;
      let cursor = "0";
      do {
        const [next, flat] = await ctx.cmd("hscan", () => ctx.client.hscan(bk.sessions, cursor, "COUNT", SCAN_COUNT));
        cursor = next;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          if (live.has(flat[i]!)) yield { sid: flat[i]!, session: decodeSession(flat[i + 1]!) };
        }
      } while (cursor !== "0");
    }
  }

  return {
    async announceNode() {
      // The one write every node makes every refresh interval: the outage guard's heartbeat.
      try {
        const { nowMs } = await ctx.nodes.announce(ctx.nodeId, NODE_RETENTION_MS);
        ctx.outage.observeRedisTime(nowMs);
      } catch (e) {
        ctx.outage.failed();
        throw e;
      }
      ctx.outage.ok();
    },

    async listNodes() {
      const { nowMs: now, seen } = await ctx.nodes.list();
      const sessions = new Map<string, number>();
      for await (const { session } of liveSessions(now)) {
        if (session.n) sessions.set(session.n, (sessions.get(session.n) ?? 0) + 1);
      }
      const nodes = [...new Set([...seen.keys(), ...sessions.keys()])].map((nodeId): NodeInfo => {
        const lastSeenMs = seen.get(nodeId) ?? 0;
        const lastSeenAgeMs = lastSeenMs === 0 ? 0 : Math.max(0, now - lastSeenMs);
        return { nodeId, lastSeenMs, lastSeenAgeMs, alive: lastSeenMs > 0 && lastSeenAgeMs < bound, sessions: sessions.get(nodeId) ?? 0 };
      });
      return { nodes: nodes.sort(compareNodes), deadAfterMs: bound };
    },

    async purgeNode(nodeId, opts) {
      const { nowMs: now, seen } = await ctx.nodes.list();
      const lastSeen = seen.get(nodeId);
      if (lastSeen !== undefined && now - lastSeen < bound && !opts.force) throw nodeAlive(nodeId, Math.max(0, now - lastSeen), bound);
      const victims: string[] = [];
      for await (const { sid, session } of liveSessions(now)) if (session.n === nodeId) victims.push(sid);
      if (lastSeen === undefined && victims.length === 0) throw nodeNotFound(nodeId);
      let sessionsKicked = 0;
      let roomsLeft = 0;
      let next = 0;
      const worker = async () => {
        while (next < victims.length) {
          const sid = victims[next++]!;
          // Not claimed: ended, expired or reclaimed by another node meanwhile.
          if ((await ctx.sessions.kick(sid, nodeId)) !== "claimed") continue;
          sessionsKicked++;
          const { leaves } = await reaper.finish(sid, "kicked"); // not `roomsLeft += await …`: that reads roomsLeft before the await
          roomsLeft += leaves;
        }
      };
      await Promise.all(Array.from({ length: Math.min(PURGE_CONCURRENCY, victims.length) }, worker));
      await ctx.cmd("hdel", () => ctx.client.hdel(ctx.keys.nodes(), nodeId));
      ctx.commits.adminAction({ kind: "purge_node", actor: opts.actor ?? "", nodeId, sessionsKicked, roomsLeft }, ctx.clock.now());
      return { sessionsKicked, roomsLeft };
    },
  };
}
