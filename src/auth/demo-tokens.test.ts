import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { createDemoTokenIssuer, DemoTokenError, slugOf } from "./demo-tokens.js";
import { createTokenVerifier } from "./verify-token.js";

const SECRET = "demo-secret-demo-secret-demo-secret-0123";
const config = loadConfig({});
/** The configured defaults (src/config/): tests override what they exercise. */
const defaults = { demo: config.demo, verifier: { cacheSize: config.auth.tokenCacheSize, clockToleranceSec: config.auth.clockToleranceSec } };

describe("demo tokens", () => {
  it("slugs names", () => {
    expect(slugOf("Ana")).toBe("ana");
    expect(slugOf("  Ana Lima ")).toBe("ana-lima");
    expect(slugOf("Zoë O'Brien")).toBe("zoe-o-brien");
    expect(slugOf("李")).toBe("user");
    expect(slugOf("a".repeat(40))).toHaveLength(24);
  });

  it("signs a token the verifier accepts, with sub = slug + random suffix, and keeps a given demo sub", async () => {
    const issuer = createDemoTokenIssuer({ ttlSec: defaults.demo.tokenTtlSec, secret: SECRET, issuer: "demo", audience: "presence" });
    const verify = createTokenVerifier({ ...defaults.verifier, hs256Secret: SECRET, issuer: "demo", audience: "presence", allowAnonymous: false });
    const t = await issuer.issue({ name: " Ana  Lima " });
    expect(t.name).toBe("Ana Lima");
    expect(t.sub).toMatch(/^ana-lima-[a-z0-9]{8}$/);
    expect(t.expiresAtMs).toBeGreaterThan(Date.now() + 3_600_000);
    const caller = await verify(`Bearer ${t.token}`);
    expect(caller).toMatchObject({ role: "user", subject: t.sub, user: { userId: t.sub, name: "Ana Lima", avatarUrl: "" } });
    expect((await issuer.issue({ name: "Ana Lima" })).sub).not.toBe(t.sub);
    expect((await issuer.issue({ name: "Ana Lima", sub: t.sub })).sub).toBe(t.sub);
  });

  it("refuses empty, long or control-character names and subs that are not this name's demo ids", async () => {
    const issuer = createDemoTokenIssuer({ ttlSec: defaults.demo.tokenTtlSec, secret: SECRET });
    await expect(issuer.issue({ name: "  " })).rejects.toThrow(DemoTokenError);
    await expect(issuer.issue({ name: "x".repeat(41) })).rejects.toThrow(/at most 40/);
    await expect(issuer.issue({ name: "a\u0000b" })).rejects.toThrow(/control/);
    await expect(issuer.issue({ name: "Ana", sub: "admin" })).rejects.toThrow(/sub/);
    await expect(issuer.issue({ name: "Ana", sub: "bob-abcdefgh" })).rejects.toThrow(/sub/);
    await expect(issuer.issue({ name: "Ana", sub: "ana-abcdefgh-x" })).rejects.toThrow(/sub/);
  });
});

describe("PRESENCE_DEMO", () => {
  it("is on by default only when no key is configured", () => {
    expect(loadConfig({}).demo.tokens).toBe(true);
    expect(loadConfig({ PRESENCE_JWT_SECRET: SECRET }).demo.tokens).toBe(false);
    expect(loadConfig({ PRESENCE_JWKS_FILE: "/nonexistent.json" }).demo.tokens).toBe(false);
    expect(loadConfig({ PRESENCE_JWT_SECRET: SECRET, PRESENCE_DEMO: "true" }).demo.tokens).toBe(true);
    expect(loadConfig({ PRESENCE_DEMO: "false" }).demo.tokens).toBe(false);
    expect(() => loadConfig({ PRESENCE_DEMO: "maybe" })).toThrow(/PRESENCE_DEMO/);
    expect(loadConfig({}).demo.dir).toMatch(/dist\/demo\/?$/);
    expect(loadConfig({ PRESENCE_DEMO_DIR: "/srv/demo" }).demo.dir).toBe("/srv/demo");
  });
});
