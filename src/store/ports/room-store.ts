import type { CursorPosition, Position, PresenceEvent, RoomBroadcastMessage, RoomView } from "../../core/presence-event.js";
import type { RoomSummary } from "../../core/room-summary.js";
import type { SessionRef } from "../../core/session.js";

/**
 * Rooms: reads of a room's state and log, and the room's ephemeral signals (typing, cursors),
 * which are never versioned. Membership itself changes through the SessionStore.
 *
 * Errors: SESSION_NOT_FOUND (typing or cursor of a session that is not in the room, or not the
 * caller's), STORE_UNAVAILABLE.
 */
export interface RoomStore {
  /** The room's current view (members omitted when `includeMembers` is false). */
  getView(room: string, opts: { includeMembers: boolean }): Promise<RoomView>;
  /** Committed events after `from`, or null when they cannot be replayed exactly. */
  readLog(room: string, from: Position): Promise<PresenceEvent[] | null>;
  /** The room's current (epoch, version), creating its state if missing (periodic position check). */
  position(room: string): Promise<Position>;
  /**
   * A watcher saw the room's version go backwards inside `seen.epoch` (a partial data loss: an RDB
   * restore, an asynchronous replica promoted): give the room a new epoch, so that versions never
   * repeat inside one epoch and every watcher and resume position resyncs. Does nothing unless the
   * room is still at `seen.epoch` with a version below `seen.version`. Returns the room's position.
   */
  renewEpoch(room: string, seen: Position): Promise<Position>;
  /** Sets or clears typing of the session's user; publishes only real changes. */
  setTyping(input: SessionRef & { room: string; typing: boolean }): Promise<void>;
  /**
   * Publishes a custom event to the room's watchers on every node; nothing is stored. With
   * `from`, the sender is that session (the caller's, a listed user's, in the room: else
   * SESSION_NOT_FOUND) and its user and connection ids are filled in; without, the message is
   * sent as given. Resolves with the message as published.
   */
  broadcast(message: Omit<RoomBroadcastMessage, "userId" | "connectionId"> & { userId?: string }, from?: SessionRef): Promise<RoomBroadcastMessage>;
  /** Stores the session's cursor (last value wins); published in the next cursor batch. */
  updateCursor(input: SessionRef & { room: string; position: CursorPosition }): Promise<void>;
  /**
   * Rooms with at least one connection, busiest first (connections desc, then name), at most
   * `limit`. O(rooms): operator calls only, never request paths.
   */
  listRooms(limit: number): Promise<{ rooms: RoomSummary[]; totalRooms: number }>;
}
