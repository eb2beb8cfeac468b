import type { Activity, RoomEndedInfo } from "../../core/presence-event.js";
import type { JoinInput, JoinResult, Lease, LeaveInput, LeaveResult, NavigateInput, NavigateResult, ReapResult, SessionRef } from "../../core/session.js";

/**
 * Sessions and their room memberships: the mutations of the presence model. Shaped for Redis:
 * every call is asynchronous and every membership change commits atomically per room, stamped with
 * (epoch, version), published to the room's watchers (EventBus) and reported once by the commit
 * feed of the node that made it. Inputs are already validated (room names, metadata sizes); the
 * store enforces what needs its state: ownership (the caller's owner key), rooms per session and
 * fencing (an expired or reaped session is never refreshed again, I5).
 *
 * Errors: `PresenceError` with SESSION_NOT_FOUND (unknown, expired, reaped or foreign session:
 * all answer the same so ids cannot be probed), TOO_MANY_ROOMS, or STORE_UNAVAILABLE.
 */
export interface SessionStore {
  /** Joins a room, creating, reusing or reclaiming the session as `JoinInput` says. */
  join(input: JoinInput): Promise<JoinResult>;
  /** Leaves one room; `left` is false (and nothing is published) when the session was not in it. */
  leave(input: LeaveInput): Promise<LeaveResult>;
  /** Leaves `fromRoom` (if in it) and joins `toRoom`, keeping the connection id. */
  navigate(input: NavigateInput): Promise<NavigateResult>;
  /** Refreshes the session's expiry; publishes `updated` events only when the activity changes. */
  heartbeat(input: SessionRef & { activity?: Activity }): Promise<Lease>;
  /**
   * Binds the session to a stream of this node and refreshes it now (fenced like heartbeat).
   * `joined`: the lease of a Join on this node that has just created or reclaimed the session, so it
   * is recorded for this node with a fresh lease: the store may then only note the binding, without
   * a round trip (Redis), and returns that lease.
   */
  attach(input: SessionRef, joined?: Lease): Promise<Lease>;
  /**
   * Refreshes, in one batch, sessions bound to this node's streams. Returns the ids that are gone
   * (ended, expired or reaped): they are never recreated.
   */
  refresh(sessionIds: string[]): Promise<{ missing: string[] }>;
  /** The session's last stream ended: it now expires after `graceMs` unless attached again. */
  release(input: SessionRef, graceMs: number): Promise<void>;
  /** Ends every session whose expiry has passed (leave reason TIMEOUT). Idempotent; shared by nodes. */
  reap(): Promise<ReapResult>;
  /**
   * Ends a session now (operator action): it leaves every room with reason KICKED (one event per
   * room) and is deleted. `actor` (the operator's subject) goes into the commit feed.
   * SESSION_NOT_FOUND when unknown, expired or already ended.
   */
  kickSession(sessionId: string, opts?: { actor?: string }): Promise<{ roomsLeft: number }>;
  /**
   * Live sessions counted against this quota key (`JoinInput.quotaKey`, default the owner key:
   * quota "sessions per caller"; anonymous callers per remote address), counting sessions until
   * they are reaped (an expired session still counts until the next reaper pass); what
   * `JoinInput.maxSessions` is checked against. One command on Redis (docs/store.md).
   */
  countSessions(quotaKey: string): Promise<number>;
  /**
   * Changes the typed presence of the session's connection in a room (member_presence.proto): the
   * given top-level keys merged into the current ones, or the whole record replaced; one `updated`
   * event when it changed. SESSION_NOT_FOUND when the session is not in the room; PRESENCE_TOO_LARGE
   * when the result is over `limits.maxPresenceBytes` / `maxPresenceKeys`.
   */
  updatePresence(input: SessionRef & { room: string; presence: Record<string, string>; replace: boolean }): Promise<void>;
  /**
   * An activity signal of the session (typing, cursor, presence update, a re-Join; a Heartbeat with
   * ACTIVE is one by itself): stamps its last activity (scopes' order included) and makes it active
   * again when it showed away. SESSION_NOT_FOUND like Heartbeat.
   */
  signalActivity(input: SessionRef): Promise<void>;
  /**
   * Server-side away (session-activity.ts): every live session silent for its away threshold shows
   * away from now on (one `updated` event per room, the user status follows). Run by every node
   * every PRESENCE_AWAY_CHECK_MS; idempotent. Returns the sessions it made away.
   */
  sweepAway(): Promise<number>;
  /**
   * Ends a room (rooms.proto): every connection leaves with reason ENDED (a session whose last room
   * it was ends), then the room's subscribers get one `ended` message at its position after the
   * leaves. Returns the connections removed. Admission (the tombstone) is the record's job.
   */
  endRoom(room: string, ended: Omit<RoomEndedInfo, "room" | "epoch" | "version">): Promise<number>;
  /**
   * A managed room's `away_after_ms` changed (UpdateRoom): every session in the room uses it in its
   * away threshold from now on (0 = the room no longer shortens it). Joins read the room's record
   * themselves; this is for the sessions already in it. Returns the sessions in the room.
   */
  roomAwayChanged(room: string, awayAfterMs: number): Promise<number>;
}
