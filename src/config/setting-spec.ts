import { setting, type SettingSpec } from "./option-spec.js";

/** Non-numeric settings: variable, default, meaning (parsed and checked in `loadConfig`). */
export const SETTING_SPEC = {
  host: setting("PRESENCE_HOST", "0.0.0.0", "bind address of the RPC, WebSocket and UDP ports"),
  adminHost: setting(
    "PRESENCE_ADMIN_HOST",
    "127.0.0.1",
    "bind address of the admin port (`/metrics`, `/readyz`): loopback unless widened, e.g. `0.0.0.0` for a Prometheus in another container",
  ),
  nodeId: setting(
    "PRESENCE_NODE_ID",
    null,
    "this process's node id (1–128 of `A-Z a-z 0-9 . _ -`): recorded on its sessions, listed by `presence nodes`, named by `presence purge-node`; new at every start by default, so a restarted process never inherits a dead one's sessions",
    "`<hostname>-<6 random hex>`",
  ),
  corsOrigins: setting("PRESENCE_CORS_ORIGINS", "*", "comma-separated origins allowed to call the RPC port from browsers"),
  jwtSecret: setting("PRESENCE_JWT_SECRET", null, "HS256 secret, at least 32 bytes; a key (this, `PRESENCE_JWKS_FILE` or `PRESENCE_JWKS_URL`) means production mode ([security.md](security.md))"),
  jwksFile: setting("PRESENCE_JWKS_FILE", null, "path of a local JWKS JSON file (RS256/ES256 tokens), no network"),
  jwtIssuer: setting("PRESENCE_JWT_ISSUER", null, "the `iss` tokens must carry (checked when set)"),
  jwtAudience: setting("PRESENCE_JWT_AUDIENCE", null, "the `aud` tokens must carry (checked when set)"),
  allowAnonymous: setting("PRESENCE_ALLOW_ANONYMOUS", "true", "accept callers without a token as anonymous viewers"),
  demo: setting(
    "PRESENCE_DEMO",
    null,
    "demo token endpoint `GET /demo/token?name=…[&key=…]` on the WebSocket port: signs a token (with an ephemeral secret made at start-up) for the name, with a user id nobody else can claim; `true` in production mode is refused at start",
    "`true` in development mode, else `false`",
  ),
  reflection: setting(
    "PRESENCE_REFLECTION",
    null,
    "gRPC server reflection (`grpc.reflection.v1` and `v1alpha`) on the RPC port, needing no token, so `grpcurl`, Postman and `buf curl` work without .proto files; turn it on in production only if the schema may be public (it is in this repository anyway)",
    "`true` in development mode, else `false`",
  ),
  grpcFastPath: setting(
    "PRESENCE_GRPC_FAST_PATH",
    "true",
    "serve the gRPC protocol (`application/grpc`, `application/grpc+proto` over HTTP/2) with the server's own gRPC handler (same interceptors, rights, quotas, logs, metrics and errors as connect-node, a fraction of its CPU per call: docs/runtime.md); `false` sends every protocol through connect-node",
  ),
  demoDir: setting("PRESENCE_DEMO_DIR", null, "the built demo page served at `/` and `/app.js` of the WebSocket port (`npm run build:demo`)", "`dist/demo/` of the package"),
  wsEngine: setting(
    "PRESENCE_WS_ENGINE",
    "auto",
    "WebSocket engine: `auto` (uWebSockets.js where its native build loads, else `ws` with one warning line saying why), `uws` (stop at start-up if it does not load) or `ws`; see [websocket-engines.md](websocket-engines.md)",
  ),
  awayAfterByScope: setting(
    "PRESENCE_AWAY_AFTER_MS_BY_SCOPE",
    null,
    "away thresholds by scope-name prefix, `zone:=120000,org:=600000` (longest prefix wins; a session uses the smallest threshold of its scopes, which replaces the default, longer or shorter; 0: never away there; a managed room's `away_after_ms` shortens it for the sessions in the room)",
  ),
  udpPort: setting("PRESENCE_UDP_PORT", null, "UDP heartbeat port (udp.proto); `0` picks a free port", "(none: off)"),
  udpSecret: setting(
    "PRESENCE_UDP_SECRET",
    null,
    "at least 32 bytes: derives every session's UDP heartbeat key; required with `PRESENCE_UDP_PORT` on a Redis store (all nodes must derive the same keys)",
    "(random per process)",
  ),
  history: setting(
    "PRESENCE_HISTORY",
    null,
    "the durable activity log and user status (docs/history.md): `postgres`, `embedded` (PGlite in this process) or `off`",
    "`postgres` when `PRESENCE_POSTGRES_URL` is set, else `embedded`",
  ),
  postgresUrl: setting(
    "PRESENCE_POSTGRES_URL",
    null,
    "`postgres://user:pass@host:5432/db[?sslmode=verify-full&sslrootcert=…]`: keep the activity log and durable user status in PostgreSQL; see [history.md](history.md) (pool, TLS, retention, migrations)",
  ),
  historyDir: setting("PRESENCE_HISTORY_DIR", null, "PGlite's data directory", "(in memory: the log ends with the process)"),
  historyMigrations: setting("PRESENCE_HISTORY_MIGRATIONS", "apply", "`apply` the history schema's migrations at start, or `verify` only"),
  redisUrl: setting("PRESENCE_REDIS_URL", null, "`redis://host:port[/db]` (or `rediss://`): use the Redis store (many nodes) instead of the embedded one"),
  redisCluster: setting("PRESENCE_REDIS_CLUSTER", null, "`host:port,host:port,…` seeds: use the Redis store on Redis Cluster"),
  redisPrefix: setting("PRESENCE_REDIS_PREFIX", "pr", "prefix of every Redis key and channel (several deployments can share one Redis)"),
  logLevel: setting("PRESENCE_LOG_LEVEL", "info", "`trace`, `debug`, `info`, `warn`, `error` or `silent` (JSON lines on stderr)"),
} as const satisfies Record<string, SettingSpec>;
