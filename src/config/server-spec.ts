import { int, type IntSpec } from "./option-spec.js";

/** Ports, request size, shutdown, readiness, tokens, Redis timeouts, admin API: variable, default, bounds, meaning. */
export const SERVER_SPEC = {
  rpcPort: int("PRESENCE_RPC_PORT", 8080, 0, 65_535, "gRPC / gRPC-Web / Connect port (h2c and HTTP/1.1)"),
  adminPort: int("PRESENCE_ADMIN_PORT", 9464, 0, 65_535, "/metrics, /healthz, /readyz"),
  maxRequestBytes: int(
    "PRESENCE_MAX_REQUEST_BYTES",
    65_536,
    256,
    16_777_216,
    "request body / WebSocket message size: a larger body is refused with MESSAGE_TOO_LARGE before it is parsed; a WebSocket frame over it closes with 4503, over twice it the WebSocket layer cuts the connection (1006)",
  ),
  rpcCompressMinBytes: int(
    "PRESENCE_RPC_COMPRESS_MIN_BYTES",
    16_384,
    0,
    16_777_216,
    "RPC responses at least this large are gzip-compressed when the client accepts it (smaller ones cost more CPU than they save)",
  ),
  shutdownDeadlineMs: int("PRESENCE_SHUTDOWN_DEADLINE_MS", 10_000, 0, 600_000, "graceful shutdown deadline: streams end with DRAINING at once, sockets left are destroyed after this"),
  readinessIntervalMs: int(
    "PRESENCE_READINESS_INTERVAL_MS",
    5_000,
    10,
    600_000,
    "background readiness probe period (gRPC health Watch, `presence_ready`); `/readyz` probes on every request too",
  ),
  readinessTimeoutMs: int("PRESENCE_READINESS_TIMEOUT_MS", 2_000, 10, 60_000, "a readiness probe slower than this fails (not ready)"),
  tokenCacheSize: int(
    "PRESENCE_TOKEN_CACHE_SIZE",
    10_000,
    0,
    1_000_000,
    "verified tokens (JWTs) kept in memory until they expire, so a token is verified once, not on every call (verification was ~20% of a unary call's CPU); failures and tokens over 2,048 characters are never cached; 0 turns the cache off",
  ),
  jwtClockToleranceSec: int("PRESENCE_JWT_CLOCK_TOLERANCE_SEC", 0, 0, 300, "clock skew accepted on a token's `exp` and `nbf` (seconds)"),
  demoTokenTtlSec: int("PRESENCE_DEMO_TOKEN_TTL_SEC", 43_200, 60, 2_592_000, "lifetime of the demo page's tokens (`GET /demo/token`)"),
  redisCommandTimeoutMs: int("PRESENCE_REDIS_COMMAND_TIMEOUT_MS", 2_000, 50, 60_000, "a Redis call taking longer fails with `unavailable` / STORE_UNAVAILABLE"),
  redisConnectTimeoutMs: int("PRESENCE_REDIS_CONNECT_TIMEOUT_MS", 10_000, 0, 600_000, "start-up waits this long for Redis to answer, then goes on not ready (readiness reports it) while the client keeps reconnecting (0: does not wait)"),
  adminListRoomsDefault: int("PRESENCE_ADMIN_LIST_ROOMS_DEFAULT", 20, 1, 100_000, "AdminService.ListRooms: rooms returned when the request's `limit` is 0"),
  adminListRoomsMax: int("PRESENCE_ADMIN_LIST_ROOMS_MAX", 1_000, 1, 100_000, "AdminService.ListRooms: the largest `limit` accepted (over it: INVALID_ARGUMENT)"),
} as const satisfies Record<string, IntSpec>;
