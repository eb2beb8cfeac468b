import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { loadAccessConfig, loadRedisSecurity, type AccessConfig, type RedisSecurity } from "./config/access-config.js";
import { ACCESS_SETTING_SPEC, ACCESS_SPEC, QUOTA_SPEC, REDIS_SECURITY_SPEC } from "./config/access-spec.js";
import { CONNECTION_SPEC } from "./config/connection-spec.js";
import { defaultNodeId, NODE_ID } from "./core/node-id.js";
import { loadWebhookConfig, type WebhookConfig } from "./config/backend-config.js";
import { BACKEND_SPEC, WEBHOOK_SETTING_SPEC, WEBHOOK_SPEC } from "./config/backend-spec.js";
import { parseScopeOverrides } from "./core/away-policy.js";
import type { BackendLimits, Limits, Timings } from "./core/options.js";
import { LIMIT_SPEC } from "./config/limit-spec.js";
import type { IntSpec, OptionReader, SettingSpec } from "./config/option-spec.js";
import { SERVER_SPEC } from "./config/server-spec.js";
import { SETTING_SPEC } from "./config/setting-spec.js";
import { TIMING_SPEC } from "./config/timing-spec.js";
import { WS_SPEC } from "./config/ws-spec.js";
import { HISTORY_SPEC } from "./config/history-spec.js";
import { SEEDS_SPEC } from "./config/seeds-spec.js";
import { loadRedisSentinel, SENTINEL_SPEC, type RedisSentinel } from "./config/sentinel-config.js";
import { LOG_LEVELS, type LogLevel } from "./logger.js";
import type { OnePortServerOptions } from "./transport/http/one-port-server.js";
import { WS_ENGINE_CHOICES, type WsEngineChoice } from "./transport/ws/ws-engine.js";

/**
 * Configuration from `PRESENCE_*` environment variables, parsed and validated once into a frozen
 * object. Every numeric option has a default and bounds; an invalid value stops start-up with a
 * message naming the variable, the value and the allowed range. The spec tables (`src/config/`)
 * are the one source of every default and bound: modules that take a value never define their own
 * default, and docs/configuration.md is generated from the tables (`npm run docs:config`).
 */
export interface Config {
  /** Meaning, default and bounds of every field: the spec tables (docs/configuration.md). */
  host: string;
  rpcPort: number;
  adminPort: number;
  /** The admin port's bind address (default loopback: metrics and readiness stay local). */
  adminHost: string;
  corsOrigins: string[];
  nodeId: string;
  logLevel: LogLevel;
  auth: {
    jwtSecret?: string;
    jwksFile?: string;
    /** A remote JWKS (fetched with a timeout, cached; see `access.jwks`). */
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
    allowAnonymous: boolean;
    tokenCacheSize: number;
    clockToleranceSec: number;
  };
  timings: Timings;
  limits: Limits;
  /** Access control, quotas, the authorization hook, connection limits and slow-client timeouts. */
  access: AccessConfig;
  /** Request body (Connect `readMaxBytes`) and WebSocket message limit. */
  maxRequestBytes: number;
  /** Connect's `compressMinBytes` (PRESENCE_RPC_COMPRESS_MIN_BYTES). */
  rpcCompressMinBytes: number;
  shutdownDeadlineMs: number;
  /** The durable activity log and user status (docs/history.md): PostgreSQL, the embedded PGlite, or off. */
  history: HistoryConfig;
  /** Redis store (many nodes); without it the embedded memory store is used. */
  /** `sentinel`: Redis Sentinel (PRESENCE_REDIS_SENTINELS…), instead of `url` or `clusterSeeds`. */
  redis: { url?: string; clusterSeeds: string[]; sentinel?: RedisSentinel; prefix: string; scopeShards: number; commandTimeoutMs: number; connectTimeoutMs: number } & RedisSecurity;
  /** The RPC port's server: its numeric options (the handler, limiter and callbacks are the app's). */
  http: Omit<OnePortServerOptions, "handler" | "limiter" | "onRefused" | "onAcceptError" | "onAcceptPaused" | "streamingRequestPaths">;
  /** Readiness (`/readyz`, gRPC health, `presence_ready`): probe period and the bound of one probe. */
  readiness: { intervalMs: number; timeoutMs: number };
  /** WebSocket bridge: the engine, and the WS_SPEC values by the bridge's option names. */
  ws: { engine: WsEngineChoice } & { [K in keyof typeof WS_SPEC]: number };
  /** UDP heartbeats (udp.proto): off unless PRESENCE_UDP_PORT is set. */
  udp: {
    port: number | undefined;
    secret: string | undefined;
    replayWindowMs: number;
    minIntervalMs: number;
    maxDatagramBytes: number;
    maxTrackedSessions: number;
  };
  /** AdminService.ListRooms: `limit` 0 means `listRoomsDefault`; over `listRoomsMax` is refused. */
  admin: { listRoomsDefault: number; listRoomsMax: number };
  /**
   * gRPC server reflection v1 and v1alpha on the RPC port (PRESENCE_REFLECTION). Default: on in
   * development mode (no key configured), off otherwise.
   */
  reflection: boolean;
  /** Backend calls (BackendService, Broadcast): batch sizes, Track stream limits, the event feed (backend-spec.ts). */
  backends: BackendLimits;
  /** Webhooks (PRESENCE_WEBHOOK_URL …); undefined when off. */
  webhook?: WebhookConfig;
  /** gRPC requests through the server's own gRPC handler (grpc-fast-path.ts) instead of connect-node (PRESENCE_GRPC_FAST_PATH, default true). */
  grpcFastPath: boolean;
  /** Managed rooms (rooms.proto): bounds and defaults. */
  rooms: { tombstoneMs: number; defaultIdleTimeoutMs: number; maxParticipants: number };
  /** PRESENCE_AWAY_AFTER_MS_BY_SCOPE: scope-name prefix → away threshold (ms). */
  awayScopeOverrides: [string, number][];
  /** The demo page on the WebSocket port (`GET /`, `/app.js`) and its token endpoint. */
  demo: {
    /**
     * `GET /demo/token` signs tokens for any name (PRESENCE_DEMO): development mode only (the
     * server then signs with an ephemeral secret made at start-up).
     */
    tokens: boolean;
    /** The built page (PRESENCE_DEMO_DIR; default `dist/demo/` of this package, `npm run build:demo`). */
    dir: string;
    tokenTtlSec: number;
  };
}

export { ACCESS_SETTING_SPEC, ACCESS_SPEC, QUOTA_SPEC, REDIS_SECURITY_SPEC } from "./config/access-spec.js";
export { CONNECTION_SPEC } from "./config/connection-spec.js";
export { HISTORY_SPEC } from "./config/history-spec.js";
export { BACKEND_SPEC, WEBHOOK_SETTING_SPEC, WEBHOOK_SPEC } from "./config/backend-spec.js";
export { DEFAULT_LIMITS, LIMIT_SPEC } from "./config/limit-spec.js";
export type { IntSpec, SettingSpec } from "./config/option-spec.js";
export { SEEDS_SPEC } from "./config/seeds-spec.js";
export { SENTINEL_SPEC } from "./config/sentinel-config.js";
export { SERVER_SPEC } from "./config/server-spec.js";
export { SETTING_SPEC } from "./config/setting-spec.js";
export { DEFAULT_TIMINGS, TIMING_SPEC } from "./config/timing-spec.js";
export { WS_SPEC } from "./config/ws-spec.js";

/** The option tables by section, in the order docs/configuration.md lists them. */
export const CONFIG_SECTIONS: readonly { title: string; about: string; settings?: Readonly<Record<string, SettingSpec>>; ints?: Readonly<Record<string, IntSpec>> }[] = [
  { title: "Settings", about: "Addresses, credentials, the store, logs and the demo.", settings: SETTING_SPEC },
  { title: "Access control", about: "Rights, the authorization hook and token claims ([security.md](security.md)).", settings: ACCESS_SETTING_SPEC },
  { title: "Redis credentials and TLS", about: "For standalone Redis, Cluster seeds and the nodes Sentinel names alike.", settings: REDIS_SECURITY_SPEC },
  { title: "Redis Sentinel", about: "The Redis store on the master a set of Sentinels names, following failovers ([store.md](store.md#redis-sentinel)).", settings: SENTINEL_SPEC },
  { title: "Server", about: "Ports, request size, shutdown, readiness, tokens, Redis timeouts and the admin API.", ints: SERVER_SPEC },
  { title: "Connections", about: "Connection limits and slow-client timeouts of the RPC and WebSocket ports ([security.md](security.md)).", ints: CONNECTION_SPEC },
  { title: "Access limits", about: "Token claims, the authorization hook, remote JWKS and the store memory guard.", ints: ACCESS_SPEC },
  { title: "Quotas: users", about: "Per user (QUOTA_EXCEEDED past them; security.md explains each default).", ints: QUOTA_SPEC.user },
  { title: "Quotas: anonymous callers", about: "Per anonymous remote address.", ints: QUOTA_SPEC.anonymous },
  { title: "Quotas: services", about: "Per service identity (`role: \"service\"`).", ints: QUOTA_SPEC.service },
  { title: "WebSocket bridge", about: "Limits of each socket (its message limit is `PRESENCE_MAX_REQUEST_BYTES`).", ints: WS_SPEC },
  { title: "UDP heartbeats, managed rooms, scopes", about: "Issue 12: UDP heartbeats are off unless `PRESENCE_UDP_PORT` is set (udp.proto); managed rooms (rooms.proto); scope counts in Redis.", ints: SEEDS_SPEC },
  { title: "Backends", about: "Track streams, HeartbeatBatch / LeaveBatch, WatchEvents and Broadcast ([backends.md](backends.md)).", ints: BACKEND_SPEC },
  { title: "Webhooks", about: "Signed POSTs of backend events; off unless `PRESENCE_WEBHOOK_URL` is set ([backends.md](backends.md#webhooks)).", settings: WEBHOOK_SETTING_SPEC, ints: WEBHOOK_SPEC },
  { title: "History", about: "The durable activity log and user status ([history.md](history.md)).", ints: HISTORY_SPEC },
  { title: "Timings", about: "Design §9's timings; tests shrink them.", ints: TIMING_SPEC },
  { title: "Limits", about: "What one request, session or process may hold; a request over a limit is refused with a reason naming the field and the limit (docs/errors.md).", ints: LIMIT_SPEC },
];

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
  /** PRESENCE_HISTORY_EMBEDDED_SHARED_BUFFERS_MB: the embedded PGlite's shared_buffers. */
  embeddedSharedBuffersMb: number;
}

/** Thrown with every invalid variable listed. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const num = (s: IntSpec): number => {
    const raw = env[s.env];
    if (raw === undefined || raw.trim() === "") return s.default;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < s.min || v > s.max) {
      problems.push(`${s.env}=${JSON.stringify(raw)}: must be an integer from ${s.min} to ${s.max}`);
      return s.default;
    }
    return v;
  };
  const nums = <K extends string>(spec: Readonly<Record<K, IntSpec>>) =>
    Object.fromEntries(Object.entries<IntSpec>(spec).map(([k, s]) => [k, num(s)])) as Record<K, number>;
  /** The value, or the spec's default (undefined when it has none). */
  const str = (s: SettingSpec): string | undefined => {
    const v = env[s.env]?.trim();
    return v === undefined || v === "" ? (s.default ?? undefined) : v;
  };
  const bool = (s: SettingSpec, computed?: boolean): boolean => {
    const raw = env[s.env]?.trim().toLowerCase();
    if (raw === undefined || raw === "") return computed ?? s.default === "true";
    if (["1", "true", "yes", "on"].includes(raw)) return true;
    if (["0", "false", "no", "off"].includes(raw)) return false;
    problems.push(`${s.env}=${JSON.stringify(env[s.env])}: must be true or false`);
    return computed ?? s.default === "true";
  };
  const list = (s: SettingSpec) => (str(s) ?? "").split(",").map((x) => x.trim()).filter(Boolean);
  const read: OptionReader = { num, str, bool, list, problems };
  const S = SETTING_SPEC;

  const server = nums(SERVER_SPEC);
  const timings = nums(TIMING_SPEC);
  const limits = nums(LIMIT_SPEC);
  const ws = nums(WS_SPEC);
  const seeds = nums(SEEDS_SPEC);
  const udpPortRaw = str(S.udpPort);
  const udpPort = udpPortRaw === undefined ? undefined : Number(udpPortRaw);
  if (udpPort !== undefined && (!Number.isInteger(udpPort) || udpPort < 0 || udpPort > 65_535)) {
    problems.push(`${S.udpPort.env}=${JSON.stringify(udpPortRaw)}: must be an integer from 0 to 65535 (unset: UDP heartbeats off)`);
  }
  let awayScopeOverrides: [string, number][] = [];
  try {
    const away = TIMING_SPEC.awayAfterMs;
    awayScopeOverrides = parseScopeOverrides(str(S.awayAfterByScope) ?? "", Math.max(1, away.min), away.max, S.awayAfterByScope.env);
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
  }
  const udpSecret = str(S.udpSecret);
  if (udpSecret !== undefined && Buffer.byteLength(udpSecret) < 32) problems.push(`${S.udpSecret.env}: must be at least 32 bytes`);
  const postgresUrl = str(S.postgresUrl);
  if (postgresUrl !== undefined && !/^postgres(ql)?:\/\//.test(postgresUrl)) problems.push(`${S.postgresUrl.env}: must start with postgres:// or postgresql://`);
  const historyMode = (str(S.history) ?? (postgresUrl ? "postgres" : "embedded")) as HistoryConfig["mode"];
  if (!["postgres", "embedded", "off"].includes(historyMode)) problems.push(`${S.history.env}=${JSON.stringify(historyMode)}: must be postgres, embedded or off`);
  if (historyMode === "postgres" && postgresUrl === undefined) problems.push(`${S.history.env}=postgres needs ${S.postgresUrl.env}`);
  const migrations = str(S.historyMigrations) as HistoryConfig["migrations"];
  if (!["apply", "verify"].includes(migrations)) problems.push(`${S.historyMigrations.env}=${JSON.stringify(migrations)}: must be apply or verify`);
  const history: HistoryConfig = { mode: historyMode, postgresUrl, dataDir: str(S.historyDir), migrations, ...nums(HISTORY_SPEC) };
  const wsEngine = str(S.wsEngine)!.toLowerCase() as WsEngineChoice;
  if (!WS_ENGINE_CHOICES.includes(wsEngine)) problems.push(`${S.wsEngine.env}=${JSON.stringify(env[S.wsEngine.env])}: must be one of ${WS_ENGINE_CHOICES.join(", ")}`);
  const jwtSecret = str(S.jwtSecret);
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) problems.push(`${S.jwtSecret.env}: must be at least 32 bytes (HS256)`);
  const backends = nums(BACKEND_SPEC);
  const webhook = loadWebhookConfig(read);
  // Without an explicit value, the node refresh follows a shortened TTL (a third of it at most).
  const refresh = TIMING_SPEC.nodeRefreshMs;
  if (!env[refresh.env]?.trim()) timings.nodeRefreshMs = Math.max(refresh.min, Math.min(timings.nodeRefreshMs, Math.floor(timings.sessionTtlMs / 3)));
  if (timings.nodeRefreshMs >= timings.sessionTtlMs) {
    problems.push(`${refresh.env} (${timings.nodeRefreshMs}) must be less than ${TIMING_SPEC.sessionTtlMs.env} (${timings.sessionTtlMs})`);
  }
  if (timings.sessionTtlMs <= timings.heartbeatIntervalMs) {
    problems.push(`${TIMING_SPEC.sessionTtlMs.env} (${timings.sessionTtlMs}) must be greater than ${TIMING_SPEC.heartbeatIntervalMs.env} (${timings.heartbeatIntervalMs})`);
  }
  if (server.adminListRoomsDefault > server.adminListRoomsMax) {
    problems.push(`${SERVER_SPEC.adminListRoomsDefault.env} (${server.adminListRoomsDefault}) must be at most ${SERVER_SPEC.adminListRoomsMax.env} (${server.adminListRoomsMax})`);
  }
  const redisUrl = str(S.redisUrl);
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) problems.push(`${S.redisUrl.env}=${JSON.stringify(redisUrl)}: must start with redis:// or rediss://`);
  const clusterSeeds = list(S.redisCluster);
  for (const seed of clusterSeeds) {
    if (!/^[^:\s]+:\d{1,5}$/.test(seed)) problems.push(`${S.redisCluster.env}: ${JSON.stringify(seed)} must be host:port`);
  }
  if (redisUrl !== undefined && clusterSeeds.length > 0) problems.push(`${S.redisUrl.env} and ${S.redisCluster.env}: set one Redis topology, not both`);
  const sentinel = loadRedisSentinel(read, [...(redisUrl !== undefined ? [S.redisUrl.env] : []), ...(clusterSeeds.length > 0 ? [S.redisCluster.env] : [])]);
  const A = ACCESS_SETTING_SPEC;
  const jwksUrl = str(A.jwksUrl);
  if (jwksUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(jwksUrl)) problems.push(`${A.jwksUrl.env}=${JSON.stringify(jwksUrl)}: must be an http:// or https:// URL`);
  const keyed = jwtSecret !== undefined || str(S.jwksFile) !== undefined || jwksUrl !== undefined;
  if (jwksUrl !== undefined && str(S.jwksFile) !== undefined) problems.push(`${A.jwksUrl.env} and ${S.jwksFile.env}: set one, not both`);
  const access = loadAccessConfig(read, keyed);
  // Development (no key): demo tokens and reflection on by default. Production: demo tokens off, and
  // they cannot be turned on (they would be signed with the production key, or hand out identities
  // nobody vouches for).
  const development = access.policy.mode === "development";
  const demoTokens = bool(S.demo, development);
  if (demoTokens && !development) {
    problems.push(`${S.demo.env}=true: demo tokens are for development only (no ${S.jwtSecret.env}, ${S.jwksFile.env}, ${A.jwksUrl.env} or ${A.mode.env}=production)`);
  }
  const reflection = bool(S.reflection, development);
  const conn = access.connections;
  const logLevel = str(S.logLevel) as Config["logLevel"];
  const nodeId = str(S.nodeId) ?? defaultNodeId(hostname(), randomBytes(3).toString("hex"));
  if (!NODE_ID.test(nodeId)) problems.push(`${S.nodeId.env}=${JSON.stringify(nodeId)}: must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'`);
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`${S.logLevel.env}=${JSON.stringify(logLevel)}: must be one of ${LOG_LEVELS.join(", ")}`);
  const config: Config = {
    host: str(S.host)!,
    adminHost: str(S.adminHost)!,
    nodeId,
    rpcPort: server.rpcPort,
    adminPort: server.adminPort,
    corsOrigins: list(S.corsOrigins),
    logLevel,
    auth: {
      jwtSecret,
      jwksFile: str(S.jwksFile),
      jwksUrl,
      issuer: str(S.jwtIssuer),
      audience: str(S.jwtAudience),
      allowAnonymous: bool(S.allowAnonymous),
      tokenCacheSize: server.tokenCacheSize,
      clockToleranceSec: server.jwtClockToleranceSec,
    },
    timings,
    limits,
    access,
    maxRequestBytes: server.maxRequestBytes,
    rpcCompressMinBytes: server.rpcCompressMinBytes,
    shutdownDeadlineMs: server.shutdownDeadlineMs,
    http: {
      // The first bytes (HTTP/1.1 or HTTP/2 is told from them) are part of the request head.
      sniffTimeoutMs: conn.headersTimeoutMs,
      pingIntervalMs: conn.h2PingIntervalMs,
      pingTimeoutMs: conn.h2PingTimeoutMs,
      headersTimeoutMs: conn.headersTimeoutMs,
      requestTimeoutMs: conn.requestTimeoutMs,
      keepAliveTimeoutMs: conn.keepAliveTimeoutMs,
      // Node checks HTTP/1.1 header and request deadlines this often: a quarter of the header
      // timeout, 250 ms to 5 s (PRESENCE_HTTP_HEADERS_TIMEOUT_MS says so).
      timeoutCheckIntervalMs: Math.min(5_000, Math.max(250, Math.floor(conn.headersTimeoutMs / 4))),
      idleTimeoutMs: conn.idleTimeoutMs,
      maxConcurrentStreams: conn.h2MaxConcurrentStreams,
      maxConnections: conn.rpcMax,
      maxHalfOpen: conn.maxHalfOpen,
      acceptPauseMs: conn.acceptPauseMs,
    },
    readiness: { intervalMs: server.readinessIntervalMs, timeoutMs: server.readinessTimeoutMs },
    ws: { engine: wsEngine, ...ws },
    udp: {
      port: udpPort,
      secret: udpSecret,
      replayWindowMs: seeds.udpReplayWindowMs,
      minIntervalMs: seeds.udpMinIntervalMs,
      maxDatagramBytes: seeds.udpMaxDatagramBytes,
      maxTrackedSessions: seeds.udpMaxTrackedSessions,
    },
    backends,
    webhook,
    awayScopeOverrides,
    rooms: { tombstoneMs: seeds.roomTombstoneMs, defaultIdleTimeoutMs: seeds.roomIdleTimeoutMs, maxParticipants: seeds.maxRoomParticipants },
    history,
    reflection,
    grpcFastPath: bool(S.grpcFastPath),
    admin: { listRoomsDefault: server.adminListRoomsDefault, listRoomsMax: server.adminListRoomsMax },
    demo: { tokens: demoTokens, dir: str(S.demoDir) ?? fileURLToPath(new URL("../dist/demo/", import.meta.url)), tokenTtlSec: server.demoTokenTtlSec },
    redis: {
      url: redisUrl,
      clusterSeeds,
      ...(sentinel ? { sentinel } : {}),
      prefix: str(S.redisPrefix)!,
      scopeShards: seeds.scopeShards,
      commandTimeoutMs: server.redisCommandTimeoutMs,
      connectTimeoutMs: server.redisConnectTimeoutMs,
      ...loadRedisSecurity(read, redisUrl),
    },
  };
  if (udpPort !== undefined && udpSecret === undefined && (config.redis.url !== undefined || config.redis.clusterSeeds.length > 0 || config.redis.sentinel !== undefined)) {
    problems.push(`${S.udpSecret.env}: required when ${S.udpPort.env} is set with a Redis store (every node must derive the same heartbeat keys)`);
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
