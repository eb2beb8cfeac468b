import type { Clock } from "../../core/clock.js";
import { endManagedRoom, idleDeadline, isTombstoned, newManagedRoom, roomEnded, roomExists, roomNotFound, updateManagedRoom, type ManagedRoom, type RoomLimits } from "../../core/room-lifecycle.js";
import type { RoomLifecycleStore } from "../ports/room-lifecycle-store.js";

/**
 * Managed rooms of the embedded memory store: the records of `core/room-lifecycle.ts` in a map.
 * A tombstone past its time is forgotten on the next read. Idle rooms are found by a scan (the
 * memory store serves one process: thousands of managed rooms at most).
 */
export function createMemoryRoomLifecycle(o: { clock: Clock; limits: RoomLimits }): RoomLifecycleStore & { record(room: string): ManagedRoom | undefined } {
  const rooms = new Map<string, ManagedRoom>();
  /** The live record (a tombstone past its time is dropped). */
  const record = (room: string): ManagedRoom | undefined => {
    const r = rooms.get(room);
    if (r && r.status === "ended" && !isTombstoned(r, o.clock.now())) {
      rooms.delete(room);
      return undefined;
    }
    return r;
  };
  return {
    record,
    async createRoom(input) {
      const existing = record(input.room);
      if (existing) throw existing.status === "ended" ? roomEnded(existing) : roomExists(input.room);
      const r = newManagedRoom(input.room, input.ownerUserId, input.metadata, input.settings, o.limits, o.clock.now());
      rooms.set(input.room, r);
      return r;
    },
    async updateRoom(room, patch) {
      const r = record(room);
      if (!r) throw roomNotFound(room);
      const next = updateManagedRoom(r, patch, o.limits);
      rooms.set(room, next);
      return next;
    },
    getRoom: async (room) => record(room) ?? null,
    async markEnded(room, endedBy, reason) {
      const r = record(room);
      if (!r) return null;
      const next = endManagedRoom(r, endedBy, reason, o.limits, o.clock.now());
      rooms.set(room, next);
      return next;
    },
    async touchRoom(room) {
      const r = record(room);
      if (r && r.status === "open") rooms.set(room, { ...r, lastActivityMs: Math.max(r.lastActivityMs, o.clock.now()) });
    },
    async idleRooms(limit) {
      const now = o.clock.now();
      const out: string[] = [];
      for (const [room, r] of rooms) {
        if (out.length >= limit) break;
        if (idleDeadline(r) <= now) out.push(room);
      }
      return out;
    },
  };
}
