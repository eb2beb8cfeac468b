import type { Activity } from "./presence-event.js";
import type { UserState } from "./user-status.js";

/**
 * Manual presence (SetStatus `presence`, types.proto `PresenceOverride`): a user may set AWAY or
 * ONLINE by hand across all of their sessions, until they set AUTO again. The user state is the
 * most present of the user's sessions (online > away > offline) unless an override is set, which
 * wins while the user has at least one session; a user with no session is offline whatever the
 * override. What each connection shows in rooms follows the same rule: its own activity, unless the
 * user's override says otherwise. Pure functions; stores keep the override on the user record.
 */
export type PresenceOverride = "auto" | "away" | "online";

/** The user state from the activities of the user's sessions and the override. */
export function userStateOf(sessionActivities: Iterable<Activity>, override: PresenceOverride): UserState {
  let any = false;
  let active = false;
  for (const a of sessionActivities) {
    any = true;
    if (a === "active") {
      active = true;
      break; // a user with many sessions: one active one decides
    }
  }
  if (!any) return "offline";
  if (override === "away") return "away";
  if (override === "online") return "online";
  return active ? "online" : "away";
}

/** What one connection shows in a room: its session's activity, overridden by the user's setting. */
export function shownActivity(sessionActivity: Activity, override: PresenceOverride): Activity {
  if (override === "away") return "away";
  if (override === "online") return "active";
  return sessionActivity;
}

/**
 * The connections whose shown activity changes when the override goes from `before` to `after`:
 * each gets one `updated` event in each of its rooms.
 */
export function overrideChanges<T extends { activity: Activity }>(
  sessions: readonly T[],
  before: PresenceOverride,
  after: PresenceOverride,
): { session: T; shown: Activity }[] {
  const out: { session: T; shown: Activity }[] = [];
  for (const s of sessions) {
    const was = shownActivity(s.activity, before);
    const now = shownActivity(s.activity, after);
    if (was !== now) out.push({ session: s, shown: now });
  }
  return out;
}
