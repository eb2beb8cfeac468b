import type { Cluster, Redis } from "ioredis";
import type { TimerHandle } from "../../core/clock.js";
import { sessionNotFound } from "../../core/presence-error.js";
import { compareRooms, type RoomSummary } from "../../core/room-summary.js";
import type { SessionRef } from "../../core/session.js";
import type { RoomStore } from "../ports/room-store.js";
import { createCursorBatcher } from "./cursor-batcher.js";
import type { RedisContext } from "./redis-context.js";
import { readRoomLog, readRoomView } from "./room-reader.js";

/**
 * The RoomStore on Redis: every key of a room carries the hash tag `{r:<room>}` (one slot), reads
 * are one read-only script on that slot (it works over maxmemory, where MULTI does not), typing is one script call, and cursors are coalesced per node and
 * flushed every `cursorFlushMs` as one script call per room.
 *
 * listRooms cost (operator calls only): a SCAN of every master for room meta keys (O(keys in
 * Redis), in COUNT 1,000 steps so Redis is never blocked for long), then one HMGET per room.
 */
export interface RedisRoomStore extends RoomStore {
  /** Stops the cursor flush timer and sends what is pending. */
  close(): Promise<void>;
  /** Tests only: resolves when the last cursor flush has settled. */
  lastCursorFlush(): Promise<void>;
}

const SCAN_COUNT = 1_000;

export function createRedisRoomStore(ctx: RedisContext): RedisRoomStore {
  const cursors = createCursorBatcher(async (room, batch) => {
    if ((await ctx.rooms.cursors(room, batch)) > 0) ctx.observer.published?.("cursors");
  });
  let lastFlush: Promise<void> = Promise.resolve();
  const flush = () => (lastFlush = cursors.flush());
  const timer: TimerHandle = ctx.clock.setInterval(() => void flush(), ctx.timings.cursorFlushMs);

  /** A live session of this owner that has a user (typing and cursors are for listed users only). */
  async function userSession(ref: SessionRef): Promise<{ connectionId: string; userId: string }> {
    const r = await ctx.sessions.check(ref);
    if (r.status !== "ok" || r.session.id.kind !== "user") throw sessionNotFound();
    return { connectionId: r.session.c, userId: r.session.id.user.userId };
  }

  /** Room meta keys on every master (standalone: the one server). */
  async function roomMetaKeys(): Promise<string[]> {
    const servers = ctx.cluster ? (ctx.client as Cluster).nodes("master") : [ctx.client as Redis];
    const out: string[] = [];
    for (const server of servers) {
      let cursor = "0";
      do {
        const [next, keys] = await ctx.cmd("scan", () => server.scan(cursor, "MATCH", ctx.keys.roomMetaPattern(), "COUNT", SCAN_COUNT));
        cursor = next;
        out.push(...keys);
      } while (cursor !== "0");
    }
    return out;
  }

  return {
    getView: (room, opts) => readRoomView(ctx, room, opts.includeMembers ? "full" : "counts"),
    readLog: (room, from) => readRoomLog(ctx, room, from),
    position: (room) => ctx.rooms.touch(room, ctx.ids.epoch()),
    renewEpoch: (room, seen) => ctx.rooms.renewEpoch(room, seen, ctx.ids.epoch()),

    async setTyping(input) {
      const s = await userSession(input);
      const r = await ctx.rooms.typing(input.room, { connectionId: s.connectionId, sessionId: input.sessionId, userId: s.userId, typing: input.typing });
      if (r === "not_in_room") throw sessionNotFound();
      if (r === "changed") ctx.observer.published?.("typing");
    },

    async broadcast(message, from) {
      let sent = { ...message, userId: message.userId ?? "", connectionId: "" };
      if (from) {
        const s = await userSession(from);
        const inRoom = await ctx.cmd("hexists", () => ctx.client.hexists(ctx.keys.sessionRooms(from.sessionId), message.room));
        if (inRoom !== 1) throw sessionNotFound();
        sent = { ...sent, userId: s.userId, connectionId: s.connectionId };
      }
      const channel = ctx.keys.room(message.room).channel;
      const body = JSON.stringify({ type: "broadcast", broadcast: sent });
      await ctx.cmd("publish", () => (ctx.cluster ? (ctx.client as Cluster).spublish(channel, body) : (ctx.client as Redis).publish(channel, body)));
      ctx.observer.published?.("broadcast");
      return sent;
    },

    async updateCursor(input) {
      const s = await userSession(input);
      cursors.add(input.room, s.connectionId, { sid: input.sessionId, userId: s.userId, position: input.position });
    },

    async listRooms(limit) {
      const keys = [...new Set(await roomMetaKeys())];
      const all: RoomSummary[] = [];
      // One HMGET per room (routed per slot on Cluster); batches keep the number in flight bounded.
      for (let i = 0; i < keys.length; i += 500) {
        const batch = keys.slice(i, i + 500);
        const counts = await Promise.all(batch.map((k) => ctx.cmd("hmget", () => ctx.client.hmget(k, "nu", "nc", "na"))));
        batch.forEach((k, j) => {
          const [users, connections, anonymous] = counts[j]!.map((v) => Number(v ?? 0));
          if (connections! > 0) all.push({ room: ctx.keys.roomOfMetaKey(k), counts: { users: users!, connections: connections!, anonymous: anonymous! } });
        });
      }
      return { rooms: all.sort(compareRooms).slice(0, limit), totalRooms: all.length };
    },

    async close() {
      timer.cancel();
      await flush().catch(() => {});
    },
    lastCursorFlush: () => lastFlush,
  };
}
