/**
 * Demo identities (PRESENCE_DEMO, development mode only): signs HS256 tokens for whatever name a
 * visitor types, so the demo page can show named users without an identity provider. Anyone who
 * can reach the endpoint can mint a token, which is why it exists only in development mode (no
 * real key configured) and signs with an ephemeral secret made at start-up.
 *
 * Nobody can mint a token for an id of their choosing, in particular not for another visitor's
 * (user ids are public: room views list them). `sub` is a slug of the name plus 16 characters
 * derived from a random key: the server's own, fresh for every request, or the page's (`key`, at
 * least 128 random bits it keeps in sessionStorage), so that a page asking again after a server
 * restart stays the same user while nobody without its key can be that user
 * (`ana-k3x9q2mzp8w4t7cd`; finding a key for a given suffix is an 80-bit search). No `role`, no
 * `picture`, no capability.
 */
import { createHash, randomBytes } from "node:crypto";
import { SignJWT } from "jose";

export interface DemoToken {
  token: string;
  sub: string;
  name: string;
  /** When the token expires (ms since the Unix epoch). */
  expiresAtMs: number;
}

export interface DemoTokenIssuer {
  /** Signs a token for `name` (its `sub` derived from `key` when given, else random); throws {@link DemoTokenError} on bad input. */
  issue(request: { name: string; key?: string }): Promise<DemoToken>;
}

export interface DemoTokenIssuerOptions {
  /** HS256 secret (the verifier's). */
  secret: string;
  /** Token lifetime (PRESENCE_DEMO_TOKEN_TTL_SEC). */
  ttlSec: number;
  /** Set `iss` / `aud` when the verifier requires them. */
  issuer?: string;
  audience?: string;
  now?: () => number;
}

/** A rejected demo token request (HTTP 400). */
export class DemoTokenError extends Error {
  override readonly name = "DemoTokenError";
}

export const MAX_DEMO_NAME_CHARS = 40;
const SUFFIX_CHARS = 16;
/** A page's key: 22 to 128 base64url characters (at least 128 bits). */
const KEY = /^[A-Za-z0-9_-]{22,128}$/;
/** 32 characters: a random byte maps to one without bias. */
const ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";

export function createDemoTokenIssuer(o: DemoTokenIssuerOptions): DemoTokenIssuer {
  const signingKey = new TextEncoder().encode(o.secret);
  const ttlSec = o.ttlSec;
  const now = o.now ?? Date.now;
  return {
    async issue(request) {
      const name = request.name.trim().replace(/\s+/g, " ");
      const chars = Array.from(name).length;
      if (chars === 0) throw new DemoTokenError("name: required");
      if (chars > MAX_DEMO_NAME_CHARS) throw new DemoTokenError(`name: at most ${MAX_DEMO_NAME_CHARS} characters (got ${chars})`);
      if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw new DemoTokenError("name: control characters are not allowed");
      const key = request.key ?? "";
      if (key !== "" && !KEY.test(key)) throw new DemoTokenError("key: must be 22 to 128 characters of A-Z, a-z, 0-9, '-' and '_' (a random key the page keeps)");
      const sub = `${slugOf(name)}-${suffixOf(key === "" ? randomBytes(16).toString("base64url") : key)}`;
      const iat = Math.floor(now() / 1000);
      const exp = iat + ttlSec;
      const jwt = new SignJWT({ name }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(sub).setIssuedAt(iat).setExpirationTime(exp);
      if (o.issuer !== undefined) jwt.setIssuer(o.issuer);
      if (o.audience !== undefined) jwt.setAudience(o.audience);
      return { token: await jwt.sign(signingKey), sub, name, expiresAtMs: exp * 1000 };
    },
  };
}

/** "Ana Lima" → "ana-lima", "Zoë" → "zoe", "李" → "user". At most 24 characters. */
export function slugOf(name: string): string {
  const slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 24)
    .replace(/-+$/, "");
  return slug === "" ? "user" : slug;
}

/** 16 characters (80 bits) of SHA-256 over the key: a random key gives a random suffix, and the same key the same one. */
function suffixOf(key: string): string {
  let s = "";
  for (const b of createHash("sha256").update(`presence-demo-sub:${key}`).digest().subarray(0, SUFFIX_CHARS)) s += ALPHABET[b & 31];
  return s;
}
