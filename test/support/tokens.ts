/**
 * Test tokens: HS256 JWTs signed with a known secret, for tests of the verifier and of every
 * transport that authenticates callers.
 */
import { SignJWT } from "jose";
import type { JWTPayload } from "jose";
import { loadConfig } from "../../src/config.js";

/** The verifier's configured defaults (src/config/): tests add the key and override what they exercise. */
export const VERIFIER_DEFAULTS = (() => {
  const c = loadConfig({});
  return {
    cacheSize: c.auth.tokenCacheSize,
    clockToleranceSec: c.auth.clockToleranceSec,
    capabilityClaim: c.access.claims.capability,
    roomRolesClaim: c.access.claims.roomRoles,
    maxClaimEntries: c.access.claims.maxEntries,
    jwksTimeoutMs: c.access.jwks.timeoutMs,
    jwksCacheMaxAgeMs: c.access.jwks.cacheMaxAgeMs,
    jwksCooldownMs: c.access.jwks.cooldownMs,
  };
})();

/** A 32-byte secret that the verifier accepts; use it with `signTestToken`. */
export const TEST_SECRET = "test-secret-test-secret-test-secret-0123";

/**
 * Signs `claims` with HS256 and `secret`. `iat` is now; `exp` is now + `expiresInSec` (negative for
 * an already expired token), or omitted when `expiresInSec` is `null`. Claims given explicitly
 * (including `iat`/`exp`) win.
 */
export async function signTestToken(
  secret: string,
  claims: JWTPayload & Record<string, unknown>,
  expiresInSec: number | null = 300,
): Promise<string> {
  const nowSec = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iat: nowSec, ...(expiresInSec === null ? {} : { exp: nowSec + expiresInSec }), ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
}
