import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { defaultNodeId, NODE_ID } from "./core/node-id.js";
import type { Limits, Timings } from "./core/options.js";
import { LIMIT_SPEC } from "./config/limit-spec.js";
import type { IntSpec, SettingSpec } from "./config/option-spec.js";
import { SERVER_SPEC } from "./config/server-spec.js";
import { SETTING_SPEC } from "./config/setting-spec.js";
import { TIMING_SPEC } from "./config/timing-spec.js";
import { WS_SPEC } from "./config/ws-spec.js";
import { HISTORY_SPEC } from "./config/history-spec.js";
import { SEEDS_SPEC } from "./config/seeds-spec.js";
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
  corsOrigins: string[];
  nodeId: string;
  logLevel: LogLevel;
  auth: {
    jwtSecret?: string;
    jwksFile?: string;
    issuer?: string;
    audience?: string;
    allowAnonymous: boolean;
    tokenCacheSize: number;
    clockToleranceSec: number;
  };
  timings: Timings;
  limits: Limits;
  /** Request body (Connect `readMaxBytes`) and WebSocket message limit. */
  maxRequestBytes: number;
  shutdownDeadlineMs: number;
  /** The durable activity log and user status (docs/history.md): PostgreSQL, the embedded PGlite, or off. */
  history: HistoryConfig;
  /** Redis store (many nodes); without it the embedded memory store is used. */
  redis: { url?: string; clusterSeeds: string[]; prefix: string; commandTimeoutMs: number; connectTimeoutMs: number };
  /** The RPC port's server: its options but the handler. */
  http: Omit<OnePortServerOptions, "handler">;
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
   * development (no PRESENCE_JWT_SECRET and no PRESENCE_JWKS_FILE), off otherwise.
   */
  reflection: boolean;
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
    tokenTtlSec: number;
  };
}

export { HISTORY_SPEC } from "./config/history-spec.js";
export { DEFAULT_LIMITS, LIMIT_SPEC } from "./config/limit-spec.js";
export type { IntSpec, SettingSpec } from "./config/option-spec.js";
export { SEEDS_SPEC } from "./config/seeds-spec.js";
export { SERVER_SPEC } from "./config/server-spec.js";
export { SETTING_SPEC } from "./config/setting-spec.js";
export { DEFAULT_TIMINGS, TIMING_SPEC } from "./config/timing-spec.js";
export { WS_SPEC } from "./config/ws-spec.js";

/** The option tables by section, in the order docs/configuration.md lists them. */
export const CONFIG_SECTIONS: readonly { title: string; about: string; settings?: Readonly<Record<string, SettingSpec>>; ints?: Readonly<Record<string, IntSpec>> }[] = [
  { title: "Settings", about: "Addresses, credentials, the store, logs and the demo.", settings: SETTING_SPEC },
  { title: "Server", about: "Ports, the RPC server, shutdown, readiness, tokens, Redis timeouts and the admin API.", ints: SERVER_SPEC },
  { title: "WebSocket bridge", about: "Limits of each socket (its message limit is `PRESENCE_MAX_REQUEST_BYTES`).", ints: WS_SPEC },
  { title: "UDP heartbeats", about: "Off unless `PRESENCE_UDP_PORT` is set (udp.proto).", ints: SEEDS_SPEC },
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
  // Development: no key configured (demo tokens and reflection default on).
  const development = jwtSecret === undefined && str(S.jwksFile) === undefined;
  const demoTokens = bool(S.demo, development);
  const reflection = bool(S.reflection, development);
  const logLevel = str(S.logLevel) as Config["logLevel"];
  const nodeId = str(S.nodeId) ?? defaultNodeId(hostname(), randomBytes(3).toString("hex"));
  if (!NODE_ID.test(nodeId)) problems.push(`${S.nodeId.env}=${JSON.stringify(nodeId)}: must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'`);
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`${S.logLevel.env}=${JSON.stringify(logLevel)}: must be one of ${LOG_LEVELS.join(", ")}`);
  const config: Config = {
    host: str(S.host)!,
    nodeId,
    rpcPort: server.rpcPort,
    adminPort: server.adminPort,
    corsOrigins: list(S.corsOrigins),
    logLevel,
    auth: {
      jwtSecret,
      jwksFile: str(S.jwksFile),
      issuer: str(S.jwtIssuer),
      audience: str(S.jwtAudience),
      allowAnonymous: bool(S.allowAnonymous),
      tokenCacheSize: server.tokenCacheSize,
      clockToleranceSec: server.jwtClockToleranceSec,
    },
    timings,
    limits,
    maxRequestBytes: server.maxRequestBytes,
    shutdownDeadlineMs: server.shutdownDeadlineMs,
    http: {
      sniffTimeoutMs: server.httpSniffTimeoutMs,
      pingIntervalMs: server.h2PingIntervalMs,
      pingTimeoutMs: server.h2PingTimeoutMs,
      headersTimeoutMs: server.httpHeadersTimeoutMs,
      requestTimeoutMs: server.httpRequestTimeoutMs,
      keepAliveTimeoutMs: server.httpKeepAliveTimeoutMs,
      timeoutCheckIntervalMs: server.httpTimeoutCheckIntervalMs,
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
    history,
    reflection,
    admin: { listRoomsDefault: server.adminListRoomsDefault, listRoomsMax: server.adminListRoomsMax },
    demo: { tokens: demoTokens, dir: str(S.demoDir) ?? fileURLToPath(new URL("../dist/demo/", import.meta.url)), tokenTtlSec: server.demoTokenTtlSec },
    redis: {
      url: redisUrl,
      clusterSeeds,
      prefix: str(S.redisPrefix)!,
      commandTimeoutMs: server.redisCommandTimeoutMs,
      connectTimeoutMs: server.redisConnectTimeoutMs,
    },
  };
  if (udpPort !== undefined && udpSecret === undefined && (config.redis.url !== undefined || config.redis.clusterSeeds.length > 0)) {
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
