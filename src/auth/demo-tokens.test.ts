import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { createDemoTokenIssuer, DemoTokenError, slugOf } from "./demo-tokens.js";
import { createTokenVerifier } from "./verify-token.js";
import { VERIFIER_DEFAULTS } from "../../test/support/tokens.js";

const SECRET = "demo-secret-demo-secret-demo-secret-0123";
const config = loadConfig({});
/** The configured defaults (src/config/): tests override what they exercise. */
const defaults = { demo: config.demo, verifier: VERIFIER_DEFAULTS };

describe("demo tokens", () => {
  it("slugs names", () => {
    expect(slugOf("Ana")).toBe("ana");
    expect(slugOf("  Ana Lima ")).toBe("ana-lima");
    expect(slugOf("Zoë O'Brien")).toBe("zoe-o-brien");
    expect(slugOf("李")).toBe("user");
    expect(slugOf("a".repeat(40))).toHaveLength(24);
  });

  it("signs a token the verifier accepts, with sub = slug + a random suffix, or one derived from the page's key", async () => {
    const issuer = createDemoTokenIssuer({ ttlSec: defaults.demo.tokenTtlSec, secret: SECRET, issuer: "demo", audience: "presence" });
    const verify = createTokenVerifier({ ...defaults.verifier, hs256Secret: SECRET, issuer: "demo", audience: "presence", allowAnonymous: false });
    const t = await issuer.issue({ name: " Ana  Lima " });
    expect(t.name).toBe("Ana Lima");
    expect(t.sub).toMatch(/^ana-lima-[a-z0-9]{16}$/);
    expect(t.expiresAtMs).toBeGreaterThan(Date.now() + 3_600_000);
    const caller = await verify(`Bearer ${t.token}`);
    expect(caller).toMatchObject({ role: "user", subject: t.sub, user: { userId: t.sub, name: "Ana Lima", avatarUrl: "" } });
    expect((await issuer.issue({ name: "Ana Lima" })).sub).not.toBe(t.sub);
    // A page's key gives the same sub every time (reconnects, restarts); another key another sub.
    const key = "k".repeat(22);
    const mine = (await issuer.issue({ name: "Ana Lima", key })).sub;
    expect((await issuer.issue({ name: "Ana Lima", key })).sub).toBe(mine);
    expect((await issuer.issue({ name: "Ana Lima", key: "j".repeat(22) })).sub).not.toBe(mine);
    expect(mine).toMatch(/^ana-lima-[a-z0-9]{16}$/);
  });

  it("refuses empty, long or control-character names and short or malformed keys; never takes a sub", async () => {
    const issuer = createDemoTokenIssuer({ ttlSec: defaults.demo.tokenTtlSec, secret: SECRET });
    await expect(issuer.issue({ name: "  " })).rejects.toThrow(DemoTokenError);
    await expect(issuer.issue({ name: "x".repeat(41) })).rejects.toThrow(/at most 40/);
    await expect(issuer.issue({ name: "a\u0000b" })).rejects.toThrow(/control/);
    await expect(issuer.issue({ name: "Ana", key: "short" })).rejects.toThrow(/^key: must be 22 to 128 characters/);
    await expect(issuer.issue({ name: "Ana", key: "x".repeat(21) + "!" })).rejects.toThrow(/^key:/);
    // Whatever a caller sends, the sub is the issuer's: an extra `sub` is not part of the request.
    const forged = await issuer.issue({ name: "Ana", ...({ sub: "ana-victim" } as object) });
    expect(forged.sub).not.toBe("ana-victim");
  });
});

describe("PRESENCE_DEMO", () => {
  it("is on by default only in development mode, and cannot be turned on in production", () => {
    expect(loadConfig({}).demo.tokens).toBe(true);
    expect(loadConfig({ PRESENCE_JWT_SECRET: SECRET }).demo.tokens).toBe(false);
    expect(loadConfig({ PRESENCE_JWKS_FILE: "/nonexistent.json" }).demo.tokens).toBe(false);
    expect(loadConfig({ PRESENCE_JWKS_URL: "https://id.example.com/jwks.json" }).demo.tokens).toBe(false);
    expect(loadConfig({ PRESENCE_MODE: "production" }).demo.tokens).toBe(false);
    expect(() => loadConfig({ PRESENCE_JWT_SECRET: SECRET, PRESENCE_DEMO: "true" })).toThrow(/PRESENCE_DEMO=true: demo tokens are for development only/);
    expect(() => loadConfig({ PRESENCE_MODE: "production", PRESENCE_DEMO: "true" })).toThrow(/PRESENCE_DEMO=true/);
    expect(loadConfig({ PRESENCE_DEMO: "false" }).demo.tokens).toBe(false);
    expect(() => loadConfig({ PRESENCE_DEMO: "maybe" })).toThrow(/PRESENCE_DEMO/);
    expect(loadConfig({}).demo.dir).toMatch(/dist\/demo\/?$/);
    expect(loadConfig({ PRESENCE_DEMO_DIR: "/srv/demo" }).demo.dir).toBe("/srv/demo");
  });
});
