import type { BackendEvent } from "../../core/backend-events.js";

/**
 * The feed of backend events across the deployment (WatchEvents): each event appended once by the
 * node that announced it, read by every node in append order, with ids that order the feed and
 * serve as resume cursors. Events are kept for a retention window; a reader asking from before it
 * learns that events were dropped (`gap`).
 */
export interface FeedEntry {
  /** Orders the feed; opaque to clients (the WatchEvents cursor). */
  id: string;
  event: BackendEvent;
}

export interface BackendEventFeed {
  /** Appends events in order (the caller does not change them afterwards; a store may keep them as given); `retentionMs` trims older ones (approximately). */
  appendBackendEvents(events: BackendEvent[], retentionMs: number): Promise<void>;
  /**
   * Entries after `afterId` (exclusive; "" = from the oldest retained), at most `limit`. `gap` is
   * true when entries after `afterId` were already trimmed. `lastId` is the id of the newest entry
   * in the feed ("" when empty), so a reader can start at "now".
   */
  readBackendEvents(afterId: string, limit: number): Promise<{ entries: FeedEntry[]; gap: boolean; lastId: string }>;
}
