import type { UserInfo } from "../../core/identity.js";

/**
 * Trackers of Track streams (BackendService.Track), shared by the nodes so that a backend
 * reconnecting to ANY node within the reconnect grace reclaims its presences. A tracker is named
 * by `(owner key, tracker id)` (`name`), holds a hash of its secret and one record per tracked key
 * (its session and rooms). It expires `ttlMs` after its last `expireTrackers` unless refreshed: the
 * node holding its stream refreshes it with its sessions; when the stream ends the node sets the
 * reconnect grace; a clean close deletes it. The stream holding it is recorded (`setTrackerHolder`)
 * so that a takeover from another node ends the older stream there.
 */
export interface TrackedKeyRecord {
  sessionId: string;
  connectionId: string;
  userId: string;
  /** The user the key was tracked for (service role), if any. */
  user?: UserInfo;
  /** room → metadata */
  rooms: Record<string, Record<string, string>>;
}

export interface TrackerRecord {
  secretHash: string;
  keys: Map<string, TrackedKeyRecord>;
}

export interface TrackerStore {
  /** Creates the tracker; false (nothing written) when one with this name exists. */
  createTracker(name: string, secretHash: string, ttlMs: number): Promise<boolean>;
  /** The tracker, or null when there is none (never created, expired or deleted). */
  loadTracker(name: string): Promise<TrackerRecord | null>;
  /** Writes a key's record and sets the tracker's expiry to now + `ttlMs` (the holder refreshes it anyway). */
  putTrackedKey(name: string, key: string, record: TrackedKeyRecord, ttlMs: number): Promise<void>;
  deleteTrackedKey(name: string, key: string): Promise<void>;
  /**
   * Records which stream holds the tracker now (an opaque token per stream) and sets its expiry to
   * now + `ttlMs`; nothing when the tracker does not exist. A newer stream on another node writes
   * its own, and the older stream's node learns at its next refresh that it was taken over.
   */
  setTrackerHolder(name: string, holder: string, ttlMs: number): Promise<void>;
  /** The holder of each tracker (null: none recorded, or no such tracker), in order. */
  trackerHolders(names: string[]): Promise<Array<string | null>>;
  /** Sets the expiry of these trackers to now + `ttlMs` (those that still exist). */
  expireTrackers(names: string[], ttlMs: number): Promise<void>;
  deleteTracker(name: string): Promise<void>;
}
