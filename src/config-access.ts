/**
 * Configuration of access control, quotas and connection limits (issue 11): the numeric options'
 * specs (variable, default, bounds, meaning: part of the documented table like `config.ts`'s) and
 * the parsing of the JSON rights options into the access policy. `loadConfig` calls
 * `loadAccessConfig`; every problem is reported with the variable's name.
 *
 * Why these defaults: docs/security.md "Quotas" gives the reasoning per quota.
 */
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

/** Access control (more of issue 11's options join as they are implemented: hook, JWKS URL, connection limits). */
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
} satisfies Record<string, NumSpec>;

/** What `loadAccessConfig` adds to the configuration. */
export interface AccessConfig {
  policy: AccessPolicy;
  quotas: QuotaTable;
  claims: { capability: string; roomRoles: string; maxEntries: number };
  /** The store memory guard: budget in bytes (0: automatic, see `ACCESS_SPEC`) and how often it is read. */
  memoryGuard: { budgetBytes: number; checkMs: number };
  /** Peers whose X-Forwarded-For is believed (addresses or CIDR ranges, PRESENCE_TRUSTED_PROXIES). */
  trustedProxies: string[];
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

  const hookOps: string[] = [];
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
    memoryGuard: { budgetBytes: a.storeMemoryBudgetBytes, checkMs: a.storeMemoryCheckMs },
    trustedProxies: list(str("PRESENCE_TRUSTED_PROXIES")) ?? [],
  };
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(",").map((x) => x.trim()).filter(Boolean);
}
