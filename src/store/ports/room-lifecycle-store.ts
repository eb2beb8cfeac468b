import type { ManagedRoom, RoomSettings } from "../../core/room-lifecycle.js";

/**
 * Managed rooms (rooms.proto): the record of a room that was created on purpose (owner, metadata,
 * limit, timeouts, status, tombstone) and the index the idle reaper reads. Membership is not here:
 * the session store admits joins against this record atomically (capacity, tombstone) and EndRoom
 * makes the members leave through it. Errors: ROOM_EXISTS, ROOM_ENDED, ROOM_NOT_FOUND,
 * STORE_UNAVAILABLE.
 */
export interface RoomLifecycleStore {
  /** Creates the record (ROOM_EXISTS when managed and open, ROOM_ENDED while tombstoned). */
  createRoom(input: { room: string; ownerUserId: string; metadata: Record<string, string>; settings: Required<RoomSettings> }): Promise<ManagedRoom>;
  /** Applies the given fields (ROOM_NOT_FOUND when not managed, ROOM_ENDED when ended). */
  updateRoom(room: string, patch: RoomSettings & { metadata?: Record<string, string>; ownerUserId?: string }): Promise<ManagedRoom>;
  /** The record, or null for an implicit room (a tombstone past its time is no record). */
  getRoom(room: string): Promise<ManagedRoom | null>;
  /** Marks the room ended now (idempotent: an ended room keeps its first end); null when not managed. */
  markEnded(room: string, endedBy: string, reason: string): Promise<ManagedRoom | null>;
  /** Records activity in the room now (the idle reaper's clock); no-op for implicit rooms. */
  touchRoom(room: string): Promise<void>;
  /** Open managed rooms whose idle deadline has passed, at most `limit`. */
  idleRooms(limit: number): Promise<string[]>;
}
