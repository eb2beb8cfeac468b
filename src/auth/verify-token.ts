/**
 * Bearer token verification: turns an `Authorization` header into a {@link Caller}.
 *
 * Tokens are JWTs checked with `jose`: HS256 with a shared secret, or asymmetric keys from a local
 * JWKS file read once at creation (never fetched over the network). `exp` and `sub` are required,
 * `iss`/`aud` are checked when configured. Every rejection is a {@link PresenceError} with code
 * `unauthenticated`; messages say what is wrong and never contain the token or its claims.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from "jose";
import { authUnavailable } from "../core/access-errors.js";
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from "jose";
import type { CallerGrants } from "../core/access-policy.js";
import { ANONYMOUS, makeSubjectKey } from "../core/identity.js";
import type { Caller, Role } from "../core/identity.js";
import { EMPTY_RECORD, orEmpty } from "../core/metadata.js";
import { PresenceError } from "../core/presence-error.js";
import { parseRights, parseRoleClaim } from "../core/rights.js";

/** How tokens are verified. At least one key source is required unless anonymous access is on. */
export interface TokenVerifierOptions {
  /** HS256 shared secret, at least 32 bytes of UTF-8; shorter secrets are refused at creation. */
  hs256Secret?: string;
  /** Path of a JWKS JSON file (`{"keys": [...]}`), read once at creation. */
  jwksFile?: string;
  /**
   * URL of a remote JWKS (your identity provider's `jwks_uri`), fetched on first use and cached
   * (`createRemoteJWKSet`): refetched after `jwksCacheMaxAgeMs`, or when a token names an unknown key
   * id (at most once per `jwksCooldownMs`). A fetch slower than `jwksTimeoutMs` or failing refuses
   * the call with AUTH_UNAVAILABLE (`unavailable`: retry), never with "token invalid".
   */
  jwksUrl?: string;
  /** Remote JWKS fetch timeout (PRESENCE_JWKS_TIMEOUT_MS). */
  jwksTimeoutMs: number;
  /** Remote JWKS kept this long (PRESENCE_JWKS_CACHE_MAX_AGE_MS). */
  jwksCacheMaxAgeMs: number;
  /** An unknown key id refetches the remote JWKS at most this often (PRESENCE_JWKS_COOLDOWN_MS). */
  jwksCooldownMs: number;
  /** Required `iss` value, when set. */
  issuer?: string;
  /** Required `aud` value (one of the token's audiences), when set. */
  audience?: string;
  /** A request without an Authorization header is the anonymous caller instead of a rejection. */
  allowAnonymous: boolean;
  /** Clock skew tolerated on `exp` and `nbf`, in seconds (PRESENCE_JWT_CLOCK_TOLERANCE_SEC). */
  clockToleranceSec: number;
  /**
   * Verified tokens remembered (by their SHA-256, for tokens up to {@link MAX_CACHED_TOKEN_CHARS} characters)
   * until their `exp` plus the tolerance, so a client's repeated calls pay for one signature check.
   * Oldest evicted first (PRESENCE_TOKEN_CACHE_SIZE); 0 verifies every call. Nothing else is
   * cached: failures are checked again each time.
   */
  cacheSize: number;
  /**
   * Name of the capability claim (an Ably-style map `pattern → operations`, rights.ts): a user
   * token with it has exactly those rights instead of the configured user defaults
   * (PRESENCE_CAPABILITY_CLAIM).
   */
  capabilityClaim: string;
  /** Name of the per-room role claim (`{"<room pattern>": "<role>"}`, PRESENCE_ROOM_ROLES_CLAIM). */
  roomRolesClaim: string;
  /** Entries allowed in each of those claims; a token with more is refused (PRESENCE_MAX_CLAIM_ENTRIES). */
  maxClaimEntries: number;
}

/**
 * Verifies one `Authorization` header value. Resolves to the caller, or rejects with a
 * {@link PresenceError} (`unauthenticated`; reason `UNAUTHENTICATED`, `TOKEN_INVALID` or
 * `TOKEN_EXPIRED`). Never rejects with anything else. Safe to call concurrently.
 */
export type TokenVerifier = (authorization: string | undefined) => Promise<Caller>;

/** Minimum HS256 secret length in bytes (RFC 7518 §3.2: a key at least as long as the hash). */
export const MIN_HS256_SECRET_BYTES = 32;

/** Tokens longer than this are refused without parsing (a JWT in a header is far smaller). */
const MAX_TOKEN_CHARS = 8192;

/** Longer tokens are verified on every call (never hashed for the cache). */
export const MAX_CACHED_TOKEN_CHARS = 2048;

const BEARER = /^Bearer +([^\s]+) *$/i;

/**
 * Creates a verifier. Throws a plain `Error` (a configuration mistake, not a request error) when
 * the secret is shorter than 32 bytes, the JWKS file cannot be read or parsed, the clock tolerance
 * is negative, or no key source is configured while anonymous access is off.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const secret = options.hs256Secret === undefined ? undefined : encodeSecret(options.hs256Secret);
  if (options.jwksFile !== undefined && options.jwksUrl !== undefined) throw new Error("token verification: set jwksFile or jwksUrl, not both");
  const jwks = options.jwksFile !== undefined ? createLocalJWKSet(readJwks(options.jwksFile)) : options.jwksUrl !== undefined ? remoteKeys(options) : undefined;
  const clockToleranceSec = options.clockToleranceSec;
  if (!Number.isFinite(clockToleranceSec) || clockToleranceSec < 0) {
    throw new Error(`clockToleranceSec: must be a finite number >= 0 (got ${clockToleranceSec})`);
  }
  if (secret === undefined && jwks === undefined && !options.allowAnonymous) {
    throw new Error("token verification: set hs256Secret or jwksFile, or allow anonymous access");
  }
  const cacheSize = options.cacheSize;
  const claims: ClaimNames = { capability: options.capabilityClaim, roomRoles: options.roomRolesClaim, maxEntries: options.maxClaimEntries };
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new Error(`cacheSize: must be an integer >= 0 (got ${cacheSize})`);
  // Verification (HMAC or signature through WebCrypto, key import, claims) was ~20% of the server's
  // CPU per unary call in bench/grpc: every call of a client carries the same token.
  // Keyed by the token's SHA-256 (43 characters), not its text: the text is a slice of the header
  // and kept its ~0.2 KB alive per connection (bench idle scenario). Hashing costs ~1 µs.
  const verified = new Map<string, { caller: Caller; untilMs: number }>();

  const getKey: JWTVerifyGetKey = (header, token) => {
    if (header.alg === "HS256" && secret !== undefined) return secret;
    if (jwks !== undefined) return jwks(header, token);
    throw reject("TOKEN_INVALID", "token algorithm is not accepted");
  };
  const verifyOptions: JWTVerifyOptions = {
    requiredClaims: ["exp", "sub"],
    clockTolerance: clockToleranceSec,
  };
  if (options.issuer !== undefined) verifyOptions.issuer = options.issuer;
  if (options.audience !== undefined) verifyOptions.audience = options.audience;
  // With only a secret, pin the algorithm so no other HMAC variant is accepted.
  if (jwks === undefined) verifyOptions.algorithms = ["HS256"];

  return async (authorization) => {
    if (authorization === undefined || authorization.trim() === "") {
      if (options.allowAnonymous) return ANONYMOUS;
      throw new PresenceError("UNAUTHENTICATED", "authorization: a Bearer token is required", { field: "authorization" });
    }
    const match = BEARER.exec(authorization);
    const token = match?.[1];
    if (token === undefined) {
      throw reject("TOKEN_INVALID", "authorization: expected \"Bearer <token>\"");
    }
    if (token.length > MAX_TOKEN_CHARS) {
      throw reject("TOKEN_INVALID", `token is too long (limit ${MAX_TOKEN_CHARS} characters)`);
    }
    if (secret === undefined && jwks === undefined) {
      throw reject("TOKEN_INVALID", "tokens are not accepted: no verification key is configured");
    }
    const key = cacheSize > 0 && token.length <= MAX_CACHED_TOKEN_CHARS ? createHash("sha256").update(token).digest("base64url") : "";
    const hit = key === "" ? undefined : verified.get(key);
    if (hit !== undefined) {
      // Same rule as jose's: expired once now (whole seconds) >= exp + tolerance.
      if (Date.now() < hit.untilMs) return hit.caller;
      verified.delete(key); // verified again below, which rejects it as expired
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, verifyOptions));
    } catch (err) {
      throw toPresenceError(err);
    }
    const caller = callerFromClaims(payload, claims);
    if (key !== "" && typeof payload.exp === "number") {
      if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
      verified.set(key, { caller: freezeCaller(caller), untilMs: (payload.exp + clockToleranceSec) * 1000 });
    }
    return caller;
  };
}

interface ClaimNames {
  capability: string;
  roomRoles: string;
  maxEntries: number;
}

/**
 * Maps verified claims to a caller: `sub`, `name`, `picture`, `meta`, `role`, `exp`, `scopes`, and for users
 * the capability and per-room role claims (parsed once here; the verified caller is cached).
 */
function callerFromClaims(payload: JWTPayload, claims: ClaimNames): Caller {
  const sub = payload.sub;
  if (typeof sub !== "string" || sub === "") {
    throw reject("TOKEN_INVALID", "token \"sub\" claim must be a non-empty string");
  }
  const role: Role = payload["role"] === "service" || payload["role"] === "admin" ? payload["role"] : "user";
  const name = payload["name"];
  const picture = payload["picture"];
  const scopes = payload["scopes"];
  const caller: Caller = {
    role,
    subject: sub,
    user: {
      userId: sub,
      name: typeof name === "string" ? name : "",
      avatarUrl: typeof picture === "string" ? picture : "",
      metadata: metadataFrom(payload["meta"]),
    },
    // `scopes` (scopes.proto): strings only, at most 64 kept; the service validates the names.
    ...(Array.isArray(scopes) ? { scopes: Object.freeze(scopes.filter((x): x is string => typeof x === "string").slice(0, 64)) } : {}),
  };
  if (typeof payload.exp === "number") caller.tokenExpiresAtMs = payload.exp * 1000;
  caller.subjectKey = makeSubjectKey(role, sub);
  if (role === "user") caller.grants = grantsFrom(payload, claims);
  return caller;
}

/** The capability and per-room role claims; a malformed one refuses the token (never read as "no rights"). */
function grantsFrom(payload: JWTPayload, claims: ClaimNames): CallerGrants {
  try {
    const capability = payload[claims.capability];
    const roles = payload[claims.roomRoles];
    if (capability === undefined && roles === undefined) return NO_GRANTS;
    return {
      ...(capability === undefined ? {} : { capability: parseRights(capability, claims.capability, claims.maxEntries) }),
      roles: roles === undefined ? [] : parseRoleClaim(roles, claims.roomRoles, claims.maxEntries),
    };
  } catch (err) {
    if (err instanceof PresenceError) throw reject("TOKEN_INVALID", `token claim ${err.message}`);
    throw err;
  }
}

/** The grants of every token without capability or room-role claims (shared: one object per connection otherwise). */
const NO_GRANTS: CallerGrants = Object.freeze({ roles: Object.freeze([]) });

/** A cached caller is shared by every call with its token: frozen so that none can change it for the others. */
function freezeCaller(caller: Caller): Caller {
  if (caller.user !== undefined) {
    Object.freeze(caller.user.metadata);
    Object.freeze(caller.user);
  }
  if (caller.grants !== undefined) Object.freeze(caller.grants);
  return Object.freeze(caller);
}

/** `meta` must be a plain object; its values are stringified (objects as JSON). */
function metadataFrom(meta: unknown): Record<string, string> {
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) return EMPTY_RECORD;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta)) {
    out[key] = typeof value === "string" ? value : value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return orEmpty(out);
}

function toPresenceError(err: unknown): PresenceError {
  if (err instanceof PresenceError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return reject("TOKEN_EXPIRED", "token has expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return reject("TOKEN_INVALID", claimMessage(err as { claim?: unknown; reason?: unknown }));
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return reject("TOKEN_INVALID", "token signature is invalid");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return reject("TOKEN_INVALID", "token algorithm is not accepted");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return reject("TOKEN_INVALID", "token signing key is not known");
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return reject("TOKEN_INVALID", "token does not identify its signing key (kid)");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return reject("TOKEN_INVALID", "token is malformed");
    default:
      return reject("TOKEN_INVALID", "token could not be verified");
  }
}

function claimMessage(err: { claim?: unknown; reason?: unknown }): string {
  const claim = typeof err.claim === "string" ? err.claim : "";
  if (err.reason === "missing") return `token is missing the "${claim}" claim`;
  switch (claim) {
    case "iss":
      return "token issuer is not accepted";
    case "aud":
      return "token audience is not accepted";
    case "nbf":
      return "token is not valid yet";
    case "":
      return "token claims are invalid";
    default:
      return `token "${claim}" claim is invalid`;
  }
}

function reject(reason: "TOKEN_INVALID" | "TOKEN_EXPIRED", message: string): PresenceError {
  return new PresenceError(reason, message, { field: "authorization" });
}

function encodeSecret(secret: string): Uint8Array {
  const bytes = new TextEncoder().encode(secret);
  if (bytes.byteLength < MIN_HS256_SECRET_BYTES) {
    throw new Error(
      `hs256Secret: must be at least ${MIN_HS256_SECRET_BYTES} bytes (got ${bytes.byteLength}); use a long random secret`,
    );
  }
  return bytes;
}

/** The remote key set, with a fetch failure told apart from a bad token: AUTH_UNAVAILABLE. */
function remoteKeys(o: TokenVerifierOptions): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(o.jwksUrl!), {
    timeoutDuration: o.jwksTimeoutMs,
    cacheMaxAge: o.jwksCacheMaxAgeMs,
    cooldownDuration: o.jwksCooldownMs,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      // The key set answered, and has no (or no unique) key for this token: the token's problem.
      if (code === "ERR_JWKS_NO_MATCHING_KEY" || code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS") throw err;
      throw authUnavailable("the key set (PRESENCE_JWKS_URL)", err);
    }
  };
}

function readJwks(path: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`jwksFile ${path}: cannot read JSON (${(err as Error).message})`, { cause: err });
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(`jwksFile ${path}: expected {"keys": [...]} with at least one key`);
  }
  return parsed as JSONWebKeySet;
}
