import type { Cluster, Redis } from "ioredis";
import { newManagedRoom, roomEnded, roomExists, roomNotFound, type ManagedRoom, type RoomLimits } from "../../core/room-lifecycle.js";
import type { RoomLifecycleStore } from "../ports/room-lifecycle-store.js";

/**
 * Managed rooms on Redis (rooms.proto). A room's record is one key in the room's own hash tag,
 * `<prefix>:{r:<room>}:cfg` (JSON of the record), so the join script of the room can read it in the
 * same slot (capacity and tombstone are checked atomically with the join). An ended room's record
 * expires with its tombstone. The idle reaper reads an index of deadlines spread over 16 buckets,
 * `<prefix>:{ri:<n>}:idle` (sorted set room → idle deadline ms), refreshed by every touch; the
 * record stays the authority (a stale index entry is checked against it).
 */
export interface RedisRoomLifecycleOptions {
  client: Redis | Cluster;
  prefix: string;
  limits: RoomLimits;
  run(name: "roomCfgCreate" | "roomCfgUpdate" | "roomCfgEnd" | "roomCfgTouch", keys: string[], args: (string | number)[]): Promise<unknown>;
  cmd<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** '0' (Redis TIME) or the injected clock's ms (tests). */
  nowArg(): string;
  /** Now, for reading the idle index (store time when fixed, else this node's clock). */
  nowMs(): number;
}

export const IDLE_BUCKETS = 16;

export function roomCfgKey(prefix: string, room: string): string {
  return `${prefix}:{r:${room}}:cfg`;
}

function idleBucket(room: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < room.length; i++) h = Math.imul(h ^ room.charCodeAt(i), 0x01000193);
  return (h >>> 0) % IDLE_BUCKETS;
}

export function createRedisRoomLifecycle(o: RedisRoomLifecycleOptions): RoomLifecycleStore {
  const idleKey = (b: number) => `${o.prefix}:{ri:${b}}:idle`;
  const parse = (json: string) => JSON.parse(json) as ManagedRoom;
  const reply = (r: unknown) => r as [number, string];
  const index = (room: string, deadline: number) =>
    o.cmd("zadd", () => (deadline > 0 ? o.client.zadd(idleKey(idleBucket(room)), deadline, room) : o.client.zrem(idleKey(idleBucket(room)), room)));

  const getRoom = async (room: string): Promise<ManagedRoom | null> => {
    const json = await o.cmd("get", () => o.client.get(roomCfgKey(o.prefix, room)));
    if (!json) return null;
    const r = parse(json);
    return r.status === "ended" && o.nowMs() >= r.tombstoneUntilMs ? null : r;
  };

  return {
    getRoom,
    async createRoom(input) {
      const draft = newManagedRoom(input.room, input.ownerUserId, input.metadata, input.settings, o.limits, 0);
      const [status, json] = reply(await o.run("roomCfgCreate", [roomCfgKey(o.prefix, input.room)], [JSON.stringify(draft), o.nowArg()]));
      if (status === -1) throw roomExists(input.room);
      if (status === -2) throw roomEnded(parse(json));
      const r = parse(json);
      if (r.idleTimeoutMs > 0) await index(r.room, r.lastActivityMs + r.idleTimeoutMs);
      return r;
    },
    async updateRoom(room, patch) {
      const [status, json] = reply(await o.run("roomCfgUpdate", [roomCfgKey(o.prefix, room)], [JSON.stringify(patch), o.limits.defaultIdleTimeoutMs, o.nowArg()]));
      if (status === -1) throw roomNotFound(room);
      if (status === -2) throw roomEnded(parse(json));
      const r = parse(json);
      await index(room, r.idleTimeoutMs > 0 ? r.lastActivityMs + r.idleTimeoutMs : 0);
      return r;
    },
    async markEnded(room, endedBy, reason) {
      const [status, json] = reply(await o.run("roomCfgEnd", [roomCfgKey(o.prefix, room)], [endedBy, reason, o.limits.tombstoneMs, o.nowArg()]));
      if (status === -1) return null;
      await index(room, 0);
      return parse(json);
    },
    async touchRoom(room) {
      const deadline = Number(await o.run("roomCfgTouch", [roomCfgKey(o.prefix, room)], [o.nowArg()]));
      if (deadline > 0) await index(room, deadline);
    },
    async idleRooms(limit) {
      const now = o.nowMs();
      const out: string[] = [];
      for (let b = 0; b < IDLE_BUCKETS && out.length < limit; b++) {
        const due = await o.cmd("zrangebyscore", () => o.client.zrangebyscore(idleKey(b), "-inf", now, "LIMIT", 0, limit - out.length));
        for (const room of due) {
          const r = await getRoom(room);
          if (r && r.status === "open" && r.idleTimeoutMs > 0 && r.lastActivityMs + r.idleTimeoutMs <= now) out.push(room);
          else if (!r || r.status !== "open" || r.idleTimeoutMs <= 0) await index(room, 0);
          else await index(room, r.lastActivityMs + r.idleTimeoutMs); // touched since: move it
        }
      }
      return out;
    },
  };
}
