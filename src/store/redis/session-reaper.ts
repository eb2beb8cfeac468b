import type { Cluster, Redis } from "ioredis";
import type { StoredSession } from "./codec.js";
import { SESSION_BUCKETS, type Keys } from "./keys.js";
import type { ScriptName } from "./scripts.js";

/**
 * Shared, fenced reaping (design §5): every node, every reaper interval, walks the 64 session
 * buckets. Per bucket it claims expired sessions (`sessionsClaimExpired`: from then on heartbeats
 * and refreshes are refused, so a reaped session is never resurrected), leaves each claimed
 * session's rooms with reason TIMEOUT (idempotent, fenced per member by session id), records the
 * end in the user's status, and deletes the session (`sessionReapDone`). A claim not finished
 * within REAP_CLAIM_MS (a node died mid-reap) is claimed again by any node.
 *
 * Kicks (AdminService) claim one live session the same way (`sessionKick`) and finish it with
 * `finish(sid, "kicked")`: the same idempotent steps, so a node dying mid-kick leaves a claim that
 * any reaper completes (then with reason TIMEOUT).
 */
export const REAP_CLAIM_MS = 30_000;
const REAP_BATCH = 200;

export interface SessionReaper {
  /** One pass over every bucket. `liveSessions` counts the sessions left (for the gauge). */
  reap(): Promise<{ expiredSessions: number; leaves: number; liveSessions: number }>;
  /** Finishes one claimed session: leaves its rooms with `reason`, ends it. Returns the leaves. */
  finish(sessionId: string, reason: "timeout" | "kicked"): Promise<number>;
}

export interface SessionReaperDeps {
  keys: Keys;
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown>;
  cmd<T>(name: string, fn: () => Promise<T>): Promise<T>;
  client: Redis | Cluster;
  nowArg(): string;
  leaveRoom(room: string, connectionId: string, sessionId: string, reason: "timeout" | "kicked"): Promise<boolean>;
  endUserSession(session: StoredSession, sessionId: string): Promise<void>;
  forget(sessionId: string): void;
}

export function createSessionReaper(d: SessionReaperDeps): SessionReaper {
  async function reapSession(sid: string, reason: "timeout" | "kicked"): Promise<number> {
    const bk = d.keys.bucket(d.keys.bucketOf(sid));
    const roomsKey = d.keys.sessionRooms(sid);
    const [json, rooms] = await Promise.all([
      d.cmd("hget", () => d.client.hget(bk.sessions, sid)),
      d.cmd("hgetall", () => d.client.hgetall(roomsKey)),
    ]);
    let leaves = 0;
    if (json) {
      const session = JSON.parse(json) as StoredSession;
      for (const room of Object.keys(rooms)) {
        if (await d.leaveRoom(room, session.c, sid, reason)) leaves++;
      }
      await d.endUserSession(session, sid);
    }
    await d.run("sessionReapDone", [bk.reaping, bk.sessions, roomsKey], [sid]);
    d.forget(sid);
    return leaves;
  }

  return {
    finish: reapSession,
    async reap() {
      let expiredSessions = 0;
      let leaves = 0;
      let liveSessions = 0;
      for (let b = 0; b < SESSION_BUCKETS; b++) {
        const bk = d.keys.bucket(b);
        const claimed = (await d.run("sessionsClaimExpired", [bk.expiry, bk.reaping], [d.nowArg(), REAP_CLAIM_MS, REAP_BATCH])) as [number, ...string[]];
        expiredSessions += Number(claimed[0]);
        for (const sid of claimed.slice(1) as string[]) leaves += await reapSession(sid, "timeout");
        liveSessions += Number(await d.cmd("zcard", () => d.client.zcard(bk.expiry)));
      }
      return { expiredSessions, leaves, liveSessions };
    },
  };
}
