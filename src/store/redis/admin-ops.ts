import type { Cluster, Redis } from "ioredis";
import { compareNodes, deadAfterMs, nodeAlive, nodeNotFound } from "../../core/node-id.js";
import { sessionNotFound } from "../../core/presence-error.js";
import { compareRooms, type NodeInfo, type RoomSummary } from "../presence-store.js";
import type { StoredSession } from "./codec.js";
import { SESSION_BUCKETS, type Keys } from "./keys.js";
import type { ScriptName } from "./scripts.js";
import { REAP_CLAIM_MS } from "./session-reaper.js";

/**
 * Operator calls on Redis (AdminService): node registry, room and node listings, kicks and purges.
 *
 * Cost: these walk the store and are meant for operators, never for request paths.
 * - listRooms: SCAN of every master for room meta keys (O(keys in Redis), in COUNT 1,000 steps so
 *   Redis is never blocked for long), then one HMGET per room.
 * - listNodes / purgeNode: the 64 session buckets, each with one ZRANGEBYSCORE (live sessions) and
 *   HSCAN steps of 1,000 (O(sessions)).
 * - The node registry is one hash for the deployment (`keys.nodes()`): one write per node per
 *   refresh interval, entries not announced for NODE_RETENTION_MS forgotten by the next announce.
 *
 * A kick claims the session (`sessionKick`: fenced from then on, like an expired one) and finishes
 * it through the reaper's steps with reason KICKED, so each room gets one `left` event, its version
 * bumps once and the event is logged, exactly as for a Leave.
 */
export const NODE_RETENTION_MS = 24 * 3_600_000;
/** Sessions kicked in parallel by one purge. */
const PURGE_CONCURRENCY = 8;
const SCAN_COUNT = 1_000;

export interface AdminOps {
  announce(): Promise<void>;
  listRooms(limit: number): Promise<{ rooms: RoomSummary[]; totalRooms: number }>;
  listNodes(): Promise<{ nodes: NodeInfo[]; deadAfterMs: number }>;
  kickSession(sessionId: string): Promise<{ roomsLeft: number }>;
  purgeNode(nodeId: string, force: boolean): Promise<{ sessionsKicked: number; roomsLeft: number }>;
}

export interface AdminOpsDeps {
  keys: Keys;
  client: Redis | Cluster;
  cluster: boolean;
  nodeId: string;
  nodeRefreshMs: number;
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown>;
  cmd<T>(name: string, fn: () => Promise<T>): Promise<T>;
  nowArg(): string;
  /** The reaper's last steps for a claimed session (leave rooms with the reason, end it); returns the leaves. */
  finish(sessionId: string, reason: "kicked"): Promise<number>;
}

export function createAdminOps(d: AdminOpsDeps): AdminOps {
  const bound = deadAfterMs(d.nodeRefreshMs);

  /** The registry and the store's time, read together. */
  async function registry(): Promise<{ now: number; seen: Map<string, number> }> {
    const r = (await d.run("nodeList", [d.keys.nodes()], [d.nowArg()])) as (string | number)[];
    const seen = new Map<string, number>();
    for (let i = 1; i + 1 < r.length; i += 2) seen.set(String(r[i]), Number(r[i + 1]));
    return { now: Number(r[0]), seen };
  }

  /** Every live session (expiry after `now`), bucket by bucket. */
  async function* liveSessions(now: number): AsyncGenerator<{ sid: string; session: StoredSession }> {
    for (let b = 0; b < SESSION_BUCKETS; b++) {
      const bk = d.keys.bucket(b);
      const live = new Set(await d.cmd("zrangebyscore", () => d.client.zrangebyscore(bk.expiry, `(${now}`, "+inf")));
      if (live.size === 0) continue;
      let cursor = "0";
      do {
        const [next, flat] = await d.cmd("hscan", () => d.client.hscan(bk.sessions, cursor, "COUNT", SCAN_COUNT));
        cursor = next;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          if (live.has(flat[i]!)) yield { sid: flat[i]!, session: JSON.parse(flat[i + 1]!) as StoredSession };
        }
      } while (cursor !== "0");
    }
  }

  /** Room meta keys on every master (standalone: the one server). */
  async function roomMetaKeys(): Promise<string[]> {
    const servers = d.cluster ? (d.client as Cluster).nodes("master") : [d.client as Redis];
    const out: string[] = [];
    for (const server of servers) {
      let cursor = "0";
      do {
        const [next, keys] = await d.cmd("scan", () => server.scan(cursor, "MATCH", d.keys.roomMetaPattern(), "COUNT", SCAN_COUNT));
        cursor = next;
        out.push(...keys);
      } while (cursor !== "0");
    }
    return out;
  }

  /** Claims (fenced) and finishes one session; null when it was not claimed. */
  async function kick(sid: string, node: string): Promise<number | null> {
    const bk = d.keys.bucket(d.keys.bucketOf(sid));
    const r = (await d.run("sessionKick", [bk.expiry, bk.sessions, bk.reaping], [sid, d.nowArg(), REAP_CLAIM_MS, node])) as [number];
    if (r[0] !== 1) return null;
    return d.finish(sid, "kicked");
  }

  return {
    async announce() {
      await d.run("nodeAnnounce", [d.keys.nodes()], [d.nodeId, d.nowArg(), NODE_RETENTION_MS]);
    },

    async listRooms(limit) {
      const keys = [...new Set(await roomMetaKeys())];
      const all: RoomSummary[] = [];
      // One HMGET per room (routed per slot on Cluster); batches keep the number in flight bounded.
      for (let i = 0; i < keys.length; i += 500) {
        const batch = keys.slice(i, i + 500);
        const counts = await Promise.all(batch.map((k) => d.cmd("hmget", () => d.client.hmget(k, "nu", "nc", "na"))));
        batch.forEach((k, j) => {
          const [users, connections, anonymous] = counts[j]!.map((v) => Number(v ?? 0));
          if (connections! > 0) all.push({ room: d.keys.roomOfMetaKey(k), counts: { users: users!, connections: connections!, anonymous: anonymous! } });
        });
      }
      return { rooms: all.sort(compareRooms).slice(0, limit), totalRooms: all.length };
    },

    async listNodes() {
      const { now, seen } = await registry();
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

    async kickSession(sessionId) {
      const roomsLeft = await kick(sessionId, "");
      if (roomsLeft === null) throw sessionNotFound();
      return { roomsLeft };
    },

    async purgeNode(nodeId, force) {
      const { now, seen } = await registry();
      const lastSeen = seen.get(nodeId);
      if (lastSeen !== undefined && now - lastSeen < bound && !force) throw nodeAlive(nodeId, Math.max(0, now - lastSeen), bound);
      const victims: string[] = [];
      for await (const { sid, session } of liveSessions(now)) if (session.n === nodeId) victims.push(sid);
      if (lastSeen === undefined && victims.length === 0) throw nodeNotFound(nodeId);
      let sessionsKicked = 0;
      let roomsLeft = 0;
      let next = 0;
      const worker = async () => {
        while (next < victims.length) {
          const left = await kick(victims[next++]!, nodeId);
          if (left === null) continue; // ended, expired or reclaimed by another node meanwhile
          sessionsKicked++;
          roomsLeft += left;
        }
      };
      await Promise.all(Array.from({ length: Math.min(PURGE_CONCURRENCY, victims.length) }, worker));
      await d.cmd("hdel", () => d.client.hdel(d.keys.nodes(), nodeId));
      return { sessionsKicked, roomsLeft };
    },
  };
}
