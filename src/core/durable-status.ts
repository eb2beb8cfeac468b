import type { UserSettingsChange } from "./commit.js";
import type { UserStatusRecord } from "./user-status.js";

/**
 * The durable copy of a user's status (history, issue 13 item 4): what must survive a Redis data
 * loss. The pure rule of how committed status changes fold into it, applied by the history's
 * write-through queue, its cache of flagged users, and (the same rule in SQL) the database.
 *
 * Rules:
 * - Last seen never goes back (the newest session end wins).
 * - The custom status and the invisible flag change only through the user's own SetStatus (the
 *   commit says which of the two it set, stamped with its commit time; the newest set wins). A
 *   status change caused by a session (join, leave, activity, a re-assertion after a data loss)
 *   carries the settings the store holds, which after a data loss may be blank: it never changes
 *   them here, so a store that lost (or could not restore) a user's flags cannot erase their
 *   durable copy, and every SetStatus, un-hiding included, is written through.
 * - The last seen others see is the last seen while the user is visible, and frozen while she is
 *   invisible: at the store's value when this change made her invisible, else where it was.
 */
export interface DurableUserStatus {
  userId: string;
  /** End of the last session (ms since the epoch); 0 if unknown. */
  lastSeenMs: number;
  /** Last seen as shown to others (frozen while invisible). */
  visibleLastSeenMs: number;
  customStatus: string;
  invisible: boolean;
  /** Commit time of the newest change folded in (ms). */
  updatedMs: number;
  /** When the user last set the custom status (SetStatus commit time, ms); 0: never set by her (a session's record). */
  customStatusMs: number;
  /** When the user last set the invisible flag (SetStatus commit time, ms); 0: never set by her. */
  invisibleMs: number;
}

/** A committed status change as a durable change (`settings`: what a SetStatus set, none for session changes). */
export function durableChange(status: UserStatusRecord, timeMs: number, settings?: UserSettingsChange): DurableUserStatus {
  const d = {
    userId: status.userId,
    lastSeenMs: status.lastSeenMs,
    visibleLastSeenMs: status.visibleLastSeenMs,
    customStatus: settings?.customStatus ?? status.customStatus,
    invisible: settings?.invisible ?? status.invisible,
    updatedMs: timeMs,
    customStatusMs: settings?.customStatus !== undefined ? timeMs : 0,
    invisibleMs: settings?.invisible !== undefined ? timeMs : 0,
  };
  return { ...d, visibleLastSeenMs: d.invisible ? d.visibleLastSeenMs : d.lastSeenMs };
}

/** `next` folded into `prev` (undefined: nothing stored yet). Associative for changes in commit order. */
export function foldDurableStatus(prev: DurableUserStatus | undefined, next: DurableUserStatus): DurableUserStatus {
  if (!prev) return { ...next, visibleLastSeenMs: next.invisible ? next.visibleLastSeenMs : next.lastSeenMs };
  const lastSeenMs = Math.max(prev.lastSeenMs, next.lastSeenMs);
  const setsCustom = next.customStatusMs > prev.customStatusMs;
  const setsInvisible = next.invisibleMs > prev.invisibleMs;
  const invisible = setsInvisible ? next.invisible : prev.invisible;
  return {
    userId: prev.userId,
    lastSeenMs,
    visibleLastSeenMs: !invisible ? lastSeenMs : setsInvisible ? next.visibleLastSeenMs : prev.visibleLastSeenMs,
    customStatus: setsCustom ? next.customStatus : prev.customStatus,
    invisible,
    updatedMs: Math.max(prev.updatedMs, next.updatedMs),
    customStatusMs: Math.max(prev.customStatusMs, next.customStatusMs),
    invisibleMs: Math.max(prev.invisibleMs, next.invisibleMs),
  };
}

/** True when the durable copy holds something a blank store record lacks (the users the history caches). */
export const isFlagged = (s: DurableUserStatus): boolean => s.invisible || s.customStatus !== "";
