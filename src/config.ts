import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { loadAccessConfig, loadRedisSecurity, type AccessConfig, type NumSpec, type RedisSecurity } from "./config-access.js";
import { defaultNodeId, NODE_ID } from "./core/node-id.js";
import { parseScopeOverrides } from "./core/away-policy.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS, type Limits, type Timings } from "./core/options.js";
import { LOG_LEVELS, type LogLevel } from "./logger.js";
import { WS_ENGINE_CHOICES, type WsEngineChoice } from "./transport/ws/ws-engine.js";

/**
 * Configuration from `PRESENCE_*` environment variables, parsed and validated once into a frozen
 * object. Every numeric option has a default and bounds; an invalid value stops start-up with a
 * message naming the variable, the value and the allowed range. `CONFIG_SPEC` is the documented
 * table (the README lists it).
 */
export interface Config {
  host: string;
  rpcPort: number;
  adminPort: number;
  /** PRESENCE_ADMIN_HOST: the admin port's bind address (default 127.0.0.1: metrics and readiness stay local). */
  adminHost: string;
  corsOrigins: string[];
  /**
   * PRESENCE_NODE_ID: this process's node id, recorded on the sessions it holds, listed by
   * `presence nodes` and named in `presence purge-node`. Default `<hostname>-<6 random hex>`: new
   * at every start, so a restarted process never inherits a dead one's sessions.
   */
  nodeId: string;
  /** PRESENCE_LOG_LEVEL (default info). */
  logLevel: LogLevel;
  auth: {
    jwtSecret?: string;
    jwksFile?: string;
    /** PRESENCE_JWKS_URL: a remote JWKS (fetched with a timeout, cached; see `access.jwks`). */
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
    allowAnonymous: boolean;
    /** Verified tokens cached until they expire (0 = off). */
    tokenCacheSize: number;
  };
  timings: Timings;
  limits: Limits;
  /** Access control, quotas, the authorization hook, connection limits and slow-client timeouts. */
  access: AccessConfig;
  /** Maximum request body / message size for RPCs (Connect `readMaxBytes`). */
  maxRequestBytes: number;
  /** Shutdown deadline: streams end with DRAINING at once; sockets are destroyed after this. */
  shutdownDeadlineMs: number;
  /** The durable activity log and user status (docs/history.md): PostgreSQL, the embedded PGlite, or off. */
  history: HistoryConfig;
  /** Redis store (many nodes); without it the embedded memory store is used. */
  redis: { url?: string; clusterSeeds: string[]; prefix: string; commandTimeoutMs: number; connectTimeoutMs: number } & RedisSecurity;
  /** HTTP/2 server PING interval and timeout (detects silent peers). */
  h2PingIntervalMs: number;
  h2PingTimeoutMs: number;
  /** Readiness (`/readyz`, gRPC health, `presence_ready`): probe period and the bound of one probe. */
  readiness: { intervalMs: number; timeoutMs: number };
  /** WebSocket bridge (its message limit is `maxRequestBytes`). */
  ws: {
    port: number;
    /**
     * PRESENCE_WS_ENGINE: `auto` (default: uWebSockets.js where its native build loads, else the
     * pure-JavaScript `ws` package, with a warning saying why), `uws` or `ws`.
     */
    engine: WsEngineChoice;
    /** Idle timeout (s), with automatic pings at half of it; uWS aborts the process outside 8..960. */
    idleTimeoutSec: number;
    /** Per-socket send-buffer cap (uWS `maxBackpressure`). */
    maxBufferedBytes: number;
    /** A socket over its cap for this long is closed with 4001. */
    stallMs: number;
    maxWatchesPerSocket: number;
    maxFramesPerSec: number;
    frameBurst: number;
  };
  /**
   * UDP heartbeats (udp.proto): off unless PRESENCE_UDP_PORT is set. `secret` (PRESENCE_UDP_SECRET,
   * ≥ 32 bytes) derives every session's heartbeat key; required with a Redis store (every node must
   * derive the same keys), random per process on the memory store when unset.
   */
  udp: {
    port: number | undefined;
    secret: string | undefined;
    replayWindowMs: number;
    minIntervalMs: number;
    maxDatagramBytes: number;
    maxTrackedSessions: number;
  };
  /**
   * gRPC server reflection v1 and v1alpha on the RPC port (PRESENCE_REFLECTION). Default: on in
   * development (no PRESENCE_JWT_SECRET and no PRESENCE_JWKS_FILE), off otherwise.
   */
  reflection: boolean;
  /** Shards per scope in Redis (PRESENCE_SCOPE_SHARDS, default 16). */
  scopeShards: number;
  /** Managed rooms (rooms.proto): bounds and defaults. */
  rooms: { tombstoneMs: number; defaultIdleTimeoutMs: number; maxParticipants: number };
  /** PRESENCE_AWAY_AFTER_MS_BY_SCOPE: scope-name prefix → away threshold (ms). */
  awayScopeOverrides: [string, number][];
  /** The demo page on the WebSocket port (`GET /`, `/app.js`) and its token endpoint. */
  demo: {
    /**
     * `GET /demo/token` signs tokens for any name (PRESENCE_DEMO). Default: on only when no
     * PRESENCE_JWT_SECRET and no PRESENCE_JWKS_FILE are set (the server then signs with an
     * ephemeral secret made at start-up).
     */
    tokens: boolean;
    /** The built page (PRESENCE_DEMO_DIR; default `dist/demo/` of this package, `npm run build:demo`). */
    dir: string;
  };
}


const n = (env: string, def: number, min: number, max: number, doc: string): NumSpec => ({ env, default: def, min, max, doc });

/** Numeric options: variable, default, bounds and meaning. */
export const TIMING_SPEC: Record<keyof Timings, NumSpec> = {
  heartbeatIntervalMs: n("PRESENCE_HEARTBEAT_INTERVAL_MS", DEFAULT_TIMINGS.heartbeatIntervalMs, 10, 3_600_000, "heartbeat interval told to clients"),
  sessionTtlMs: n("PRESENCE_SESSION_TTL_MS", DEFAULT_TIMINGS.sessionTtlMs, 20, 86_400_000, "session expiry after the last heartbeat"),
  reaperIntervalMs: n("PRESENCE_REAPER_INTERVAL_MS", DEFAULT_TIMINGS.reaperIntervalMs, 5, 600_000, "how often expired sessions are reaped"),
  typingTtlMs: n("PRESENCE_TYPING_TTL_MS", DEFAULT_TIMINGS.typingTtlMs, 10, 600_000, "typing indicator lifetime"),
  cursorFlushMs: n("PRESENCE_CURSOR_FLUSH_MS", DEFAULT_TIMINGS.cursorFlushMs, 5, 10_000, "cursor batch interval"),
  cursorTtlMs: n("PRESENCE_CURSOR_TTL_MS", DEFAULT_TIMINGS.cursorTtlMs, 10, 3_600_000, "cursor kept for late joiners"),
  keepaliveMs: n("PRESENCE_KEEPALIVE_MS", DEFAULT_TIMINGS.keepaliveMs, 10, 3_600_000, "watch stream keepalive interval"),
  roomRetentionMs: n("PRESENCE_ROOM_RETENTION_MS", DEFAULT_TIMINGS.roomRetentionMs, 0, 86_400_000, "room state kept after the last member and watcher"),
  logMaxEntries: n("PRESENCE_LOG_MAX_ENTRIES", DEFAULT_TIMINGS.logMaxEntries, 1, 1_000_000, "event log entries kept per room"),
  logMaxAgeMs: n("PRESENCE_LOG_MAX_AGE_MS", DEFAULT_TIMINGS.logMaxAgeMs, 0, 86_400_000, "oldest event log entry kept"),
  watcherStallMs: n("PRESENCE_WATCHER_STALL_MS", DEFAULT_TIMINGS.watcherStallMs, 100, 3_600_000, "a watch stream not read for this long is reset"),
  nodeRefreshMs: n("PRESENCE_NODE_REFRESH_MS", DEFAULT_TIMINGS.nodeRefreshMs, 5, 3_600_000, "stream-bound sessions refreshed by their node"),
  reconnectGraceMs: n("PRESENCE_RECONNECT_GRACE_MS", DEFAULT_TIMINGS.reconnectGraceMs, 0, 600_000, "session kept after its stream ended"),
  positionCheckMs: n("PRESENCE_POSITION_CHECK_MS", DEFAULT_TIMINGS.positionCheckMs, 10, 3_600_000, "watched rooms compared with the store (tail-loss check)"),
  awayAfterMs: n("PRESENCE_AWAY_AFTER_MS", DEFAULT_TIMINGS.awayAfterMs, 0, 604_800_000, "a session silent this long shows away (0: never)"),
  awayCheckMs: n("PRESENCE_AWAY_CHECK_MS", DEFAULT_TIMINGS.awayCheckMs, 10, 600_000, "the away sweep runs this often on every node"),
  activityWriteIntervalMs: n("PRESENCE_ACTIVITY_WRITE_INTERVAL_MS", DEFAULT_TIMINGS.activityWriteIntervalMs, 0, 600_000, "activity signals of one session written at most this often per node"),
  scopeCountsIntervalMs: n("PRESENCE_SCOPE_COUNTS_INTERVAL_MS", DEFAULT_TIMINGS.scopeCountsIntervalMs, 10, 3_600_000, "WatchScopeCounts reads its scopes' counts this often and sends changes"),
  lastSeenRetentionMs: n("PRESENCE_LAST_SEEN_RETENTION_MS", DEFAULT_TIMINGS.lastSeenRetentionMs, 0, 365 * 86_400_000, "last seen of offline users kept"),
};

export const LIMIT_SPEC: Record<keyof Limits, NumSpec> = {
  maxRoomNameBytes: n("PRESENCE_MAX_ROOM_NAME_BYTES", DEFAULT_LIMITS.maxRoomNameBytes, 1, 4_096, "room name length (UTF-8 bytes)"),
  maxMetadataBytes: n("PRESENCE_MAX_METADATA_BYTES", DEFAULT_LIMITS.maxMetadataBytes, 0, 65_536, "metadata per member (bytes)"),
  maxMetadataEntries: n("PRESENCE_MAX_METADATA_ENTRIES", DEFAULT_LIMITS.maxMetadataEntries, 0, 1_024, "metadata entries per member"),
  maxRoomsPerSession: n("PRESENCE_MAX_ROOMS_PER_SESSION", DEFAULT_LIMITS.maxRoomsPerSession, 1, 1_024, "rooms one session may be in"),
  maxWatchers: n("PRESENCE_MAX_WATCHERS", DEFAULT_LIMITS.maxWatchers, 1, 10_000_000, "watch streams per process"),
  watcherQueueSize: n("PRESENCE_WATCHER_QUEUE_SIZE", DEFAULT_LIMITS.watcherQueueSize, 1, 1_000_000, "queued deliveries per watcher"),
  cursorRatePerSec: n("PRESENCE_CURSOR_RATE_PER_SEC", DEFAULT_LIMITS.cursorRatePerSec, 1, 1_000, "cursor updates per session and room per second"),
  typingRatePerSec: n("PRESENCE_TYPING_RATE_PER_SEC", DEFAULT_LIMITS.typingRatePerSec, 1, 1_000, "typing changes per session and room per second"),
  snapshotPageSize: n("PRESENCE_SNAPSHOT_PAGE_SIZE", DEFAULT_LIMITS.snapshotPageSize, 1, 10_000, "users per snapshot page"),
  largeRoomThreshold: n("PRESENCE_LARGE_ROOM_THRESHOLD", DEFAULT_LIMITS.largeRoomThreshold, 0, 10_000_000, "connections above which Join omits members"),
  maxBatchRooms: n("PRESENCE_MAX_BATCH_ROOMS", DEFAULT_LIMITS.maxBatchRooms, 1, 10_000, "rooms per BatchGetPresence"),
  maxIdBytes: n("PRESENCE_MAX_ID_BYTES", DEFAULT_LIMITS.maxIdBytes, 8, 1_024, "client-chosen ids (request id, anonymous id)"),
  maxCursorElementBytes: n("PRESENCE_MAX_CURSOR_ELEMENT_BYTES", DEFAULT_LIMITS.maxCursorElementBytes, 0, 4_096, "cursor element (bytes)"),
  maxUserIds: n("PRESENCE_MAX_USER_IDS", DEFAULT_LIMITS.maxUserIds, 1, 100_000, "user ids per GetUserStatus / WatchUsers"),
  maxCustomStatusBytes: n("PRESENCE_MAX_CUSTOM_STATUS_BYTES", DEFAULT_LIMITS.maxCustomStatusBytes, 0, 4_096, "custom status text (bytes)"),
  maxPresenceBytes: n("PRESENCE_MAX_PRESENCE_BYTES", DEFAULT_LIMITS.maxPresenceBytes, 0, 65_536, "typed presence per connection and room (key and JSON bytes + 2 per key)"),
  maxPresenceKeys: n("PRESENCE_MAX_PRESENCE_KEYS", DEFAULT_LIMITS.maxPresenceKeys, 0, 1_024, "typed presence top-level keys per connection and room"),
  presenceRatePerSec: n("PRESENCE_PRESENCE_RATE_PER_SEC", DEFAULT_LIMITS.presenceRatePerSec, 1, 1_000, "typed-presence updates per session and room per second (excess merged)"),
  maxScopesPerSession: n("PRESENCE_MAX_SCOPES_PER_SESSION", DEFAULT_LIMITS.maxScopesPerSession, 0, 64, "scopes one session may carry besides the global one"),
  maxListPageSize: n("PRESENCE_MAX_LIST_PAGE_SIZE", DEFAULT_LIMITS.maxListPageSize, 1, 10_000, "users per ListOnline page, at most"),
  maxCountScopes: n("PRESENCE_MAX_COUNT_SCOPES", DEFAULT_LIMITS.maxCountScopes, 1, 10_000, "scopes per CountOnline / WatchScopeCounts call"),
};

export const SERVER_SPEC = {
  rpcPort: n("PRESENCE_RPC_PORT", 8080, 0, 65_535, "gRPC / gRPC-Web / Connect port (h2c and HTTP/1.1)"),
  adminPort: n("PRESENCE_ADMIN_PORT", 9464, 0, 65_535, "/metrics, /healthz, /readyz"),
  maxRequestBytes: n("PRESENCE_MAX_REQUEST_BYTES", 65_536, 256, 16_777_216, "request body / WebSocket message size"),
  shutdownDeadlineMs: n("PRESENCE_SHUTDOWN_DEADLINE_MS", 10_000, 0, 600_000, "graceful shutdown deadline"),
  h2PingIntervalMs: n("PRESENCE_H2_PING_INTERVAL_MS", 30_000, 100, 3_600_000, "HTTP/2 PING interval"),
  h2PingTimeoutMs: n("PRESENCE_H2_PING_TIMEOUT_MS", 10_000, 100, 600_000, "HTTP/2 PING ack timeout"),
  readinessIntervalMs: n("PRESENCE_READINESS_INTERVAL_MS", 5_000, 10, 600_000, "background readiness probe period (gRPC health, presence_ready)"),
  readinessTimeoutMs: n("PRESENCE_READINESS_TIMEOUT_MS", 2_000, 10, 60_000, "a readiness probe slower than this fails"),
  tokenCacheSize: n("PRESENCE_TOKEN_CACHE_SIZE", 10_000, 0, 1_000_000, "verified tokens kept until they expire (0: verify every call)"),
  redisCommandTimeoutMs: n("PRESENCE_REDIS_COMMAND_TIMEOUT_MS", 2_000, 50, 60_000, "a Redis call taking longer fails with unavailable"),
  redisConnectTimeoutMs: n("PRESENCE_REDIS_CONNECT_TIMEOUT_MS", 10_000, 0, 600_000, "start-up waits this long for Redis, then serves not ready until it connects"),
  wsPort: n("PRESENCE_WS_PORT", 8081, 0, 65_535, "WebSocket bridge port (path /ws)"),
  // uWS aborts the whole process (C++ terminate) for an idle timeout of 1-7 or over 960 s.
  wsIdleTimeoutSec: n("PRESENCE_WS_IDLE_TIMEOUT_SEC", 30, 8, 960, "WebSocket idle timeout (s); pings every half of it"),
  wsMaxBufferedBytes: n("PRESENCE_WS_MAX_BUFFERED_BYTES", 262_144, 1_024, 1_073_741_824, "per-socket send buffer cap (bytes)"),
  wsStallMs: n("PRESENCE_WS_STALL_MS", 30_000, 100, 3_600_000, "a socket over its send buffer cap this long is closed (4001)"),
  wsMaxWatchesPerSocket: n("PRESENCE_WS_MAX_WATCHES_PER_SOCKET", 16, 1, 1_024, "rooms one socket may watch"),
  wsMaxFramesPerSec: n("PRESENCE_WS_MAX_FRAMES_PER_SEC", 250, 1, 1_000_000, "frames one socket may send per second on average; over it: close 4006"),
  wsFrameBurst: n("PRESENCE_WS_FRAME_BURST", 500, 1, 1_000_000, "frames one socket may send at once above the average rate"),
} satisfies Record<string, NumSpec>;

/** Options of issue 12 (UDP heartbeats, scopes, away, managed rooms, typed presence). */
export const SEEDS_SPEC = {
  udpReplayWindowMs: n("PRESENCE_UDP_REPLAY_WINDOW_MS", 30_000, 1_000, 600_000, "UDP heartbeat timestamps further than this from the server clock are dropped (stale)"),
  udpMinIntervalMs: n("PRESENCE_UDP_MIN_INTERVAL_MS", 10_000, 0, 3_600_000, "UDP heartbeats of one session accepted at most this often (the rest: rate_limited)"),
  udpMaxDatagramBytes: n("PRESENCE_UDP_MAX_DATAGRAM_BYTES", 512, 64, 1_400, "larger UDP datagrams are dropped (oversize)"),
  udpMaxTrackedSessions: n("PRESENCE_UDP_MAX_TRACKED_SESSIONS", 100_000, 1, 10_000_000, "sessions whose last UDP heartbeat a node remembers (replay and rate checks)"),
  roomTombstoneMs: n("PRESENCE_ROOM_TOMBSTONE_MS", 600_000, 0, 604_800_000, "an ended room refuses joins this long"),
  roomIdleTimeoutMs: n("PRESENCE_ROOM_IDLE_TIMEOUT_MS", 86_400_000, 1_000, 31_536_000_000, "idle timeout of a managed room created without one"),
  maxRoomParticipants: n("PRESENCE_MAX_ROOM_PARTICIPANTS", 100_000, 1, 10_000_000, "largest max_participants a managed room may ask for"),
  scopeShards: n("PRESENCE_SCOPE_SHARDS", 16, 1, 1_024, "shards per scope in Redis (same on every node; never change it for a dataset)"),
} satisfies Record<string, NumSpec>;

const DAY_MS = 86_400_000;

/** History options (docs/history.md lists them; a test keeps that table true). */
export const HISTORY_SPEC = {
  poolSize: n("PRESENCE_POSTGRES_POOL_SIZE", 4, 2, 100, "connections to PostgreSQL per node (writer, reads, retention; the repair holds one)"),
  connectTimeoutMs: n("PRESENCE_POSTGRES_CONNECT_TIMEOUT_MS", 5_000, 100, 120_000, "a connection attempt to PostgreSQL slower than this fails"),
  statementTimeoutMs: n("PRESENCE_POSTGRES_STATEMENT_TIMEOUT_MS", 30_000, 100, 3_600_000, "a history statement slower than this is cancelled (statement_timeout)"),
  batchRows: n("PRESENCE_HISTORY_BATCH_ROWS", 100, 1, 10_000, "rows written per batch"),
  flushMs: n("PRESENCE_HISTORY_FLUSH_MS", 1_000, 1, 60_000, "a partial batch is written after its oldest row waited this long"),
  maxQueueRows: n("PRESENCE_HISTORY_MAX_QUEUE_ROWS", 100_000, 1, 10_000_000, "rows queued while the database is slow or down; beyond it rows are dropped and a gap row is recorded"),
  retryMaxMs: n("PRESENCE_HISTORY_RETRY_MAX_MS", 5_000, 100, 600_000, "longest pause between retries of a failed batch"),
  retentionMs: n("PRESENCE_HISTORY_RETENTION_MS", 90 * DAY_MS, DAY_MS, 3_650 * DAY_MS, "activity older than this is deleted"),
  retentionIntervalMs: n("PRESENCE_HISTORY_RETENTION_INTERVAL_MS", 3_600_000, 1_000, DAY_MS, "how often retention runs"),
  retentionBatchRows: n("PRESENCE_HISTORY_RETENTION_BATCH_ROWS", 5_000, 1, 1_000_000, "rows deleted per retention transaction"),
  maxRangeMs: n("PRESENCE_HISTORY_MAX_RANGE_MS", 93 * DAY_MS, 60_000, 3_650 * DAY_MS, "longest time range of one history query or export"),
  maxPageSize: n("PRESENCE_HISTORY_MAX_PAGE_SIZE", 1_000, 1, 100_000, "rows per ListActivity page"),
  exportPageRows: n("PRESENCE_HISTORY_EXPORT_PAGE_ROWS", 1_000, 10, 100_000, "rows read per query while exporting (bounds the server's memory)"),
  repairIntervalMs: n("PRESENCE_HISTORY_REPAIR_INTERVAL_MS", 30_000, 1_000, 3_600_000, "how often the log is checked against the rooms' event logs for events a dead node did not write"),
  repairSettleMs: n("PRESENCE_HISTORY_REPAIR_SETTLE_MS", 10_000, 0, 600_000, "events younger than this are left to the writer of the node that committed them"),
  statusTimeoutMs: n("PRESENCE_HISTORY_STATUS_TIMEOUT_MS", 500, 10, 60_000, "GetUserStatus waits this long for the durable status of users the store no longer holds"),
  statusCacheUsers: n("PRESENCE_HISTORY_STATUS_CACHE_USERS", 100_000, 0, 10_000_000, "invisible or custom-status users kept in memory per node, to restore their flags after a Redis data loss"),
} satisfies Record<string, NumSpec>;

export interface HistoryConfig {
  /**
   * PRESENCE_HISTORY: `postgres` (default when PRESENCE_POSTGRES_URL is set), `embedded` (PGlite
   * in this process; the default otherwise) or `off`.
   */
  mode: "postgres" | "embedded" | "off";
  /** PRESENCE_POSTGRES_URL: a libpq-style URL (TLS through `sslmode`, `sslrootcert`, …). */
  postgresUrl?: string;
  /** PRESENCE_HISTORY_DIR: PGlite's data directory; unset: in memory (the log ends with the process). */
  dataDir?: string;
  /** PRESENCE_HISTORY_MIGRATIONS: `apply` (default) at start, or `verify` only. */
  migrations: "apply" | "verify";
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  batchRows: number;
  flushMs: number;
  maxQueueRows: number;
  retryMaxMs: number;
  retentionMs: number;
  retentionIntervalMs: number;
  retentionBatchRows: number;
  maxRangeMs: number;
  maxPageSize: number;
  exportPageRows: number;
  repairIntervalMs: number;
  repairSettleMs: number;
  statusTimeoutMs: number;
  statusCacheUsers: number;
}

/** Thrown with every invalid variable listed. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const num = (s: NumSpec): number => {
    const raw = env[s.env];
    if (raw === undefined || raw.trim() === "") return s.default;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < s.min || v > s.max) {
      problems.push(`${s.env}=${JSON.stringify(raw)}: must be an integer from ${s.min} to ${s.max}`);
      return s.default;
    }
    return v;
  };
  const nums = <K extends string>(spec: Record<K, NumSpec>) =>
    Object.fromEntries(Object.entries<NumSpec>(spec).map(([k, s]) => [k, num(s)])) as Record<K, number>;
  const bool = (name: string, def: boolean): boolean => {
    const raw = env[name]?.trim().toLowerCase();
    if (raw === undefined || raw === "") return def;
    if (["1", "true", "yes", "on"].includes(raw)) return true;
    if (["0", "false", "no", "off"].includes(raw)) return false;
    problems.push(`${name}=${JSON.stringify(env[name])}: must be true or false`);
    return def;
  };
  const str = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };

  const server = nums(SERVER_SPEC);
  const seeds = nums(SEEDS_SPEC);
  const udpPortRaw = str("PRESENCE_UDP_PORT");
  const udpPort = udpPortRaw === undefined ? undefined : Number(udpPortRaw);
  if (udpPort !== undefined && (!Number.isInteger(udpPort) || udpPort < 0 || udpPort > 65_535)) {
    problems.push(`PRESENCE_UDP_PORT=${JSON.stringify(udpPortRaw)}: must be an integer from 0 to 65535 (unset: UDP heartbeats off)`);
  }
  let awayScopeOverrides: [string, number][] = [];
  try {
    awayScopeOverrides = parseScopeOverrides(str("PRESENCE_AWAY_AFTER_MS_BY_SCOPE") ?? "", 1, 604_800_000);
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
  }
  const udpSecret = str("PRESENCE_UDP_SECRET");
  if (udpSecret !== undefined && Buffer.byteLength(udpSecret) < 32) problems.push("PRESENCE_UDP_SECRET: must be at least 32 bytes");
  const postgresUrl = str("PRESENCE_POSTGRES_URL");
  if (postgresUrl !== undefined && !/^postgres(ql)?:\/\//.test(postgresUrl)) problems.push("PRESENCE_POSTGRES_URL: must start with postgres:// or postgresql://");
  const historyMode = (str("PRESENCE_HISTORY") ?? (postgresUrl ? "postgres" : "embedded")) as HistoryConfig["mode"];
  if (!["postgres", "embedded", "off"].includes(historyMode)) problems.push(`PRESENCE_HISTORY=${JSON.stringify(historyMode)}: must be postgres, embedded or off`);
  if (historyMode === "postgres" && postgresUrl === undefined) problems.push("PRESENCE_HISTORY=postgres needs PRESENCE_POSTGRES_URL");
  const migrations = (str("PRESENCE_HISTORY_MIGRATIONS") ?? "apply") as HistoryConfig["migrations"];
  if (!["apply", "verify"].includes(migrations)) problems.push(`PRESENCE_HISTORY_MIGRATIONS=${JSON.stringify(migrations)}: must be apply or verify`);
  const history: HistoryConfig = { mode: historyMode, postgresUrl, dataDir: str("PRESENCE_HISTORY_DIR"), migrations, ...nums(HISTORY_SPEC) };
  const timings = nums(TIMING_SPEC);
  const limits = nums(LIMIT_SPEC);
  const jwtSecret = str("PRESENCE_JWT_SECRET");
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    problems.push("PRESENCE_JWT_SECRET: must be at least 32 bytes (HS256)");
  }
  // Without an explicit value, the node refresh follows a shortened TTL (a third of it at most).
  if (!env.PRESENCE_NODE_REFRESH_MS?.trim()) timings.nodeRefreshMs = Math.max(5, Math.min(timings.nodeRefreshMs, Math.floor(timings.sessionTtlMs / 3)));
  if (timings.nodeRefreshMs >= timings.sessionTtlMs) {
    problems.push(`PRESENCE_NODE_REFRESH_MS (${timings.nodeRefreshMs}) must be less than PRESENCE_SESSION_TTL_MS (${timings.sessionTtlMs})`);
  }
  if (timings.sessionTtlMs <= timings.heartbeatIntervalMs) {
    problems.push(`PRESENCE_SESSION_TTL_MS (${timings.sessionTtlMs}) must be greater than PRESENCE_HEARTBEAT_INTERVAL_MS (${timings.heartbeatIntervalMs})`);
  }
  const redisUrl = str("PRESENCE_REDIS_URL");
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) problems.push(`PRESENCE_REDIS_URL=${JSON.stringify(redisUrl)}: must start with redis:// or rediss://`);
  for (const seed of (str("PRESENCE_REDIS_CLUSTER") ?? "").split(",").map((x) => x.trim()).filter(Boolean)) {
    if (!/^[^:\s]+:\d{1,5}$/.test(seed)) problems.push(`PRESENCE_REDIS_CLUSTER: ${JSON.stringify(seed)} must be host:port`);
  }
  const jwksUrl = str("PRESENCE_JWKS_URL");
  if (jwksUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(jwksUrl)) problems.push(`PRESENCE_JWKS_URL=${JSON.stringify(jwksUrl)}: must be an http:// or https:// URL`);
  const keyed = jwtSecret !== undefined || str("PRESENCE_JWKS_FILE") !== undefined || jwksUrl !== undefined;
  if (jwksUrl !== undefined && str("PRESENCE_JWKS_FILE") !== undefined) problems.push("PRESENCE_JWKS_URL and PRESENCE_JWKS_FILE: set one, not both");
  const access = loadAccessConfig(env, num, bool, keyed, problems);
  // Development (no key): demo tokens on by default. Production: off, and they cannot be turned on
  // (they would be signed with the production key, or hand out identities nobody vouches for).
  const demoTokens = bool("PRESENCE_DEMO", access.policy.mode === "development");
  if (demoTokens && access.policy.mode === "production") {
    problems.push("PRESENCE_DEMO=true: demo tokens are for development only (no PRESENCE_JWT_SECRET, PRESENCE_JWKS_FILE, PRESENCE_JWKS_URL or PRESENCE_MODE=production)");
  }
  const development = access.policy.mode === "development";
  const reflection = bool("PRESENCE_REFLECTION", development);
  const logLevel = (str("PRESENCE_LOG_LEVEL") ?? "info") as Config["logLevel"];
  const wsEngine = (str("PRESENCE_WS_ENGINE")?.toLowerCase() ?? "auto") as WsEngineChoice;
  if (!WS_ENGINE_CHOICES.includes(wsEngine)) problems.push(`PRESENCE_WS_ENGINE=${JSON.stringify(env.PRESENCE_WS_ENGINE)}: must be one of ${WS_ENGINE_CHOICES.join(", ")}`);
  const nodeId = str("PRESENCE_NODE_ID") ?? defaultNodeId(hostname(), randomBytes(3).toString("hex"));
  if (!NODE_ID.test(nodeId)) problems.push(`PRESENCE_NODE_ID=${JSON.stringify(nodeId)}: must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'`);
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`PRESENCE_LOG_LEVEL=${JSON.stringify(logLevel)}: must be one of ${LOG_LEVELS.join(", ")}`);
  const config: Config = {
    host: str("PRESENCE_HOST") ?? "0.0.0.0",
    adminHost: str("PRESENCE_ADMIN_HOST") ?? "127.0.0.1",
    nodeId,
    rpcPort: server.rpcPort,
    adminPort: server.adminPort,
    corsOrigins: (str("PRESENCE_CORS_ORIGINS") ?? "*").split(",").map((s) => s.trim()).filter(Boolean),
    logLevel,
    auth: {
      jwtSecret,
      jwksFile: str("PRESENCE_JWKS_FILE"),
      jwksUrl,
      issuer: str("PRESENCE_JWT_ISSUER"),
      audience: str("PRESENCE_JWT_AUDIENCE"),
      allowAnonymous: bool("PRESENCE_ALLOW_ANONYMOUS", true),
      tokenCacheSize: server.tokenCacheSize,
    },
    timings,
    limits,
    access,
    maxRequestBytes: server.maxRequestBytes,
    shutdownDeadlineMs: server.shutdownDeadlineMs,
    h2PingIntervalMs: server.h2PingIntervalMs,
    h2PingTimeoutMs: server.h2PingTimeoutMs,
    readiness: { intervalMs: server.readinessIntervalMs, timeoutMs: server.readinessTimeoutMs },
    ws: {
      port: server.wsPort,
      engine: wsEngine,
      idleTimeoutSec: server.wsIdleTimeoutSec,
      maxBufferedBytes: server.wsMaxBufferedBytes,
      stallMs: server.wsStallMs,
      maxWatchesPerSocket: server.wsMaxWatchesPerSocket,
      maxFramesPerSec: server.wsMaxFramesPerSec,
      frameBurst: server.wsFrameBurst,
    },
    udp: {
      port: udpPort,
      secret: udpSecret,
      replayWindowMs: seeds.udpReplayWindowMs,
      minIntervalMs: seeds.udpMinIntervalMs,
      maxDatagramBytes: seeds.udpMaxDatagramBytes,
      maxTrackedSessions: seeds.udpMaxTrackedSessions,
    },
    reflection,
    scopeShards: seeds.scopeShards,
    awayScopeOverrides,
    rooms: { tombstoneMs: seeds.roomTombstoneMs, defaultIdleTimeoutMs: seeds.roomIdleTimeoutMs, maxParticipants: seeds.maxRoomParticipants },
    demo: { tokens: demoTokens, dir: str("PRESENCE_DEMO_DIR") ?? fileURLToPath(new URL("../dist/demo/", import.meta.url)) },
    history,
    redis: {
      url: str("PRESENCE_REDIS_URL"),
      clusterSeeds: (str("PRESENCE_REDIS_CLUSTER") ?? "").split(",").map((x) => x.trim()).filter(Boolean),
      prefix: str("PRESENCE_REDIS_PREFIX") ?? "pr",
      commandTimeoutMs: server.redisCommandTimeoutMs,
      connectTimeoutMs: server.redisConnectTimeoutMs,
      ...loadRedisSecurity(env, bool, problems),
    },
  };
  if (udpPort !== undefined && udpSecret === undefined && (config.redis.url !== undefined || config.redis.clusterSeeds.length > 0)) {
    problems.push("PRESENCE_UDP_SECRET: required when PRESENCE_UDP_PORT is set with a Redis store (every node must derive the same heartbeat keys)");
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
