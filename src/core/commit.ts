import type { PresenceEvent } from "./presence-event.js";
import type { UserStatusRecord } from "./user-status.js";

/**
 * A committed change, as the node that committed it reports it (the store's commit feed). Every
 * committed membership event, every user-status change and every admin action comes out exactly
 * once per commit, on the node whose call committed it: the mutation's node for joins, leaves,
 * navigations, activity changes and status changes; the reaping node for TIMEOUT leaves; the
 * kicking node for KICKED leaves and the admin action itself; the re-asserting node for the joins
 * of a re-assertion after data loss.
 *
 * `timeMs` is the store's commit time (Redis TIME inside the script on Redis, the injected clock
 * on the memory store); for a room event it equals `event.timeMs`; an admin action is stamped
 * with the acting node's clock when it completes. `(room, epoch, version)` of a
 * room event is unique and suits as an idempotency key; a user status has no version, so consumers
 * order its changes by `timeMs` and keep the newest.
 *
 * Delivery is at most once: a commit whose node dies between the store's answer and the feed's
 * listeners is not reported by anyone (the change itself is committed and published to watchers).
 */
export type Commit =
  | { type: "room_event"; nodeId: string; timeMs: number; event: PresenceEvent }
  | { type: "user_status"; nodeId: string; timeMs: number; status: UserStatusRecord; settings?: UserSettingsChange }
  | { type: "admin_action"; nodeId: string; timeMs: number; action: AdminAction };

/**
 * What the user's own SetStatus set (a field absent: kept), on the `user_status` commits of a
 * SetStatus that changed the custom status or the invisible flag. Every other status commit is
 * caused by a session (join, leave, activity, expiry, a re-assertion after a data loss) and carries
 * the settings the store holds, which are not a decision of the user: after a data loss the store
 * may hold none (history's durable copy folds them accordingly, core/durable-status.ts).
 */
export interface UserSettingsChange {
  customStatus?: string;
  invisible?: boolean;
}

/** What a SetStatus set of the custom status and the invisible flag, or undefined when neither. */
export function settingsChange(customStatus: string | undefined, invisible: boolean | undefined): UserSettingsChange | undefined {
  if (customStatus === undefined && invisible === undefined) return undefined;
  return { ...(customStatus !== undefined ? { customStatus } : {}), ...(invisible !== undefined ? { invisible } : {}) };
}

/**
 * An operator action (AdminService). `actor` is the operator's token subject ('' when the store was
 * called without one). The KICKED leaves the action caused are reported as their own room events.
 */
export type AdminAction =
  | { kind: "kick_session"; actor: string; connectionId: string; userId: string; roomsLeft: number }
  | { kind: "purge_node"; actor: string; nodeId: string; sessionsKicked: number; roomsLeft: number };

/** Receives commits; must not throw (errors are counted and swallowed by the feed). */
export type CommitListener = (commit: Commit) => void;
