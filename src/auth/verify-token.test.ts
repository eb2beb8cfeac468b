import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { SignJWT, UnsecuredJWT, decodeJwt, exportJWK, generateKeyPair } from "jose";
import { ANONYMOUS } from "../core/identity.js";
import { PresenceError } from "../core/presence-error.js";
import { TEST_SECRET, signTestToken, VERIFIER_DEFAULTS } from "../../test/support/tokens.js";
import { createTokenVerifier, MAX_CACHED_TOKEN_CHARS } from "./verify-token.js";
import type { TokenVerifier } from "./verify-token.js";

async function rejection(verify: TokenVerifier, header: string | undefined): Promise<PresenceError> {
  const err = await verify(header).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PresenceError);
  const pe = err as PresenceError;
  expect(pe.code).toBe("unauthenticated");
  // The token never appears in the message.
  const token = header?.replace(/^bearer\b\s*/i, "").trim();
  if (token && token.length > 8) expect(pe.message).not.toContain(token);
  return pe;
}

describe("createTokenVerifier: configuration", () => {
  it("refuses HS256 secrets shorter than 32 bytes", () => {
    expect(() => createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: "x".repeat(31), allowAnonymous: false })).toThrow(/at least 32 bytes \(got 31\)/);
    expect(() => createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: "x".repeat(32), allowAnonymous: false })).not.toThrow();
  });
  it("refuses a configuration that can never authenticate anyone", () => {
    expect(() => createTokenVerifier({ ...VERIFIER_DEFAULTS, allowAnonymous: false })).toThrow(/hs256Secret or jwksFile/);
  });
  it("refuses a negative clock tolerance", () => {
    expect(() => createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, clockToleranceSec: -1 })).toThrow(/clockToleranceSec/);
  });
  it("refuses a missing or malformed JWKS file", () => {
    const dir = mkdtempSync(join(tmpdir(), "jwks-"));
    try {
      expect(() => createTokenVerifier({ ...VERIFIER_DEFAULTS, jwksFile: join(dir, "nope.json"), allowAnonymous: false })).toThrow(/jwksFile .*nope\.json/);
      writeFileSync(join(dir, "bad.json"), "{\"keys\": 1}");
      expect(() => createTokenVerifier({ ...VERIFIER_DEFAULTS, jwksFile: join(dir, "bad.json"), allowAnonymous: false })).toThrow(/expected \{"keys"/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("createTokenVerifier: HS256", () => {
  const verify = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false });
  const verifyAnon = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: true });

  it("missing header: anonymous when allowed, UNAUTHENTICATED otherwise", async () => {
    await expect(verifyAnon(undefined)).resolves.toBe(ANONYMOUS);
    await expect(verifyAnon("")).resolves.toBe(ANONYMOUS);
    expect((await rejection(verify, undefined)).reason).toBe("UNAUTHENTICATED");
    expect((await rejection(verify, "  ")).reason).toBe("UNAUTHENTICATED");
  });

  it("maps every claim to the caller", async () => {
    const token = await signTestToken(TEST_SECRET, {
      sub: "u1",
      name: "Ada",
      picture: "https://example.com/a.png",
      meta: { team: "blue", level: 3, admin: false, nested: { a: 1 }, none: null },
    });
    await expect(verify(`Bearer ${token}`)).resolves.toEqual({
      role: "user",
      subject: "u1",
      user: {
        userId: "u1",
        name: "Ada",
        avatarUrl: "https://example.com/a.png",
        metadata: { team: "blue", level: "3", admin: "false", nested: "{\"a\":1}", none: "null" },
      },
      tokenExpiresAtMs: decodeJwt(token).exp! * 1000,
      grants: { roles: [] },
      subjectKey: "u:u1",
    });
  });

  it("parses the capability and per-room role claims of user tokens once", async () => {
    const token = await signTestToken(TEST_SECRET, { sub: "ana", capability: { "/docs/*": ["read"], "user:team-*": ["status.read"] }, room_roles: { "doc-17": "commenter" } });
    const caller = await verify(`Bearer ${token}`);
    expect(caller.grants!.capability!.rooms.map((g) => [g.pattern.source, [...g.operations]])).toEqual([["/docs/*", ["read"]]]);
    expect(caller.grants!.capability!.users.map((g) => [g.pattern.source, [...g.operations]])).toEqual([["team-*", ["status.read"]]]);
    expect(caller.grants!.roles.map((g) => [g.pattern.source, g.role])).toEqual([["doc-17", "commenter"]]);
    expect(Object.isFrozen(caller.grants)).toBe(true);
    // Claim names are options; services take their rights from the configuration, not the token.
    const renamed = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, capabilityClaim: "caps", roomRolesClaim: "perms" });
    const other = await renamed(`Bearer ${await signTestToken(TEST_SECRET, { sub: "bob", caps: { "**": ["join"] }, perms: { "**": "viewer" } })}`);
    expect(other.grants!.capability!.rooms).toHaveLength(1);
    expect(other.grants!.roles[0]!.role).toBe("viewer");
    const svc = await verify(`Bearer ${await signTestToken(TEST_SECRET, { sub: "svc", role: "service", capability: { "**": ["join"] } })}`);
    expect(svc.grants).toBeUndefined();
  });

  it("refuses a token whose capability or role claim is malformed (never read as no rights)", async () => {
    const bad = async (claims: Record<string, unknown>) => rejection(verify, `Bearer ${await signTestToken(TEST_SECRET, { sub: "ana", ...claims })}`);
    const fly = await bad({ capability: { "/a": ["fly"] } });
    expect(fly.reason).toBe("TOKEN_INVALID");
    expect(fly.message).toBe('token claim capability["/a"]: unknown operation "fly" (known: join, watch, read, typing, cursor, kick, audit, status.read, status.watch, *)');
    expect((await bad({ room_roles: ["viewer"] })).message).toBe("token claim room_roles: must be a JSON object");
    const many = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, maxClaimEntries: 2 });
    const three = await signTestToken(TEST_SECRET, { sub: "ana", capability: { a: ["join"], b: ["join"], c: ["join"] } });
    expect((await rejection(many, `Bearer ${three}`)).message).toBe("token claim capability: must have at most 2 entries (got 3)");
  });

  it("fills defaults for a minimal token and ignores a non-object meta", async () => {
    for (const meta of [undefined, "x", 5, ["a"], null]) {
      const token = await signTestToken(TEST_SECRET, { sub: "u2", meta, name: 7 });
      await expect(verify(`Bearer ${token}`)).resolves.toEqual({
        role: "user",
        subject: "u2",
        user: { userId: "u2", name: "", avatarUrl: "", metadata: {} },
        tokenExpiresAtMs: decodeJwt(token).exp! * 1000,
        grants: { roles: [] },
        subjectKey: "u:u2",
      });
    }
  });

  it("takes role service and admin, anything else is a user", async () => {
    const roleOf = async (role: unknown) => (await verify(`Bearer ${await signTestToken(TEST_SECRET, { sub: "s", role })}`)).role;
    expect(await roleOf("service")).toBe("service");
    expect(await roleOf("admin")).toBe("admin");
    expect(await roleOf("anonymous")).toBe("user");
    expect(await roleOf("root")).toBe("user");
    expect(await roleOf(["admin"])).toBe("user");
  });

  it("accepts the scheme case-insensitively", async () => {
    const token = await signTestToken(TEST_SECRET, { sub: "u3" });
    expect((await verify(`bearer ${token}`)).subject).toBe("u3");
  });

  it("rejects a header that is not Bearer <token>", async () => {
    const token = await signTestToken(TEST_SECRET, { sub: "u" });
    for (const header of [`Basic ${token}`, "Bearer", "Bearer ", `Bearer ${token} extra`, token]) {
      const err = await rejection(verify, header);
      expect(err.reason).toBe("TOKEN_INVALID");
      expect(err.message).not.toContain(token);
    }
  });

  it("rejects a bad signature", async () => {
    const token = await signTestToken("another-secret-another-secret-0123456", { sub: "u" });
    const err = await rejection(verify, `Bearer ${token}`);
    expect(err.reason).toBe("TOKEN_INVALID");
    expect(err.message).toBe("token signature is invalid");
  });

  it("rejects malformed tokens", async () => {
    for (const token of ["abc", "abc.def.ghi", "a".repeat(9000)]) {
      expect((await rejection(verify, `Bearer ${token}`)).reason).toBe("TOKEN_INVALID");
    }
  });

  it("rejects unsecured (alg none) tokens", async () => {
    const token = new UnsecuredJWT({ sub: "u" }).setExpirationTime("5m").encode();
    expect((await rejection(verify, `Bearer ${token}`)).reason).toBe("TOKEN_INVALID");
  });

  it("rejects other HMAC algorithms with the same secret", async () => {
    const token = await new SignJWT({ sub: "u" })
      .setProtectedHeader({ alg: "HS512" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(TEST_SECRET.repeat(2)));
    const err = await rejection(createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET.repeat(2), allowAnonymous: false }), `Bearer ${token}`);
    expect(err.reason).toBe("TOKEN_INVALID");
    expect(err.message).toBe("token algorithm is not accepted");
  });

  it("requires exp and sub", async () => {
    const noExp = await signTestToken(TEST_SECRET, { sub: "u" }, null);
    const e1 = await rejection(verify, `Bearer ${noExp}`);
    expect([e1.reason, e1.message]).toEqual(["TOKEN_INVALID", "token is missing the \"exp\" claim"]);
    const noSub = await signTestToken(TEST_SECRET, {});
    const e2 = await rejection(verify, `Bearer ${noSub}`);
    expect([e2.reason, e2.message]).toEqual(["TOKEN_INVALID", "token is missing the \"sub\" claim"]);
    const numSub = await signTestToken(TEST_SECRET, { sub: 42 as unknown as string });
    expect((await rejection(verify, `Bearer ${numSub}`)).reason).toBe("TOKEN_INVALID");
    const emptySub = await signTestToken(TEST_SECRET, { sub: "" });
    expect((await rejection(verify, `Bearer ${emptySub}`)).reason).toBe("TOKEN_INVALID");
  });

  it("rejects expired tokens with TOKEN_EXPIRED, within the clock tolerance accepts them", async () => {
    const token = await signTestToken(TEST_SECRET, { sub: "u" }, -30);
    const err = await rejection(verify, `Bearer ${token}`);
    expect([err.reason, err.message]).toEqual(["TOKEN_EXPIRED", "token has expired"]);
    const tolerant = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, clockToleranceSec: 60 });
    expect((await tolerant(`Bearer ${token}`)).subject).toBe("u");
  });

  it("rejects tokens that are not valid yet", async () => {
    const token = await signTestToken(TEST_SECRET, { sub: "u", nbf: Math.floor(Date.now() / 1000) + 120 });
    expect((await rejection(verify, `Bearer ${token}`)).message).toBe("token is not valid yet");
  });

  it("checks iss and aud when configured", async () => {
    const strict = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, issuer: "https://idp", audience: "presence" });
    const good = await signTestToken(TEST_SECRET, { sub: "u", iss: "https://idp", aud: ["other", "presence"] });
    expect((await strict(`Bearer ${good}`)).subject).toBe("u");
    const badIss = await signTestToken(TEST_SECRET, { sub: "u", iss: "https://evil", aud: "presence" });
    expect((await rejection(strict, `Bearer ${badIss}`)).message).toBe("token issuer is not accepted");
    const badAud = await signTestToken(TEST_SECRET, { sub: "u", iss: "https://idp", aud: "other" });
    expect((await rejection(strict, `Bearer ${badAud}`)).message).toBe("token audience is not accepted");
    const noIss = await signTestToken(TEST_SECRET, { sub: "u", aud: "presence" });
    expect((await rejection(strict, `Bearer ${noIss}`)).reason).toBe("TOKEN_INVALID");
    // Unconfigured: iss and aud are not checked.
    expect((await verify(`Bearer ${badIss}`)).subject).toBe("u");
  });

  it("with anonymous access and no key, refuses any presented token", async () => {
    const anonOnly = createTokenVerifier({ ...VERIFIER_DEFAULTS, allowAnonymous: true });
    await expect(anonOnly(undefined)).resolves.toBe(ANONYMOUS);
    const token = await signTestToken(TEST_SECRET, { sub: "u" });
    expect((await rejection(anonOnly, `Bearer ${token}`)).reason).toBe("TOKEN_INVALID");
  });
});

describe("createTokenVerifier: local JWKS file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jwks-"));
  afterAll(() => rmSync(dir, { recursive: true }));
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const other = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const file = join(dir, "jwks.json");
  writeFileSync(file, JSON.stringify({ keys: [jwk] }));
  const verify = createTokenVerifier({ ...VERIFIER_DEFAULTS, jwksFile: file, allowAnonymous: false });
  const sign = (key: CryptoKey, kid: string, claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid }).setIssuedAt().setExpirationTime("5m").sign(key);

  it("accepts a token signed by a key in the file", async () => {
    const token = await sign(privateKey, "k1", { sub: "svc", role: "service", name: "Backend" });
    await expect(verify(`Bearer ${token}`)).resolves.toEqual({
      role: "service",
      subject: "svc",
      user: { userId: "svc", name: "Backend", avatarUrl: "", metadata: {} },
      tokenExpiresAtMs: decodeJwt(token).exp! * 1000,
      subjectKey: "s:svc",
    });
  });

  it("rejects a token signed by another key or naming an unknown kid", async () => {
    const forged = await sign(other.privateKey, "k1", { sub: "svc" });
    expect((await rejection(verify, `Bearer ${forged}`)).message).toBe("token signature is invalid");
    const unknown = await sign(other.privateKey, "k2", { sub: "svc" });
    expect((await rejection(verify, `Bearer ${unknown}`)).message).toBe("token signing key is not known");
  });

  it("rejects HS256 tokens when only a JWKS is configured", async () => {
    const token = await signTestToken(TEST_SECRET, { sub: "u" });
    expect((await rejection(verify, `Bearer ${token}`)).reason).toBe("TOKEN_INVALID");
  });

  it("accepts both kinds when both a secret and a JWKS are configured", async () => {
    const both = createTokenVerifier({ ...VERIFIER_DEFAULTS, jwksFile: file, hs256Secret: TEST_SECRET, allowAnonymous: false });
    expect((await both(`Bearer ${await signTestToken(TEST_SECRET, { sub: "a" })}`)).subject).toBe("a");
    expect((await both(`Bearer ${await sign(privateKey, "k1", { sub: "b" })}`)).subject).toBe("b");
  });
});

describe("createTokenVerifier: cache of verified tokens", () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const T0 = Date.parse("2026-01-01T00:00:00Z");

  it("remembers a verified token (one frozen caller) until exp + tolerance, then rejects it as expired", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: T0 });
    const verify = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, clockToleranceSec: 5 });
    const token = await signTestToken(TEST_SECRET, { sub: "u", meta: { team: "a" } }, 10);
    const first = await verify(`Bearer ${token}`);
    expect(await verify(`Bearer ${token}`)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.user) && Object.isFrozen(first.user?.metadata)).toBe(true);
    vi.setSystemTime(T0 + 14_999);
    expect(await verify(`Bearer ${token}`)).toBe(first);
    vi.setSystemTime(T0 + 15_000);
    expect((await rejection(verify, `Bearer ${token}`)).reason).toBe("TOKEN_EXPIRED");
    vi.setSystemTime(T0 + 1_000);
    expect((await verify(`Bearer ${token}`)).subject).toBe("u"); // verified again, not served stale
  });

  it("keeps at most cacheSize tokens, evicting the oldest; cacheSize 0 verifies every call", async () => {
    const a = await signTestToken(TEST_SECRET, { sub: "a" });
    const b = await signTestToken(TEST_SECRET, { sub: "b" });
    const one = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, cacheSize: 1 });
    const a1 = await one(`Bearer ${a}`);
    const b1 = await one(`Bearer ${b}`);
    expect(await one(`Bearer ${b}`)).toBe(b1);
    const a2 = await one(`Bearer ${a}`);
    expect(a2).not.toBe(a1);
    expect(a2).toEqual(a1);
    const none = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, cacheSize: 0 });
    expect(await none(`Bearer ${a}`)).not.toBe(await none(`Bearer ${a}`));
  });

  it("does not keep tokens longer than MAX_CACHED_TOKEN_CHARS", async () => {
    const verify = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false });
    const long = await signTestToken(TEST_SECRET, { sub: "u", meta: { pad: "x".repeat(MAX_CACHED_TOKEN_CHARS) } });
    expect(long.length).toBeGreaterThan(MAX_CACHED_TOKEN_CHARS);
    expect(await verify(`Bearer ${long}`)).not.toBe(await verify(`Bearer ${long}`));
  });

  it("refuses a negative or fractional cacheSize", () => {
    expect(() => createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, cacheSize: -1 })).toThrow(/cacheSize/);
    expect(() => createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: false, cacheSize: 1.5 })).toThrow(/cacheSize/);
  });
});
