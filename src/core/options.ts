/**
 * Timings and limits of the presence core, with their documented defaults (design §9). Every value
 * is an option; `src/config.ts` reads them from `PRESENCE_*` environment variables and tests shrink
 * the timings.
 */

export interface Timings {
  /** How often clients should heartbeat (told in every Lease). Default 30 s. */
  heartbeatIntervalMs: number;
  /** A session expires this long after its last heartbeat. Default 60 s. */
  sessionTtlMs: number;
  /** How often expired sessions are reaped (each leaves with reason TIMEOUT). Default 5 s. */
  reaperIntervalMs: number;
  /** Typing indicator lifetime unless repeated. Default 5 s. */
  typingTtlMs: number;
  /** Cursor batches are flushed to watchers this often. Default 50 ms. */
  cursorFlushMs: number;
  /** Cursors older than this are dropped from snapshots. Default 10 s. */
  cursorTtlMs: number;
  /** A watch stream gets a keepalive message after this long without other messages. Default 30 s. */
  keepaliveMs: number;
  /** A room's state (epoch, log) is kept this long after its last member and watcher. Default 2 min. */
  roomRetentionMs: number;
  /** Event log: entries kept per room. Default 1,000. */
  logMaxEntries: number;
  /** Event log: oldest entry age kept. Default 2 min. */
  logMaxAgeMs: number;
  /** A watch stream whose client has not read for this long is ended with SLOW_CONSUMER. Default 60 s. */
  watcherStallMs: number;
  /** Last seen of an offline user is kept this long. Default 30 days. */
  lastSeenRetentionMs: number;
  /** Sessions bound to a stream (or socket) are refreshed by their node this often. Default 20 s. */
  nodeRefreshMs: number;
  /** A session whose stream (or socket) ended is kept this long for a reconnect. Default 10 s. */
  reconnectGraceMs: number;
  /**
   * Watched rooms' positions are compared with the store this often (tail-loss check). A watcher
   * is resynced when it is still behind the position seen at the previous check, so a lost last
   * message is caught within two intervals. Default 30 s.
   */
  positionCheckMs: number;
  /** WatchScopeCounts reads the counts of its scopes this often and sends changes. Default 1 s. */
  scopeCountsIntervalMs: number;
  /** A session silent this long shows away (server-side away); 0 = never. Default 5 min. */
  awayAfterMs: number;
  /** Every node runs the away sweep this often (a silent session is away within this of its threshold). Default 1 s. */
  awayCheckMs: number;
  /** Activity signals of one session are written to the store at most this often per node. Default 5 s. */
  activityWriteIntervalMs: number;
}

export interface Limits {
  /** Room name length in UTF-8 bytes. Default 256. */
  maxRoomNameBytes: number;
  /** Metadata per member (sum of key and value bytes + 2 per entry). Default 1,024. */
  maxMetadataBytes: number;
  /** Metadata entries per member. Default 32. */
  maxMetadataEntries: number;
  /** Rooms one session may be in at once. Default 16. */
  maxRoomsPerSession: number;
  /** Watch streams per process. Default 50,000. */
  maxWatchers: number;
  /** Queued deliveries per watcher before it is switched to "needs snapshot". Default 256. */
  watcherQueueSize: number;
  /** Cursor updates applied per session per second; the excess is coalesced. Default 30. */
  cursorRatePerSec: number;
  /** Typing changes applied per session per second; the excess is coalesced. Default 2. */
  typingRatePerSec: number;
  /** Users per snapshot page. Default 500. */
  snapshotPageSize: number;
  /** Above this many connections, Join answers omit the member list. Default 1,000. */
  largeRoomThreshold: number;
  /** Rooms per BatchGetPresence call. Default 100. */
  maxBatchRooms: number;
  /** Bytes of ids given by clients (request id, anonymous id). Default 64. */
  maxIdBytes: number;
  /** Bytes of a cursor's `element`. Default 256. */
  maxCursorElementBytes: number;
  /** User ids per GetUserStatus / WatchUsers call. Default 1,000. */
  maxUserIds: number;
  /** Bytes of a custom status text. Default 128. */
  maxCustomStatusBytes: number;
  /** Typed presence per connection and room: key and JSON bytes + 2 per key. Default 2,048. */
  maxPresenceBytes: number;
  /** Typed presence per connection and room: top-level keys. Default 32. */
  maxPresenceKeys: number;
  /** Typed-presence updates applied per session and room per second; the excess is merged. Default 10. */
  presenceRatePerSec: number;
  /** Scopes one session may carry (besides the global one). Default 8. */
  maxScopesPerSession: number;
  /** Users per ListOnline page, at most. Default 1,000. */
  maxListPageSize: number;
  /** Scopes per CountOnline / WatchScopeCounts call. Default 100. */
  maxCountScopes: number;
}

export const DEFAULT_TIMINGS: Readonly<Timings> = Object.freeze({
  heartbeatIntervalMs: 30_000,
  sessionTtlMs: 60_000,
  reaperIntervalMs: 5_000,
  typingTtlMs: 5_000,
  cursorFlushMs: 50,
  cursorTtlMs: 10_000,
  keepaliveMs: 30_000,
  roomRetentionMs: 120_000,
  logMaxEntries: 1_000,
  logMaxAgeMs: 120_000,
  watcherStallMs: 60_000,
  lastSeenRetentionMs: 30 * 24 * 3_600_000,
  nodeRefreshMs: 20_000,
  reconnectGraceMs: 10_000,
  positionCheckMs: 30_000,
  scopeCountsIntervalMs: 1_000,
  awayAfterMs: 300_000,
  awayCheckMs: 1_000,
  activityWriteIntervalMs: 5_000,
});

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxRoomNameBytes: 256,
  maxMetadataBytes: 1_024,
  maxMetadataEntries: 32,
  maxRoomsPerSession: 16,
  maxWatchers: 50_000,
  watcherQueueSize: 256,
  cursorRatePerSec: 30,
  typingRatePerSec: 2,
  snapshotPageSize: 500,
  largeRoomThreshold: 1_000,
  maxBatchRooms: 100,
  maxIdBytes: 64,
  maxCursorElementBytes: 256,
  maxUserIds: 1_000,
  maxCustomStatusBytes: 128,
  maxPresenceBytes: 2_048,
  maxPresenceKeys: 32,
  presenceRatePerSec: 10,
  maxScopesPerSession: 8,
  maxListPageSize: 1_000,
  maxCountScopes: 100,
});
