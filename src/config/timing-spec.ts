import type { Timings } from "../core/options.js";
import { defaultsOf, int, type IntSpec } from "./option-spec.js";

/** Timings of the presence core (design §9): variable, default, bounds, meaning. Tests shrink them. */
export const TIMING_SPEC: Readonly<Record<keyof Timings, IntSpec>> = {
  heartbeatIntervalMs: int("PRESENCE_HEARTBEAT_INTERVAL_MS", 30_000, 10, 3_600_000, "heartbeat interval told to clients (in every Lease)"),
  sessionTtlMs: int("PRESENCE_SESSION_TTL_MS", 60_000, 20, 86_400_000, "session expiry after the last heartbeat (must exceed the interval)"),
  reaperIntervalMs: int("PRESENCE_REAPER_INTERVAL_MS", 5_000, 5, 600_000, "how often expired sessions are reaped (each leaves with reason TIMEOUT)"),
  typingTtlMs: int("PRESENCE_TYPING_TTL_MS", 5_000, 10, 600_000, "typing indicator lifetime unless repeated"),
  cursorFlushMs: int("PRESENCE_CURSOR_FLUSH_MS", 50, 5, 10_000, "cursor batch interval"),
  cursorTtlMs: int("PRESENCE_CURSOR_TTL_MS", 10_000, 10, 3_600_000, "cursor kept for late joiners (older ones are dropped from snapshots)"),
  keepaliveMs: int("PRESENCE_KEEPALIVE_MS", 30_000, 10, 3_600_000, "watch stream keepalive interval (a message after this long without others)"),
  roomRetentionMs: int("PRESENCE_ROOM_RETENTION_MS", 120_000, 0, 86_400_000, "room state (epoch, log) kept after the last member and watcher"),
  logMaxEntries: int("PRESENCE_LOG_MAX_ENTRIES", 1_000, 1, 1_000_000, "event log entries kept per room"),
  logMaxAgeMs: int("PRESENCE_LOG_MAX_AGE_MS", 120_000, 0, 86_400_000, "oldest event log entry kept"),
  watcherStallMs: int("PRESENCE_WATCHER_STALL_MS", 60_000, 100, 3_600_000, "a watch stream not read for this long is reset (SLOW_CONSUMER)"),
  nodeRefreshMs: int(
    "PRESENCE_NODE_REFRESH_MS",
    20_000,
    5,
    3_600_000,
    "sessions bound to a watch stream or socket are refreshed by their node this often (must be below the TTL; unset, it is at most a third of the TTL); the node also records itself in the node registry this often, and is reported dead after twice this",
  ),
  reconnectGraceMs: int("PRESENCE_RECONNECT_GRACE_MS", 10_000, 0, 600_000, "a session whose stream or socket ended is kept this long for a reconnect"),
  positionCheckMs: int("PRESENCE_POSITION_CHECK_MS", 30_000, 10, 3_600_000, "watched rooms are compared with the store this often (a lost last message is caught within two intervals)"),
  scopeCountsIntervalMs: int("PRESENCE_SCOPE_COUNTS_INTERVAL_MS", 1_000, 10, 3_600_000, "WatchScopeCounts reads its scopes' counts this often and sends changes"),
  awayAfterMs: int("PRESENCE_AWAY_AFTER_MS", 300_000, 0, 604_800_000, "a session silent this long shows away (server-side away; 0: never); per scope: `PRESENCE_AWAY_AFTER_MS_BY_SCOPE`; a managed room's `away_after_ms` shortens it for the sessions in the room"),
  awayCheckMs: int("PRESENCE_AWAY_CHECK_MS", 1_000, 10, 600_000, "the away sweep runs this often on every node (a silent session is away within this of its threshold)"),
  activityWriteIntervalMs: int("PRESENCE_ACTIVITY_WRITE_INTERVAL_MS", 5_000, 0, 600_000, "activity signals of one session are written to the store at most this often per node (at least twice per the session's away threshold); ListOnline's order, room connections' `last_active_ms` and the LAST_ACTIVE room order are exact to this"),
  lastSeenRetentionMs: int("PRESENCE_LAST_SEEN_RETENTION_MS", 30 * 86_400_000, 0, 365 * 86_400_000, "last seen of offline users kept (30 days)"),
};

/** Every timing at its default (tests start from these and shrink what they need). */
export const DEFAULT_TIMINGS: Readonly<Timings> = Object.freeze(defaultsOf(TIMING_SPEC));
