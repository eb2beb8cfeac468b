import type { Activity } from "./presence-event.js";

/**
 * User status across all rooms (design §3): online when at least one session is active, away when
 * sessions exist but all are away, offline when there are none; plus last seen (end of the last
 * session, kept 30 days by default), a custom status text and an invisible flag. Pure functions;
 * stores keep the records.
 */
export type UserState = "online" | "away" | "offline";

/** What a store keeps and publishes for one user (the real state, before visibility rules). */
export interface UserStatusRecord {
  userId: string;
  state: UserState;
  /** End of the last session (ms since the epoch); 0 if never seen. Meaningful when offline. */
  lastSeenMs: number;
  customStatus: string;
  invisible: boolean;
  /** Last seen as shown to others while invisible (when the user went invisible or offline). */
  visibleLastSeenMs: number;
  /** The manual presence set with SetStatus (presence-override.ts); absent = "auto". Only the user sees it. */
  presenceOverride?: "auto" | "away" | "online";
  /** Last activity signal of any session (GetUserStatus fills it from the global scope); absent when offline or hidden. */
  lastActiveMs?: number;
}

/**
 * What a store puts into a user's record when it creates one (JoinInput.restoreStatus, and the
 * re-assertion of a session after a data loss): the user's last known last seen, custom status and
 * invisible flag (history's durable copy, or what the node last saw), so a user whose record the
 * store lost comes back as she was, in the same commit as her join: never shown visible, or with
 * a fresh last seen, meanwhile. A store applies it only when it holds no record of the user (its
 * own record is fresher), never over an existing one (user-presence.ts `applyUserSession`).
 */
export interface UserRestore {
  lastSeenMs: number;
  /** Last seen shown to others while invisible. */
  visibleLastSeenMs: number;
  customStatus: string;
  invisible: boolean;
  /** When the custom status or the invisible flag last changed (ms; 0: never). */
  changedAtMs: number;
}

/** The newer of two restores (by `changedAtMs`; last seen: the later of both). */
export function newerRestore(a: UserRestore | undefined, b: UserRestore | undefined): UserRestore | undefined {
  if (!a || !b) return a ?? b;
  const newer = b.changedAtMs > a.changedAtMs ? b : a;
  return { ...newer, lastSeenMs: Math.max(a.lastSeenMs, b.lastSeenMs) };
}

/** True when a restore would put anything into a blank record. */
export const restoresSomething = (r: UserRestore | undefined): r is UserRestore => !!r && (r.invisible || r.customStatus !== "" || r.lastSeenMs > 0);

/** The state a set of session activities gives. */
export function stateOf(activities: Iterable<Activity>): UserState {
  let any = false;
  for (const a of activities) {
    if (a === "active") return "online";
    any = true;
  }
  return any ? "away" : "offline";
}

/** The status of a user nobody has seen (within the retention). */
export function unknownUser(userId: string): UserStatusRecord {
  return { userId, state: "offline", lastSeenMs: 0, customStatus: "", invisible: false, visibleLastSeenMs: 0 };
}

/** The status `viewerUserId` may see: others see an invisible user as offline. */
export function visibleStatus(r: UserStatusRecord, viewerUserId: string, nowMs: number): UserStatusRecord {
  const self = viewerUserId !== "" && viewerUserId === r.userId;
  if (r.invisible && !self) {
    return { userId: r.userId, state: "offline", lastSeenMs: r.visibleLastSeenMs, customStatus: "", invisible: false, visibleLastSeenMs: r.visibleLastSeenMs };
  }
  const lastSeenMs = r.state === "offline" ? r.lastSeenMs : nowMs;
  const { presenceOverride, ...rest } = r;
  return { ...rest, lastSeenMs, invisible: self ? r.invisible : false, ...(self && presenceOverride ? { presenceOverride } : {}) };
}

/** The users of `shown` (records as a viewer sees them) whose last activity may be told: online or away. */
export const presentUserIds = (shown: readonly UserStatusRecord[]): string[] => shown.filter((r) => r.state !== "offline").map((r) => r.userId);

/** `shown` with each present user's last activity from `active` (GetUserStatus, WatchUsers snapshots). */
export function withLastActive(shown: UserStatusRecord[], active: ReadonlyMap<string, number> | undefined): UserStatusRecord[] {
  if (!active || active.size === 0) return shown;
  return shown.map((r) => (r.state !== "offline" && active.has(r.userId) ? { ...r, lastActiveMs: active.get(r.userId) } : r));
}

/** True when two records look the same to every viewer (no change to publish). */
export function sameStatus(a: UserStatusRecord, b: UserStatusRecord): boolean {
  return (
    a.state === b.state &&
    a.customStatus === b.customStatus &&
    a.invisible === b.invisible &&
    a.lastSeenMs === b.lastSeenMs &&
    a.visibleLastSeenMs === b.visibleLastSeenMs &&
    (a.presenceOverride ?? "auto") === (b.presenceOverride ?? "auto")
  );
}

/**
 * A status the store no longer holds (Redis lost it, or it expired there) completed from its
 * durable copy: an offline user the store reports as never seen gets the durable last seen,
 * custom status and invisible flag. A user the store knows (online, away, or offline with a last
 * seen) is left as the store says: the store is the fresher source.
 */
export function withDurable(r: UserStatusRecord, durable: { lastSeenMs: number; visibleLastSeenMs: number; customStatus: string; invisible: boolean } | undefined): UserStatusRecord {
  if (!durable || r.state !== "offline" || r.lastSeenMs !== 0) return r;
  return { ...r, lastSeenMs: durable.lastSeenMs, visibleLastSeenMs: durable.visibleLastSeenMs, customStatus: durable.customStatus, invisible: durable.invisible };
}
