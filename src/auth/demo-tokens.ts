/**
 * Demo identities (PRESENCE_DEMO): signs HS256 tokens for whatever name a visitor types, so the
 * demo page can show named users without an identity provider. Anyone who can reach the endpoint
 * can mint a token, which is why the server turns it on by itself only when no real key is
 * configured (and then signs with an ephemeral secret made at start-up).
 *
 * `sub` is a slug of the name plus a random suffix (`ana-k3x9q2mz`). A page that already has one
 * asks again with it (`sub`), so its user id stays the same across reconnects and server
 * restarts; only ids of that shape (the slug of the same name, a dash, 8 of [a-z0-9]) are
 * accepted, so the endpoint cannot mint tokens for other users' ids. No `role`, no `picture`.
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";

export interface DemoToken {
  token: string;
  sub: string;
  name: string;
  /** When the token expires (ms since the Unix epoch). */
  expiresAtMs: number;
}

export interface DemoTokenIssuer {
  /** Signs a token for `name` (and `sub` when the page has one); throws {@link DemoTokenError} on bad input. */
  issue(request: { name: string; sub?: string }): Promise<DemoToken>;
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
const SUFFIX_CHARS = 8;
/** 32 characters: a random byte maps to one without bias. */
const ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";

export function createDemoTokenIssuer(o: DemoTokenIssuerOptions): DemoTokenIssuer {
  const key = new TextEncoder().encode(o.secret);
  const ttlSec = o.ttlSec;
  const now = o.now ?? Date.now;
  return {
    async issue(request) {
      const name = request.name.trim().replace(/\s+/g, " ");
      const chars = Array.from(name).length;
      if (chars === 0) throw new DemoTokenError("name: required");
      if (chars > MAX_DEMO_NAME_CHARS) throw new DemoTokenError(`name: at most ${MAX_DEMO_NAME_CHARS} characters (got ${chars})`);
      if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw new DemoTokenError("name: control characters are not allowed");
      const slug = slugOf(name);
      let sub = request.sub;
      if (sub === undefined || sub === "") sub = `${slug}-${randomSuffix()}`;
      else if (!new RegExp(`^${slug}-[a-z0-9]{${SUFFIX_CHARS}}$`).test(sub)) {
        throw new DemoTokenError(`sub: must be "${slug}-" and ${SUFFIX_CHARS} of [a-z0-9] (a demo id of this name)`);
      }
      const iat = Math.floor(now() / 1000);
      const exp = iat + ttlSec;
      const jwt = new SignJWT({ name }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(sub).setIssuedAt(iat).setExpirationTime(exp);
      if (o.issuer !== undefined) jwt.setIssuer(o.issuer);
      if (o.audience !== undefined) jwt.setAudience(o.audience);
      return { token: await jwt.sign(key), sub, name, expiresAtMs: exp * 1000 };
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

function randomSuffix(): string {
  let s = "";
  for (const b of randomBytes(SUFFIX_CHARS)) s += ALPHABET[b & 31];
  return s;
}
