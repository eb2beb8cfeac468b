/**
 * Configuration of access control, quotas and connection limits (issue 11): the parsing of the
 * access options (their specs: access-spec.ts, connection-spec.ts) and of the JSON rights options
 * into the access policy. `loadConfig` calls `loadAccessConfig`; every problem is reported with the
 * variable's name.
 */
import { readFileSync } from "node:fs";
import type { AccessMode, AccessPolicy } from "../core/access-policy.js";
import { PresenceError } from "../core/presence-error.js";
import type { QuotaTable } from "../core/quota.js";
import { isOperation, NO_RIGHTS, OPERATIONS, parseRights, parseRoleTable, type Operation, type Rights } from "../core/rights.js";
import { ACCESS_SETTING_SPEC, ACCESS_SPEC, QUOTA_SPEC, REDIS_SECURITY_SPEC } from "./access-spec.js";
import { CONNECTION_SPEC } from "./connection-spec.js";
import type { IntSpec, OptionReader, SettingSpec } from "./option-spec.js";

/** What `loadAccessConfig` adds to the configuration. */
export interface AccessConfig {
  policy: AccessPolicy;
  quotas: QuotaTable;
  /** Callers whose rate buckets are kept per quota (PRESENCE_QUOTA_TRACKED_CALLERS). */
  quotaTrackedCallers: number;
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
    /** Decisions cached (0 turns the cache off). */
    cacheSize: number;
    maxBatch: number;
    /** Allow when the hook cannot answer (PRESENCE_AUTHZ_HOOK_FAIL_OPEN; default false: fail closed). */
    failOpen: boolean;
  };
  /** The store memory guard: budget in bytes (0: automatic, see `ACCESS_SPEC`) and how often it is read. */
  memoryGuard: { budgetBytes: number; checkMs: number };
  /** Peers whose X-Forwarded-For is believed (addresses or CIDR ranges, PRESENCE_TRUSTED_PROXIES). */
  trustedProxies: string[];
  connections: Record<
    | "fdReserve"
    | "fdCheckMs"
    | "acceptPauseMs"
    | "maxPerAddress"
    | "rpcMax"
    | "wsMax"
    | "maxHalfOpen"
    | "h2MaxConcurrentStreams"
    | "h2PingIntervalMs"
    | "h2PingTimeoutMs"
    | "headersTimeoutMs"
    | "requestTimeoutMs"
    | "keepAliveTimeoutMs"
    | "idleTimeoutMs",
    number
  >;
  jwks: { timeoutMs: number; cacheMaxAgeMs: number; cooldownMs: number };
}

/**
 * Reads the access options. `keyed` says whether a real key (HS256 secret, JWKS file or URL) is
 * configured.
 */
export function loadAccessConfig(read: OptionReader, keyed: boolean): AccessConfig {
  const { problems } = read;
  const S = ACCESS_SETTING_SPEC;
  const nums = <K extends string>(spec: Readonly<Record<K, IntSpec>>) =>
    Object.fromEntries(Object.entries<IntSpec>(spec).map(([k, s]) => [k, read.num(s)])) as Record<K, number>;
  const a = nums(ACCESS_SPEC);
  const c = nums(CONNECTION_SPEC);
  const quotas = Object.fromEntries(Object.entries(QUOTA_SPEC).map(([cls, spec]) => [cls, nums(spec)])) as unknown as QuotaTable;

  const modeRaw = read.str(S.mode);
  let mode: AccessMode = keyed ? "production" : "development";
  if (modeRaw === "production") mode = "production";
  else if (modeRaw === "development") {
    if (keyed) problems.push(`${S.mode.env}=development: not with a real key (PRESENCE_JWT_SECRET, PRESENCE_JWKS_FILE or ${S.jwksUrl.env}), which means production`);
  } else if (modeRaw !== undefined) problems.push(`${S.mode.env}=${JSON.stringify(modeRaw)}: must be development or production`);

  /** A JSON setting; a value that is not JSON is reported and the default is used. */
  const json = (s: SettingSpec): unknown => {
    const raw = read.str(s)!;
    try {
      return JSON.parse(raw) as unknown;
    } catch (err) {
      problems.push(`${s.env}: must be JSON (${(err as Error).message})`);
      return JSON.parse(s.default!) as unknown;
    }
  };
  const rights = (s: SettingSpec): Rights => {
    try {
      return parseRights(json(s), s.env, a.maxRightsEntries);
    } catch (err) {
      if (!(err instanceof PresenceError)) throw err;
      problems.push(err.message);
      return NO_RIGHTS;
    }
  };
  let roles: AccessPolicy["roles"] = new Map();
  try {
    roles = parseRoleTable(json(S.roles), S.roles.env);
  } catch (err) {
    if (!(err instanceof PresenceError)) throw err;
    problems.push(err.message);
  }

  const hookUrl = read.str(S.hookUrl);
  if (hookUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(hookUrl)) problems.push(`${S.hookUrl.env}=${JSON.stringify(hookUrl)}: must be an http:// or https:// URL`);
  const hookOpsSet = read.str(S.hookOperations) !== undefined;
  const hookOps = hookOpsSet ? read.list(S.hookOperations) : hookUrl ? [...OPERATIONS] : [];
  for (const op of hookOps) if (!isOperation(op)) problems.push(`${S.hookOperations.env}: unknown operation ${JSON.stringify(op)} (known: ${OPERATIONS.join(", ")})`);
  if (hookUrl === undefined && hookOpsSet) problems.push(`${S.hookOperations.env}: needs ${S.hookUrl.env}`);

  if (c.headersTimeoutMs > c.requestTimeoutMs) {
    problems.push(`${CONNECTION_SPEC.headersTimeoutMs.env} (${c.headersTimeoutMs}) must not exceed ${CONNECTION_SPEC.requestTimeoutMs.env} (${c.requestTimeoutMs})`);
  }
  const authorization = read.str(S.hookAuthorization);
  return {
    policy: {
      mode,
      users: rights(S.userRights),
      anonymous: rights(S.anonymousRights),
      services: rights(S.serviceRights),
      roles,
      hookOperations: new Set(hookOps.filter(isOperation) as Operation[]),
    },
    quotas,
    quotaTrackedCallers: a.quotaTrackedCallers,
    claims: {
      capability: read.str(S.capabilityClaim)!,
      roomRoles: read.str(S.roomRolesClaim)!,
      maxEntries: a.maxClaimEntries,
    },
    ...(hookUrl === undefined
      ? {}
      : {
          hook: {
            url: hookUrl,
            ...(authorization === undefined ? {} : { authorization }),
            timeoutMs: a.hookTimeoutMs,
            allowTtlMs: a.hookAllowTtlMs,
            denyTtlMs: a.hookDenyTtlMs,
            failureTtlMs: a.hookFailureTtlMs,
            cacheSize: a.hookCacheSize,
            maxBatch: a.hookMaxBatch,
            failOpen: read.bool(S.hookFailOpen),
          },
        }),
    memoryGuard: { budgetBytes: a.storeMemoryBudgetBytes, checkMs: a.storeMemoryCheckMs },
    trustedProxies: read.list(S.trustedProxies),
    connections: {
      maxPerAddress: c.maxConnectionsPerAddress,
      rpcMax: c.rpcMaxConnections,
      wsMax: c.wsMaxConnections,
      maxHalfOpen: c.maxHalfOpen,
      h2MaxConcurrentStreams: c.h2MaxConcurrentStreams,
      h2PingIntervalMs: c.h2PingIntervalMs,
      h2PingTimeoutMs: c.h2PingTimeoutMs,
      headersTimeoutMs: c.headersTimeoutMs,
      requestTimeoutMs: c.requestTimeoutMs,
      keepAliveTimeoutMs: c.keepAliveTimeoutMs,
      idleTimeoutMs: c.idleTimeoutMs,
      fdReserve: c.fdReserve,
      fdCheckMs: c.fdCheckMs,
      acceptPauseMs: c.acceptPauseMs,
    },
    jwks: { timeoutMs: a.jwksTimeoutMs, cacheMaxAgeMs: a.jwksCacheMaxAgeMs, cooldownMs: a.jwksCooldownMs },
  };
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
 * Reads the Redis credentials and TLS options (REDIS_SECURITY_SPEC): the password may come from a
 * file, so the secret need not sit in the environment; TLS defaults to on for a `rediss://` URL.
 * A `redis://user:password@host` URL works too; these options win over it.
 */
export function loadRedisSecurity(read: OptionReader, redisUrl: string | undefined): RedisSecurity {
  const { problems } = read;
  const R = REDIS_SECURITY_SPEC;
  const file = (s: SettingSpec) => {
    const path = read.str(s);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      problems.push(`${s.env}=${JSON.stringify(path)}: cannot read it (${(err as Error).message})`);
      return undefined;
    }
  };
  const out: RedisSecurity = {};
  const username = read.str(R.username);
  if (username !== undefined) out.username = username;
  const password = read.str(R.password) ?? file(R.passwordFile)?.trim();
  if (read.str(R.password) !== undefined && read.str(R.passwordFile) !== undefined) problems.push(`${R.password.env} and ${R.passwordFile.env}: set one, not both`);
  if (password !== undefined) out.password = password;
  if (username !== undefined && password === undefined) problems.push(`${R.username.env}: needs ${R.password.env} or ${R.passwordFile.env}`);
  if (read.bool(R.tls, redisUrl?.startsWith("rediss://") ?? false)) {
    const tls: NonNullable<RedisSecurity["tls"]> = {};
    const ca = file(R.tlsCaFile);
    const cert = file(R.tlsCertFile);
    const key = file(R.tlsKeyFile);
    const servername = read.str(R.tlsServername);
    if ((cert === undefined) !== (key === undefined)) problems.push(`${R.tlsCertFile.env} and ${R.tlsKeyFile.env}: set both (a client certificate and its key) or neither`);
    if (ca !== undefined) tls.ca = ca;
    if (cert !== undefined) tls.cert = cert;
    if (key !== undefined) tls.key = key;
    if (servername !== undefined) tls.servername = servername;
    out.tls = tls;
  }
  return out;
}
