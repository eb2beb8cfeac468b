import type { PresenceOverride } from "../../core/presence-override.js";
import type { SessionRef } from "../../core/session.js";
import type { UserStatusRecord } from "../../core/user-status.js";

/**
 * User status across rooms (online / away / offline, last seen, custom status, invisible). The
 * session side (a session starting, changing activity, ending) is recorded by the SessionStore;
 * this port reads statuses and changes what a user sets themself. Changes are published through
 * the EventBus (`subscribeUsers`) and reported by the commit feed.
 */
export interface UserStatusStore {
  /** Statuses of users (real state; visibility is applied by the caller). Unknown users are offline. */
  getUserStatus(userIds: string[]): Promise<UserStatusRecord[]>;
  /**
   * Sets the custom status and/or invisible flag of the session's user; publishes on change.
   * SESSION_NOT_FOUND for a foreign or gone session, PERMISSION_DENIED for an anonymous one.
   */
  /**
   * Sets the custom status, the invisible flag and/or the manual presence (presence-override.ts:
   * "away" / "online" across all of the user's sessions until "auto"); a presence change also makes
   * every connection of the user show it (one `updated` event per connection and room that changes).
   */
  setStatus(input: SessionRef & { customStatus?: string; invisible?: boolean; presence?: PresenceOverride }): Promise<UserStatusRecord>;
}
