import type { CommitFeed } from "./ports/commit-feed.js";
import type { EventBus } from "./ports/event-bus.js";
import type { NodeRegistry } from "./ports/node-registry.js";
import type { RoomStore } from "./ports/room-store.js";
import type { SessionStore } from "./ports/session-store.js";
import type { StoreHealth } from "./ports/store-health.js";
import type { TrackerStore } from "./ports/tracker-store.js";
import type { BackendEventFeed } from "./ports/backend-event-feed.js";
import type { UserStatusStore } from "./ports/user-status-store.js";

export type { BackendEventFeed, CommitFeed, EventBus, NodeRegistry, RoomStore, SessionStore, StoreHealth, TrackerStore, UserStatusStore };

/**
 * Everything a store implementation provides: the narrow ports of `ports/`, plus `close`. Only the
 * composition root (app.ts) holds a whole store; every other module takes the ports it uses
 * (the service: sessions, rooms, user status; the fan-out hub: rooms and the event bus; the user
 * watch hub: user status and the event bus; the admin service: rooms, sessions, node registry).
 * The memory store and the Redis store implement all of them; the contract suite
 * (test/contract/) runs the same expectations against both.
 */
export interface PresenceStore extends SessionStore, RoomStore, UserStatusStore, EventBus, NodeRegistry, CommitFeed, StoreHealth, TrackerStore, BackendEventFeed {
  /** Stops timers and releases connections. */
  close(): Promise<void>;
}
