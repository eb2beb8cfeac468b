/**
 * Configuration of access control, quotas and connection limits (issue 11): the numeric options'
 * specs (variable, default, bounds, meaning: part of the documented table like `config.ts`'s) and
 * the parsing of the JSON rights options into the access policy. `loadConfig` calls
 * `loadAccessConfig`; every problem is reported with the variable's name.
 *
 * Why these defaults: docs/security.md "Quotas" gives the reasoning per quota.
 */
import { readFileSync } from "node:fs";
import type { AccessMode, AccessPolicy } from "./core/access-policy.js";
import { PresenceError } from "./core/presence-error.js";
import type { CallerClass, QuotaLimits, QuotaTable } from "./core/quota.js";
import { DEFAULT_ROLES, isOperation, NO_RIGHTS, OPERATIONS, parseRights, parseRoleTable, type Operation, type Rights } from "./core/rights.js";

export type NumSpec = { env: string; default: number; min: number; max: number; doc: string };
const n = (env: string, def: number, min: number, max: number, doc: string): NumSpec => ({ env, default: def, min, max, doc });

const quotaSpec = (prefix: string, who: string, d: QuotaLimits): Record<keyof QuotaLimits, NumSpec> => ({
  watches: n(`${prefix}_WATCHES`, d.watches, 1, 10_000_000, `open watch streams and WebSocket watches ${who}`),
  watchedUserIds: n(`${prefix}_WATCHED_USER_IDS`, d.watchedUserIds, 1, 100_000_000, `user ids across open WatchUsers streams ${who}`),
  sessions: n(`${prefix}_SESSIONS`, d.sessions, 1, 100_000_000, `live sessions ${who}`),
  newRoomsPerMinute: n(`${prefix}_NEW_ROOMS_PER_MINUTE`, d.newRoomsPerMinute, 1, 100_000_000, `rooms created (first member of an empty room) ${who} per minute (burst: the same number)`),
  requestsPerSecond: n(`${prefix}_REQUESTS_PER_SEC`, d.requestsPerSecond, 1, 10_000_000, `Connect/gRPC calls ${who} per second on average (token bucket)`),
  requestBurst: n(`${prefix}_REQUEST_BURST`, d.requestBurst, 1, 10_000_000, `Connect/gRPC calls ${who} at once above that rate`),
});

/** Per-caller quotas by caller class (QUOTA_EXCEEDED past them). */
export const QUOTA_SPEC: Record<CallerClass, Record<keyof QuotaLimits, NumSpec>> = {
  user: quotaSpec("PRESENCE_QUOTA", "per user", { watches: 256, watchedUserIds: 5_000, sessions: 64, newRoomsPerMinute: 120, requestsPerSecond: 100, requestBurst: 200 }),
  anonymous: quotaSpec("PRESENCE_ANON_QUOTA", "per anonymous remote address", { watches: 256, watchedUserIds: 1_000, sessions: 256, newRoomsPerMinute: 60, requestsPerSecond: 100, requestBurst: 200 }),
  service: quotaSpec("PRESENCE_SERVICE_QUOTA", "per service identity", {
    watches: 20_000,
    watchedUserIds: 1_000_000,
    sessions: 1_000_000,
    newRoomsPerMinute: 100_000,
    requestsPerSecond: 10_000,
    requestBurst: 20_000,
  }),
};

/** Access control, the authorization hook, remote JWKS, the memory guard, connection limits and slow-client timeouts. */
export const ACCESS_SPEC = {
  maxClaimEntries: n("PRESENCE_MAX_CLAIM_ENTRIES", 256, 1, 10_000, "entries in a token's capability or per-room role claim (more: the token is refused)"),
  storeMemoryBudgetBytes: n(
    "PRESENCE_STORE_MEMORY_BUDGET_BYTES",
    0,
    0,
    Number.MAX_SAFE_INTEGER,
    "store memory above which new rooms and sessions are refused (Redis: per master, set it below maxmemory; 0: the memory store gets half the V8 heap limit, Redis no guard)",
  ),
  storeMemoryCheckMs: n("PRESENCE_STORE_MEMORY_CHECK_MS", 5_000, 100, 600_000, "how often the store's memory use is read for the guard"),
  hookTimeoutMs: n("PRESENCE_AUTHZ_HOOK_TIMEOUT_MS", 1_000, 10, 60_000, "the authorization hook's answer deadline (then: fail closed)"),
  hookAllowTtlMs: n("PRESENCE_AUTHZ_HOOK_ALLOW_TTL_MS", 60_000, 0, 86_400_000, "an allow from the hook is cached this long"),
  hookDenyTtlMs: n("PRESENCE_AUTHZ_HOOK_DENY_TTL_MS", 10_000, 0, 86_400_000, "a deny from the hook is cached this long"),
  hookFailureTtlMs: n("PRESENCE_AUTHZ_HOOK_FAILURE_TTL_MS", 1_000, 0, 60_000, "after a failed hook call, the same questions fail at once for this long"),
  hookCacheSize: n("PRESENCE_AUTHZ_HOOK_CACHE_SIZE", 100_000, 0, 10_000_000, "hook decisions cached (least recently used dropped first; 0: ask every time)"),
  hookMaxBatch: n("PRESENCE_AUTHZ_HOOK_MAX_BATCH", 100, 1, 10_000, "resources per hook request (larger questions are split)"),
  jwksTimeoutMs: n("PRESENCE_JWKS_TIMEOUT_MS", 5_000, 100, 60_000, "remote JWKS fetch timeout"),
  jwksCacheMaxAgeMs: n("PRESENCE_JWKS_CACHE_MAX_AGE_MS", 600_000, 1_000, 86_400_000, "remote JWKS kept this long before it is fetched again"),
  jwksCooldownMs: n("PRESENCE_JWKS_COOLDOWN_MS", 30_000, 0, 3_600_000, "an unknown key id refetches the JWKS at most this often"),
  maxConnectionsPerAddress: n("PRESENCE_MAX_CONNECTIONS_PER_ADDRESS", 1_024, 1, 10_000_000, "open connections of one remote address, both ports together"),
  rpcMaxConnections: n("PRESENCE_RPC_MAX_CONNECTIONS", 20_000, 1, 10_000_000, "open connections on the RPC port"),
  wsMaxConnections: n("PRESENCE_WS_MAX_CONNECTIONS", 200_000, 1, 10_000_000, "open connections on the WebSocket port"),
  maxHalfOpen: n("PRESENCE_MAX_HALF_OPEN_CONNECTIONS", 1_000, 1, 1_000_000, "RPC connections that have not completed a first request; over it the oldest is dropped"),
  h2MaxConcurrentStreams: n("PRESENCE_H2_MAX_CONCURRENT_STREAMS", 1_000, 1, 1_000_000, "concurrent HTTP/2 streams per connection (more wait in the client: open more connections)"),
  headersTimeoutMs: n("PRESENCE_HTTP_HEADERS_TIMEOUT_MS", 10_000, 100, 600_000, "time for a new RPC connection to send a complete request head (HTTP/1.1) or open a first stream (HTTP/2)"),
  requestTimeoutMs: n("PRESENCE_HTTP_REQUEST_TIMEOUT_MS", 30_000, 100, 3_600_000, "time to receive a whole request body (responses, e.g. watch streams, are not cut)"),
  keepAliveTimeoutMs: n("PRESENCE_HTTP_KEEPALIVE_TIMEOUT_MS", 5_000, 100, 600_000, "an HTTP/1.1 connection idle between requests is closed after this"),
  fdReserve: n("PRESENCE_FD_RESERVE", 64, 0, 1_000_000, "file descriptors kept free: with fewer free, new client connections are refused until twice as many are (0: no watch)"),
  idleTimeoutMs: n("PRESENCE_HTTP_IDLE_TIMEOUT_MS", 300_000, 1_000, 86_400_000, "an HTTP/2 connection without open streams for this long is closed (GOAWAY)"),
} satisfies Record<string, NumSpec>;

/** What `loadAccessConfig` adds to the configuration. */
export interface AccessConfig {
  policy: AccessPolicy;
  quotas: QuotaTable;
  claims: { capability: string; roomRoles: string; maxEntries: number };
  /** The authorization hook (PRESENCE_AUTHZ_HOOK_URL); undefined when not configured. */
  hook?: {
    url: string;
    /** Sent as the `Authorization` header of hook requests (PRESENCE_AUTHZ_HOOK_AUTHORIZATION). */
    authorization?: string;
    timeoutMs: number;
    allowTtlMs: number;
    denyTtlMs: number;
    failureTtlMs: number;
    cacheSize: number;
    maxBatch: number;
    /** Allow when the hook cannot answer (PRESENCE_AUTHZ_HOOK_FAIL_OPEN; default false: fail closed). */
    failOpen: boolean;
  };
  /** The store memory guard: budget in bytes (0: automatic, see `ACCESS_SPEC`) and how often it is read. */
  memoryGuard: { budgetBytes: number; checkMs: number };
  /** Peers whose X-Forwarded-For is believed (addresses or CIDR ranges, PRESENCE_TRUSTED_PROXIES). */
  trustedProxies: string[];
  connections: Record<"fdReserve" | "maxPerAddress" | "rpcMax" | "wsMax" | "maxHalfOpen" | "h2MaxConcurrentStreams" | "headersTimeoutMs" | "requestTimeoutMs" | "keepAliveTimeoutMs" | "idleTimeoutMs", number>;
  jwks: { timeoutMs: number; cacheMaxAgeMs: number; cooldownMs: number };
}

/** User rights when PRESENCE_USER_RIGHTS is not set: every room operation but kick and audit, and everyone's status. */
export const DEFAULT_USER_RIGHTS = { "**": ["join", "watch", "read", "typing", "cursor"], "user:**": ["status.read", "status.watch"] };
/** Service rights when PRESENCE_SERVICE_RIGHTS is not set: everything. */
export const DEFAULT_SERVICE_RIGHTS = { "**": ["*"], "user:**": ["*"] };

type Env = Record<string, string | undefined>;

/**
 * Reads the access options. `num` reads a numeric spec (reporting bad values), `keyed` says
 * whether a real key (HS256 secret, JWKS file or URL) is configured.
 */
export function loadAccessConfig(env: Env, num: (s: NumSpec) => number, bool: (name: string, def: boolean) => boolean, keyed: boolean, problems: string[]): AccessConfig {
  const str = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const a = Object.fromEntries(Object.entries(ACCESS_SPEC).map(([k, s]) => [k, num(s)])) as Record<keyof typeof ACCESS_SPEC, number>;
  const quotas = Object.fromEntries(
    Object.entries(QUOTA_SPEC).map(([cls, spec]) => [cls, Object.fromEntries(Object.entries(spec).map(([k, s]) => [k, num(s)]))]),
  ) as unknown as QuotaTable;

  const modeRaw = str("PRESENCE_MODE");
  let mode: AccessMode = keyed ? "production" : "development";
  if (modeRaw === "production") mode = "production";
  else if (modeRaw === "development") {
    if (keyed) problems.push("PRESENCE_MODE=development: not with a real key (PRESENCE_JWT_SECRET, PRESENCE_JWKS_FILE or PRESENCE_JWKS_URL), which means production");
  } else if (modeRaw !== undefined) problems.push(`PRESENCE_MODE=${JSON.stringify(modeRaw)}: must be development or production`);

  const json = (name: string, fallback: unknown): unknown => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    try {
      return JSON.parse(raw) as unknown;
    } catch (err) {
      problems.push(`${name}: must be JSON (${(err as Error).message})`);
      return fallback;
    }
  };
  const rights = (name: string, fallback: unknown): Rights => {
    try {
      return parseRights(json(name, fallback), name, 10_000);
    } catch (err) {
      if (!(err instanceof PresenceError)) throw err;
      problems.push(err.message);
      return NO_RIGHTS;
    }
  };
  let roles: AccessPolicy["roles"] = new Map();
  try {
    roles = parseRoleTable(json("PRESENCE_ROLES", DEFAULT_ROLES), "PRESENCE_ROLES");
  } catch (err) {
    if (!(err instanceof PresenceError)) throw err;
    problems.push(err.message);
  }

  const hookUrl = str("PRESENCE_AUTHZ_HOOK_URL");
  if (hookUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(hookUrl)) problems.push(`PRESENCE_AUTHZ_HOOK_URL=${JSON.stringify(hookUrl)}: must be an http:// or https:// URL`);
  const hookOps = list(str("PRESENCE_AUTHZ_HOOK_OPERATIONS")) ?? (hookUrl ? [...OPERATIONS] : []);
  for (const op of hookOps) if (!isOperation(op)) problems.push(`PRESENCE_AUTHZ_HOOK_OPERATIONS: unknown operation ${JSON.stringify(op)} (known: ${OPERATIONS.join(", ")})`);
  if (hookUrl === undefined && str("PRESENCE_AUTHZ_HOOK_OPERATIONS") !== undefined) problems.push("PRESENCE_AUTHZ_HOOK_OPERATIONS: needs PRESENCE_AUTHZ_HOOK_URL");

  if (a.headersTimeoutMs > a.requestTimeoutMs) problems.push(`PRESENCE_HTTP_HEADERS_TIMEOUT_MS (${a.headersTimeoutMs}) must not exceed PRESENCE_HTTP_REQUEST_TIMEOUT_MS (${a.requestTimeoutMs})`);
  return {
    policy: {
      mode,
      users: rights("PRESENCE_USER_RIGHTS", DEFAULT_USER_RIGHTS),
      anonymous: rights("PRESENCE_ANONYMOUS_RIGHTS", {}),
      services: rights("PRESENCE_SERVICE_RIGHTS", DEFAULT_SERVICE_RIGHTS),
      roles,
      hookOperations: new Set(hookOps.filter(isOperation) as Operation[]),
    },
    quotas,
    claims: {
      capability: str("PRESENCE_CAPABILITY_CLAIM") ?? "capability",
      roomRoles: str("PRESENCE_ROOM_ROLES_CLAIM") ?? "room_roles",
      maxEntries: a.maxClaimEntries,
    },
    ...(hookUrl === undefined
      ? {}
      : {
          hook: {
            url: hookUrl,
            ...(str("PRESENCE_AUTHZ_HOOK_AUTHORIZATION") === undefined ? {} : { authorization: str("PRESENCE_AUTHZ_HOOK_AUTHORIZATION")! }),
            timeoutMs: a.hookTimeoutMs,
            allowTtlMs: a.hookAllowTtlMs,
            denyTtlMs: a.hookDenyTtlMs,
            failureTtlMs: a.hookFailureTtlMs,
            cacheSize: a.hookCacheSize,
            maxBatch: a.hookMaxBatch,
            failOpen: bool("PRESENCE_AUTHZ_HOOK_FAIL_OPEN", false),
          },
        }),
    memoryGuard: { budgetBytes: a.storeMemoryBudgetBytes, checkMs: a.storeMemoryCheckMs },
    trustedProxies: list(str("PRESENCE_TRUSTED_PROXIES")) ?? [],
    connections: {
      maxPerAddress: a.maxConnectionsPerAddress,
      rpcMax: a.rpcMaxConnections,
      wsMax: a.wsMaxConnections,
      maxHalfOpen: a.maxHalfOpen,
      h2MaxConcurrentStreams: a.h2MaxConcurrentStreams,
      headersTimeoutMs: a.headersTimeoutMs,
      requestTimeoutMs: a.requestTimeoutMs,
      keepAliveTimeoutMs: a.keepAliveTimeoutMs,
      idleTimeoutMs: a.idleTimeoutMs,
      fdReserve: a.fdReserve,
    },
    jwks: { timeoutMs: a.jwksTimeoutMs, cacheMaxAgeMs: a.jwksCacheMaxAgeMs, cooldownMs: a.jwksCooldownMs },
  };
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(",").map((x) => x.trim()).filter(Boolean);
}

/** Redis credentials and TLS (PRESENCE_REDIS_USERNAME, …): for standalone Redis and Cluster seeds alike. */
export interface RedisSecurity {
  /** An ACL user (Redis 6+); with `password` only, the default user (requirepass). */
  username?: string;
  password?: string;
  /** TLS to every Redis node; PEM contents read from the files at start. */
  tls?: { ca?: string; cert?: string; key?: string; servername?: string };
}

/**
 * Reads PRESENCE_REDIS_USERNAME, PRESENCE_REDIS_PASSWORD or PRESENCE_REDIS_PASSWORD_FILE (so the
 * secret need not sit in the environment), PRESENCE_REDIS_TLS (default: on for a `rediss://` URL),
 * PRESENCE_REDIS_TLS_CA_FILE, …_CERT_FILE, …_KEY_FILE (client certificate) and
 * …_TLS_SERVERNAME. A `redis://user:password@host` URL works too; these options win over it.
 */
export function loadRedisSecurity(env: Env, bool: (name: string, def: boolean) => boolean, problems: string[]): RedisSecurity {
  const str = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const file = (name: string) => {
    const path = str(name);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      problems.push(`${name}=${JSON.stringify(path)}: cannot read it (${(err as Error).message})`);
      return undefined;
    }
  };
  const out: RedisSecurity = {};
  const username = str("PRESENCE_REDIS_USERNAME");
  if (username !== undefined) out.username = username;
  const password = str("PRESENCE_REDIS_PASSWORD") ?? file("PRESENCE_REDIS_PASSWORD_FILE")?.trim();
  if (str("PRESENCE_REDIS_PASSWORD") !== undefined && str("PRESENCE_REDIS_PASSWORD_FILE") !== undefined) problems.push("PRESENCE_REDIS_PASSWORD and PRESENCE_REDIS_PASSWORD_FILE: set one, not both");
  if (password !== undefined) out.password = password;
  if (username !== undefined && password === undefined) problems.push("PRESENCE_REDIS_USERNAME: needs PRESENCE_REDIS_PASSWORD or PRESENCE_REDIS_PASSWORD_FILE");
  if (bool("PRESENCE_REDIS_TLS", str("PRESENCE_REDIS_URL")?.startsWith("rediss://") ?? false)) {
    const tls: NonNullable<RedisSecurity["tls"]> = {};
    const ca = file("PRESENCE_REDIS_TLS_CA_FILE");
    const cert = file("PRESENCE_REDIS_TLS_CERT_FILE");
    const key = file("PRESENCE_REDIS_TLS_KEY_FILE");
    const servername = str("PRESENCE_REDIS_TLS_SERVERNAME");
    if ((cert === undefined) !== (key === undefined)) problems.push("PRESENCE_REDIS_TLS_CERT_FILE and PRESENCE_REDIS_TLS_KEY_FILE: set both (a client certificate and its key) or neither");
    if (ca !== undefined) tls.ca = ca;
    if (cert !== undefined) tls.cert = cert;
    if (key !== undefined) tls.key = key;
    if (servername !== undefined) tls.servername = servername;
    out.tls = tls;
  }
  return out;
}
