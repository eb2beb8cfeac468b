import type { Activity } from "./presence-event.js";

/**
 * Server-decided away (issue 12, types.proto `Activity`): a session is away when it reported away
 * (a Heartbeat with AWAY, e.g. a hidden browser tab) or when it sent no activity signal for its
 * away threshold; an activity signal makes it active again at once. Pure functions over a small
 * record; stores keep the record and call these with the store's `now`.
 *
 * Activity signals: Join, SetTyping, UpdateCursor, UpdatePresence, and a Heartbeat (RPC or UDP)
 * with ACTIVE. A Heartbeat with UNSPECIFIED only keeps the session alive.
 *
 * Timing: the transition to away happens when a store's away sweep runs after the deadline
 * (`awayAt`), so it is observed within one sweep interval (PRESENCE_AWAY_CHECK_MS) of the threshold.
 */
export interface SessionActivity {
  /** Last activity signal (ms since the epoch). */
  lastActiveMs: number;
  /** True after a Heartbeat with AWAY, until the next activity signal. */
  reportedAway: boolean;
  /** What the session shows now (what its members and the user status were last told). */
  shown: Activity;
}

/** What a signal of a request means for the session's activity. */
export type ActivityInput = "signal" | "away" | "keep";

/** A new session's activity record: a Join is an activity signal (or reports away when asked). */
export function newSessionActivity(nowMs: number, initial: Activity = "active"): SessionActivity {
  return { lastActiveMs: nowMs, reportedAway: initial === "away", shown: initial };
}

/** The input a Heartbeat's activity field carries: ACTIVE is a signal, AWAY a report, unset keeps. */
export function heartbeatInput(activity: Activity | undefined): ActivityInput {
  return activity === "active" ? "signal" : activity === "away" ? "away" : "keep";
}

/** The activity a session should show at `nowMs` given its away threshold (0 = never idle-away). */
export function effectiveActivity(s: Pick<SessionActivity, "lastActiveMs" | "reportedAway">, thresholdMs: number, nowMs: number): Activity {
  if (s.reportedAway) return "away";
  if (thresholdMs > 0 && nowMs - s.lastActiveMs >= thresholdMs) return "away";
  return "active";
}

/**
 * When an active session becomes away by silence: `lastActiveMs + thresholdMs`; Infinity when it
 * never will (threshold 0) or when it is away already (reported).
 */
export function awayAt(s: Pick<SessionActivity, "lastActiveMs" | "reportedAway">, thresholdMs: number): number {
  if (s.reportedAway || thresholdMs <= 0) return Number.POSITIVE_INFINITY;
  return s.lastActiveMs + thresholdMs;
}

/** Result of applying an input: the new record and whether what the session shows changed. */
export interface ActivityChange {
  next: SessionActivity;
  /** Set when `shown` changed: the activity to publish (one `updated` event per room). */
  changed: Activity | null;
}

/**
 * Applies a request's input at `nowMs` and re-evaluates what the session shows. A signal stamps
 * `lastActiveMs` (never backwards) and clears a reported away; "away" sets it; "keep" only
 * re-evaluates (a session past its threshold shows away).
 */
export function applyActivity(s: SessionActivity, input: ActivityInput, thresholdMs: number, nowMs: number): ActivityChange {
  let next: SessionActivity = s;
  if (input === "signal") next = { ...s, lastActiveMs: Math.max(s.lastActiveMs, nowMs), reportedAway: false };
  else if (input === "away" && !s.reportedAway) next = { ...s, reportedAway: true };
  return settle(next, thresholdMs, nowMs);
}

/** Re-evaluates a session at `nowMs` (the away sweep): changes `shown` when the threshold passed. */
export function sweepActivity(s: SessionActivity, thresholdMs: number, nowMs: number): ActivityChange {
  return settle(s, thresholdMs, nowMs);
}

function settle(s: SessionActivity, thresholdMs: number, nowMs: number): ActivityChange {
  const shown = effectiveActivity(s, thresholdMs, nowMs);
  if (shown === s.shown) return { next: s, changed: null };
  return { next: { ...s, shown }, changed: shown };
}

/**
 * Whether a signal at `nowMs` must be written to a shared store now: the first signal after
 * `writeIntervalMs` since the last written one, or any signal that changes what the session shows
 * (an away session coming back is never delayed). Stores that write activity to Redis use this to
 * bound writes to one per session per interval; the newest stamp is written by the next one.
 */
export function mustWriteSignal(lastWrittenMs: number, shownAway: boolean, writeIntervalMs: number, nowMs: number): boolean {
  return shownAway || nowMs - lastWrittenMs >= writeIntervalMs;
}
