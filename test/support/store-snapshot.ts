/**
 * A snapshot of what a presence store holds, read from the outside so it works on every store:
 * through the admin API (rooms with connections, sessions per node), GetPresence and GetUserStatus
 * with an admin token (an admin sees every room and the real status), and, for Redis, the names of
 * every key under the deployment's prefix (a refused call must not create so much as a room's
 * epoch). Time-varying values are left out (typing time left, the "now" last seen of online users),
 * so two snapshots of an unchanged store are equal while background loops run.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Redis } from "ioredis";
import { AdminService } from "../../gen/presence/v1/admin_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { UserState } from "../../gen/presence/v1/types_pb.js";

export interface StoreSnapshot {
  rooms: string[];
  sessions: number;
  views: Record<string, unknown>;
  statuses: unknown[];
  redisKeys?: string[];
}

export interface SnapshotOptions {
  baseUrl: string;
  adminToken: string;
  /** Rooms to read in full (include the ones refused calls named: a refusal must not create their state). */
  rooms: readonly string[];
  /** Users whose status to read. */
  users: readonly string[];
  /** With the Redis store: a client of that Redis and the key prefix. */
  redis?: { client: Redis; prefix: string };
}

export function createSnapshotter(o: SnapshotOptions): () => Promise<StoreSnapshot> {
  const transport = createConnectTransport({
    baseUrl: o.baseUrl,
    httpVersion: "1.1",
    interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${o.adminToken}`), next(req))],
  });
  const admin = createClient(AdminService, transport);
  const presence = createClient(PresenceService, transport);
  return async () => {
    const listed = await admin.listRooms({ limit: 1000 });
    const nodes = await admin.listNodes({});
    const views: Record<string, unknown> = {};
    for (const v of (await presence.batchGetPresence({ rooms: [...o.rooms] })).views) {
      views[v.room] = {
        epoch: v.epoch,
        version: String(v.version),
        counts: [v.counts?.users, v.counts?.connections, v.counts?.anonymous],
        users: v.users.map((u) => ({ user: u.user?.userId, role: u.role, connections: u.connections.map((c) => [c.connectionId, c.activity, c.role, { ...c.metadata }]) })),
        typing: v.typing.map((t) => t.userId),
        cursors: v.cursors.map((c) => [c.connectionId, c.position?.x, c.position?.y]),
      };
    }
    const statuses = (await presence.getUserStatus({ userIds: [...o.users] })).statuses.map((s) => ({
      userId: s.userId,
      state: UserState[s.state],
      lastSeenMs: s.state === UserState.OFFLINE ? String(s.lastSeenMs) : "now",
      customStatus: s.customStatus,
      invisible: s.invisible,
    }));
    const snapshot: StoreSnapshot = {
      rooms: listed.rooms.map((r) => `${r.room} users=${r.counts?.users} connections=${r.counts?.connections} anonymous=${r.counts?.anonymous}`),
      sessions: nodes.nodes.reduce((n, x) => n + x.sessions, 0),
      views,
      statuses,
    };
    if (o.redis) snapshot.redisKeys = (await scanAll(o.redis.client, `${o.redis.prefix}*`)).sort();
    return snapshot;
  };
}

async function scanAll(client: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(cursor, "MATCH", match, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}
