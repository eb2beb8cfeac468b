import type { CallerClass, QuotaLimits } from "../core/quota.js";
import { int, setting, type IntSpec, type SettingSpec } from "./option-spec.js";

/*
 * Access control (issue 11): rights, the authorization hook, remote JWKS, the store memory guard
 * and per-caller quotas. Why these defaults: docs/security.md ("Quotas" gives the reasoning per
 * quota). Parsed by `loadAccessConfig` (access-config.ts).
 */

/** User rights when PRESENCE_USER_RIGHTS is not set: every room operation but kick and audit, and everyone's status. */
export const DEFAULT_USER_RIGHTS = { "**": ["join", "watch", "read", "typing", "cursor"], "user:**": ["status.read", "status.watch"] };
/** Service rights when PRESENCE_SERVICE_RIGHTS is not set: everything. */
export const DEFAULT_SERVICE_RIGHTS = { "**": ["*"], "user:**": ["*"] };
/** The shipped example roles (the collaboration seed's viewer / commenter / operator). */
export const DEFAULT_ROLES = {
  viewer: ["join", "watch", "read"],
  commenter: ["join", "watch", "read", "typing", "cursor"],
  operator: ["*"],
} as const satisfies Record<string, readonly string[]>;

/** Access settings: variable, default, meaning. The JSON ones default to the objects above. */
export const ACCESS_SETTING_SPEC = {
  mode: setting(
    "PRESENCE_MODE",
    null,
    "`development`: everything allowed, demo tokens (refused with a key); `production`: the rights below apply ([security.md](security.md))",
    "`production` when a key is configured, else `development`",
  ),
  jwksUrl: setting(
    "PRESENCE_JWKS_URL",
    null,
    "URL of a remote JWKS (your identity provider's `jwks_uri`): fetched with a timeout and cached; a fetch failure refuses calls with `unavailable` / AUTH_UNAVAILABLE, never \"token invalid\"; not together with `PRESENCE_JWKS_FILE`",
  ),
  anonymousRights: setting("PRESENCE_ANONYMOUS_RIGHTS", "{}", "rights map of anonymous callers in production mode (`pattern → operations`, [security.md](security.md))"),
  userRights: setting("PRESENCE_USER_RIGHTS", JSON.stringify(DEFAULT_USER_RIGHTS), "rights of users whose token has no capability claim"),
  serviceRights: setting("PRESENCE_SERVICE_RIGHTS", JSON.stringify(DEFAULT_SERVICE_RIGHTS), 'rights of callers with `role: "service"`'),
  roles: setting("PRESENCE_ROLES", JSON.stringify(DEFAULT_ROLES), "role name → room operations, for per-room role claims"),
  capabilityClaim: setting("PRESENCE_CAPABILITY_CLAIM", "capability", "name of the token claim that carries a user's rights map (it replaces `PRESENCE_USER_RIGHTS` for that user)"),
  roomRolesClaim: setting("PRESENCE_ROOM_ROLES_CLAIM", "room_roles", "name of the token claim that carries a user's per-room roles"),
  hookUrl: setting(
    "PRESENCE_AUTHZ_HOOK_URL",
    null,
    "your backend's authorization hook (`proto/presence/v1/access.proto`, [security.md](security.md#authorization-hook)): asked about what the configured rights do not allow",
  ),
  hookOperations: setting(
    "PRESENCE_AUTHZ_HOOK_OPERATIONS",
    null,
    "comma-separated operations the hook decides (e.g. `status.read,status.watch`)",
    "every operation, when a URL is set",
  ),
  hookAuthorization: setting("PRESENCE_AUTHZ_HOOK_AUTHORIZATION", null, "sent as the `Authorization` header of hook requests (a secret your backend checks)"),
  hookFailOpen: setting("PRESENCE_AUTHZ_HOOK_FAIL_OPEN", "false", "allow when the hook cannot answer (default: refuse with AUTH_UNAVAILABLE)"),
  trustedProxies: setting(
    "PRESENCE_TRUSTED_PROXIES",
    null,
    "comma-separated addresses or CIDR ranges (or `loopback`, `uniquelocal`) whose `X-Forwarded-For` names the client (quotas count anonymous callers per address)",
  ),
} as const satisfies Record<string, SettingSpec>;

/** Redis credentials and TLS (standalone Redis and Cluster seeds alike): variable, default, meaning. */
export const REDIS_SECURITY_SPEC = {
  username: setting("PRESENCE_REDIS_USERNAME", null, "ACL user (Redis 6+) for every Redis node; needs a password; a `redis://user:pass@host` URL works too (these options win over it)"),
  password: setting("PRESENCE_REDIS_PASSWORD", null, "password of that user (or the default user's `requirepass`)"),
  passwordFile: setting("PRESENCE_REDIS_PASSWORD_FILE", null, "a file holding the password, so the secret need not sit in the environment (not together with `PRESENCE_REDIS_PASSWORD`)"),
  tls: setting("PRESENCE_REDIS_TLS", null, "TLS to every Redis node (Cluster included)", "`true` for a `rediss://` URL, else `false`"),
  tlsCaFile: setting("PRESENCE_REDIS_TLS_CA_FILE", null, "PEM CA to trust (with TLS)"),
  tlsCertFile: setting("PRESENCE_REDIS_TLS_CERT_FILE", null, "PEM client certificate (with TLS; needs `PRESENCE_REDIS_TLS_KEY_FILE`)"),
  tlsKeyFile: setting("PRESENCE_REDIS_TLS_KEY_FILE", null, "PEM key of the client certificate"),
  tlsServername: setting("PRESENCE_REDIS_TLS_SERVERNAME", null, "server name checked against the Redis certificate (SNI)"),
} as const satisfies Record<string, SettingSpec>;

/** Access control, the authorization hook, remote JWKS and the store memory guard: variable, default, bounds, meaning. */
export const ACCESS_SPEC = {
  maxClaimEntries: int("PRESENCE_MAX_CLAIM_ENTRIES", 256, 1, 10_000, "entries in a token's capability or per-room role claim (more: the token is refused)"),
  maxRightsEntries: int("PRESENCE_MAX_RIGHTS_ENTRIES", 10_000, 1, 1_000_000, "entries in each configured rights map (`PRESENCE_*_RIGHTS`)"),
  quotaTrackedCallers: int(
    "PRESENCE_QUOTA_TRACKED_CALLERS",
    100_000,
    100,
    100_000_000,
    "callers whose rate-quota buckets a process keeps per quota (the least recently used are forgotten first, which only ever gives a caller a full bucket back)",
  ),
  storeMemoryBudgetBytes: int(
    "PRESENCE_STORE_MEMORY_BUDGET_BYTES",
    0,
    0,
    Number.MAX_SAFE_INTEGER,
    "store memory above which new rooms and sessions are refused (Redis: per master, set it below maxmemory; 0: the memory store gets half the V8 heap limit, Redis no guard)",
  ),
  storeMemoryCheckMs: int("PRESENCE_STORE_MEMORY_CHECK_MS", 5_000, 100, 600_000, "how often the store's memory use is read for the guard"),
  hookTimeoutMs: int("PRESENCE_AUTHZ_HOOK_TIMEOUT_MS", 1_000, 10, 60_000, "the authorization hook's answer deadline (then: fail closed)"),
  hookAllowTtlMs: int("PRESENCE_AUTHZ_HOOK_ALLOW_TTL_MS", 60_000, 0, 86_400_000, "an allow from the hook is cached this long"),
  hookDenyTtlMs: int("PRESENCE_AUTHZ_HOOK_DENY_TTL_MS", 10_000, 0, 86_400_000, "a deny from the hook is cached this long"),
  hookFailureTtlMs: int("PRESENCE_AUTHZ_HOOK_FAILURE_TTL_MS", 1_000, 0, 60_000, "after a failed hook call, the same questions fail at once for this long"),
  hookCacheSize: int("PRESENCE_AUTHZ_HOOK_CACHE_SIZE", 100_000, 0, 10_000_000, "hook decisions cached (least recently used dropped first; 0: ask every time)"),
  hookMaxBatch: int("PRESENCE_AUTHZ_HOOK_MAX_BATCH", 100, 1, 10_000, "resources per hook request (larger questions are split)"),
  jwksTimeoutMs: int("PRESENCE_JWKS_TIMEOUT_MS", 5_000, 100, 60_000, "remote JWKS fetch timeout"),
  jwksCacheMaxAgeMs: int("PRESENCE_JWKS_CACHE_MAX_AGE_MS", 600_000, 1_000, 86_400_000, "remote JWKS kept this long before it is fetched again"),
  jwksCooldownMs: int("PRESENCE_JWKS_COOLDOWN_MS", 30_000, 0, 3_600_000, "an unknown key id refetches the JWKS at most this often"),
} as const satisfies Record<string, IntSpec>;

/** `PRESENCE_<prefix>_…` options of one caller class. */
const quotaSpec = (prefix: string, who: string, d: QuotaLimits): Record<keyof QuotaLimits, IntSpec> => ({
  watches: int(`PRESENCE_${prefix}_WATCHES`, d.watches, 1, 10_000_000, `open watch streams and WebSocket watches ${who}`),
  watchedUserIds: int(`PRESENCE_${prefix}_WATCHED_USER_IDS`, d.watchedUserIds, 1, 100_000_000, `user ids across open WatchUsers streams ${who}`),
  sessions: int(`PRESENCE_${prefix}_SESSIONS`, d.sessions, 1, 100_000_000, `live sessions ${who}`),
  newRoomsPerMinute: int(`PRESENCE_${prefix}_NEW_ROOMS_PER_MINUTE`, d.newRoomsPerMinute, 1, 100_000_000, `rooms created (first member of an empty room) ${who} per minute (burst: the same number)`),
  requestsPerSecond: int(`PRESENCE_${prefix}_REQUESTS_PER_SEC`, d.requestsPerSecond, 1, 10_000_000, `Connect/gRPC calls ${who} per second on average (token bucket)`),
  requestBurst: int(`PRESENCE_${prefix}_REQUEST_BURST`, d.requestBurst, 1, 10_000_000, `Connect/gRPC calls ${who} at once above that rate`),
});

/** Per-caller quotas by caller class (QUOTA_EXCEEDED past them). */
export const QUOTA_SPEC: Readonly<Record<CallerClass, Readonly<Record<keyof QuotaLimits, IntSpec>>>> = {
  user: quotaSpec("QUOTA", "per user", { watches: 256, watchedUserIds: 5_000, sessions: 64, newRoomsPerMinute: 120, requestsPerSecond: 100, requestBurst: 200 }),
  anonymous: quotaSpec("ANON_QUOTA", "per anonymous remote address", { watches: 256, watchedUserIds: 1_000, sessions: 256, newRoomsPerMinute: 60, requestsPerSecond: 100, requestBurst: 200 }),
  service: quotaSpec("SERVICE_QUOTA", "per service identity", {
    watches: 20_000,
    watchedUserIds: 1_000_000,
    sessions: 1_000_000,
    newRoomsPerMinute: 100_000,
    requestsPerSecond: 10_000,
    requestBurst: 20_000,
  }),
};
