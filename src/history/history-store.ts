import type { ActivityPage, ActivityQuery, ActivityRecord, PageCursor, RoomAt, RoomStatistics } from "../core/activity.js";
import type { DurableUserStatus } from "../core/durable-status.js";
import type { RecentEpoch } from "./sql/gap-queries.js";

export type { RecentEpoch } from "./sql/gap-queries.js";

/**
 * The HistoryStore port: the durable activity log and the durable user status (design §10
 * "History"). Implemented over SQL for PostgreSQL (node-postgres) and for the embedded PGlite, one
 * dialect for both. It is never on the presence hot path: rows reach it in batches through the
 * history writer, and reads serve the HistoryService, the export route and user-status recovery.
 *
 * Errors: any failure to reach or query the database rejects with a PresenceError
 * `unavailable` / HISTORY_UNAVAILABLE; inputs are validated by the caller (the history service).
 */
export interface HistoryStore {
  /**
   * Appends rows in one statement (one transaction). Idempotent per row key: rows whose key is
   * already stored are skipped, so a batch retried after an unknown outcome never duplicates.
   * Returns how many rows were new.
   */
  write(rows: readonly ActivityRecord[]): Promise<{ inserted: number }>;
  /** One page of the log matching `query`, after `after` (keyset pagination: constant cost per page). */
  listActivity(query: ActivityQuery, after: PageCursor | undefined, pageSize: number): Promise<ActivityPage>;
  /**
   * The whole range matching `query`, in pages of `pageSize` rows: the caller holds one page at a
   * time however large the range is (the export streams it).
   */
  exportActivity(query: ActivityQuery, pageSize: number, signal?: AbortSignal): AsyncIterable<ActivityRecord[]>;
  /** Who was in `room` at `atMs`, from the log (epoch in force then, members, counts). */
  roomAt(room: string, atMs: number, includeInvisible: boolean): Promise<RoomAt>;
  /** Statistics of `room` over [sinceMs, untilMs). */
  roomStatistics(room: string, sinceMs: number, untilMs: number): Promise<RoomStatistics>;
  /**
   * The (room, epoch) pairs with membership rows committed since `sinceMs`, each with the first
   * version not recorded (the history repair reads the room's log from there).
   */
  recentEpochs(sinceMs: number): Promise<RecentEpoch[]>;
  /**
   * Runs `fn` only if no other node runs a task of this name now (a PostgreSQL advisory lock held
   * on one connection for the duration); resolves undefined, without running it, otherwise.
   */
  exclusive<T>(task: "repair", fn: () => Promise<T>): Promise<T | undefined>;
  /**
   * Folds users' durable status changes into the stored ones (core/durable-status.ts
   * `foldDurableStatus`, in SQL: last seen never goes back; the custom status and the invisible flag
   * change only by a newer SetStatus; the last seen others see follows the invisible flag).
   */
  saveUserStatus(records: readonly DurableUserStatus[]): Promise<void>;
  /** Durable status of these users; users never saved (or pruned) are absent. */
  loadUserStatus(userIds: readonly string[]): Promise<DurableUserStatus[]>;
  /** Users who are invisible or have a custom status, most recently changed first, at most `limit`. */
  loadFlaggedUserStatus(limit: number): Promise<DurableUserStatus[]>;
  /**
   * Deletes, in batches of at most `batchSize` rows (one short transaction each, so writes are
   * never blocked for long), activity older than `activityBeforeMs` and statuses of users last
   * seen before `lastSeenBeforeMs`. Only one node prunes at a time (an advisory lock); the others
   * return zeros. `shouldStop` ends the loop early (shutdown).
   */
  prune(opts: { activityBeforeMs: number; lastSeenBeforeMs: number; batchSize: number; shouldStop?: () => boolean }): Promise<{ activity: number; userStatus: number }>;
  /** Whether the database answers (readiness of history; not part of the server's readiness). */
  ping(): Promise<void>;
  /** Releases connections (the embedded database is shut down). */
  close(): Promise<void>;
}

/** What survives a Redis data loss about a user (last seen, custom status, invisible), and how changes fold into it: core/durable-status.ts. */
export type { DurableUserStatus } from "../core/durable-status.js";
