/**
 * Timings and limits of the presence core (design §9). Every value is an option: its variable,
 * default and bounds are in `src/config/timing-spec.ts` and `src/config/limit-spec.ts` (the one
 * source; `DEFAULT_TIMINGS` / `DEFAULT_LIMITS` there), and tests shrink the timings.
 */

export interface Timings {
  /** How often clients should heartbeat (told in every Lease). */
  heartbeatIntervalMs: number;
  /** A session expires this long after its last heartbeat. */
  sessionTtlMs: number;
  /** How often expired sessions are reaped (each leaves with reason TIMEOUT). */
  reaperIntervalMs: number;
  /** Typing indicator lifetime unless repeated. */
  typingTtlMs: number;
  /** Cursor batches are flushed to watchers this often. */
  cursorFlushMs: number;
  /** Cursors older than this are dropped from snapshots. */
  cursorTtlMs: number;
  /** A watch stream gets a keepalive message after this long without other messages. */
  keepaliveMs: number;
  /** A room's state (epoch, log) is kept this long after its last member and watcher. */
  roomRetentionMs: number;
  /** Event log: entries kept per room. */
  logMaxEntries: number;
  /** Event log: oldest entry age kept. */
  logMaxAgeMs: number;
  /** A watch stream whose client has not read for this long is ended with SLOW_CONSUMER. */
  watcherStallMs: number;
  /** Last seen of an offline user is kept this long. */
  lastSeenRetentionMs: number;
  /** Sessions bound to a stream (or socket) are refreshed by their node this often. */
  nodeRefreshMs: number;
  /** A session whose stream (or socket) ended is kept this long for a reconnect. */
  reconnectGraceMs: number;
  /**
   * Watched rooms' positions are compared with the store this often (tail-loss check). A watcher
   * is resynced when it is still behind the position seen at the previous check, so a lost last
   * message is caught within two intervals.
   */
  positionCheckMs: number;
  /** WatchScopeCounts reads the counts of its scopes this often and sends changes. */
  scopeCountsIntervalMs: number;
  /** A session silent this long shows away (server-side away); 0 = never. */
  awayAfterMs: number;
  /** Every node runs the away sweep this often (a silent session is away within this of its threshold). */
  awayCheckMs: number;
  /** Activity signals of one session are written to the store at most this often per node. */
  activityWriteIntervalMs: number;
}

export interface Limits {
  /** Room name length in UTF-8 bytes. */
  maxRoomNameBytes: number;
  /** Metadata per member (sum of key and value bytes + 2 per entry). */
  maxMetadataBytes: number;
  /** Metadata entries per member. */
  maxMetadataEntries: number;
  /** Rooms one session may be in at once. */
  maxRoomsPerSession: number;
  /** Watch streams per process. */
  maxWatchers: number;
  /** Queued deliveries per watcher before it is switched to "needs snapshot". */
  watcherQueueSize: number;
  /** Cursor updates applied per session per second; the excess is coalesced. */
  cursorRatePerSec: number;
  /** Typing changes applied per session per second; the excess is coalesced. */
  typingRatePerSec: number;
  /** Users per snapshot page. */
  snapshotPageSize: number;
  /** Above this many connections, Join answers omit the member list. */
  largeRoomThreshold: number;
  /** Rooms per BatchGetPresence call. */
  maxBatchRooms: number;
  /** Bytes of ids given by clients (request id, anonymous id). */
  maxIdBytes: number;
  /** Bytes of a cursor's `element`. */
  maxCursorElementBytes: number;
  /** User ids per GetUserStatus / WatchUsers call. */
  maxUserIds: number;
  /** Bytes of a custom status text. */
  maxCustomStatusBytes: number;
  /** Bytes of a user id a request names (GetUserStatus, WatchUsers, on_behalf_of, a room's owner, history filters). */
  maxUserIdBytes: number;
  /** Typed presence per connection and room: key and JSON bytes + 2 per key. */
  maxPresenceBytes: number;
  /** Typed presence per connection and room: top-level keys. */
  maxPresenceKeys: number;
  /** Typed-presence updates applied per session and room per second; the excess is merged. */
  presenceRatePerSec: number;
  /** Scopes one session may carry (besides the global one). */
  maxScopesPerSession: number;
  /** Users per ListOnline page, at most. */
  maxListPageSize: number;
  /** Scopes per CountOnline / WatchScopeCounts call. */
  maxCountScopes: number;
  /** Session buckets the Redis reaper works on at once. */
  reaperConcurrency: number;
}

/** Limits of the backend calls (issue 14); variables, defaults and bounds: `src/config/backend-spec.ts`. */
export interface BackendLimits {
  /** Items per HeartbeatBatch / LeaveBatch call. */
  maxBatchSessions: number;
  /** Presences (keys × rooms) one Track stream may hold (TOO_MANY_PRESENCES past it). */
  trackMaxPresences: number;
  /** Requests per second one Track stream is read at, on average (flow control, never refused). */
  trackMaxMessagesPerSec: number;
  /** Requests one Track stream may send at once above that rate (the token bucket's size). */
  trackBurst: number;
  /** Requests of one Track stream processed at once. */
  trackMaxInFlight: number;
  /** Room patterns, and user patterns, per WatchEvents call. */
  eventsMaxPatterns: number;
  /** How long backend events stay in the deployment's feed for WatchEvents resumes. */
  eventsRetentionMs: number;
  /** Broadcast payload limit (serialized bytes). */
  broadcastMaxBytes: number;
  /** Broadcasts per second per session (or per caller without a session), and the burst above it. */
  broadcastRatePerSec: number;
  broadcastBurst: number;
}
