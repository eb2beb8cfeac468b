import type { StoreMessage } from "../../core/presence-event.js";
import type { UserStatusRecord } from "../../core/user-status.js";

/**
 * What watchers receive: the committed events, typing changes and cursor batches of a room, and
 * the status changes of users, from every node sharing the store (Redis pub/sub; sharded on
 * Cluster). Publishing is part of each commit (the script that commits also publishes), so this
 * port only subscribes. A `reset` message means messages may have been lost: resync.
 */
export interface EventBus {
  /**
   * Receives the room's committed events, typing changes and cursor batches, in commit order.
   * Keeps the room's state (and epoch) alive while subscribed. Returns the unsubscribe function.
   */
  subscribe(room: string, listener: (message: StoreMessage) => void): () => void;
  /** Resolves once the room's subscription delivers messages (read snapshots only after it). */
  ready(room: string): Promise<void>;
  /** Receives status changes of these users (real records). Returns the unsubscribe function. */
  subscribeUsers(userIds: string[], listener: (status: UserStatusRecord) => void): () => void;
}
