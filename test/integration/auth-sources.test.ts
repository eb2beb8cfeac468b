import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { loadConfig } from "../../src/config.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/*
 * Where identities come from and how long they hold (issue 11): a remote JWKS (a real HTTP server
 * as the identity provider: keys fetched, cached, rotated; a provider that is down or slow refuses
 * with AUTH_UNAVAILABLE, not "token invalid"); Connect/gRPC watch streams end with TOKEN_EXPIRED
 * when their token expires (the WebSocket closes with 4003 for the same reason); the admin port
 * binds to loopback unless told otherwise.
 */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
    return "ok";
  } catch (e) {
    const ce = ConnectError.from(e);
    return `${ce.code}/${ce.findDetails(ErrorInfoSchema)[0]?.reason}`;
  }
};
const asCaller = (s: TestServer, token: string) =>
  createClient(PresenceService, createGrpcTransport({ baseUrl: s.baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))] }));

describe("remote JWKS", () => {
  it("verifies with fetched keys, refetches for a new key id, and refuses with AUTH_UNAVAILABLE when the provider is down or slow", async () => {
    const k1 = await generateKeyPair("ES256");
    const k2 = await generateKeyPair("ES256");
    const keys = [{ ...(await exportJWK(k1.publicKey)), kid: "k1", alg: "ES256", use: "sig" }];
    const provider = { fetches: 0, slow: false };
    const idp = http.createServer((_req, res) => {
      provider.fetches++;
      const send = () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
      if (provider.slow) setTimeout(send, 1_000);
      else send();
    });
    await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => (idp.closeAllConnections(), idp.close(r))));
    const s = await startTestServer({
      PRESENCE_JWT_SECRET: "",
      PRESENCE_JWKS_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`,
      PRESENCE_JWKS_TIMEOUT_MS: "200",
      PRESENCE_JWKS_COOLDOWN_MS: "0",
    });
    cleanups.push(() => s.close());
    const sign = (key: CryptoKey, kid: string, sub: string) => new SignJWT({}).setProtectedHeader({ alg: "ES256", kid }).setSubject(sub).setIssuedAt().setExpirationTime("5m").sign(key);

    expect(await failure(asCaller(s, await sign(k1.privateKey, "k1", "ana")).join({ room: "/r" }))).toBe("ok");
    expect(await failure(asCaller(s, await sign(k1.privateKey, "k1", "bob")).join({ room: "/r" }))).toBe("ok");
    expect(provider.fetches).toBe(1); // cached
    // A token signed by a key the provider does not list: the token's fault.
    expect(await failure(asCaller(s, await sign(k2.privateKey, "k2", "eve")).join({ room: "/r" }))).toBe("16/TOKEN_INVALID");
    // The provider rotates in k2: a new key id makes the server fetch again.
    keys.push({ ...(await exportJWK(k2.publicKey)), kid: "k2", alg: "ES256", use: "sig" });
    expect(await failure(asCaller(s, await sign(k2.privateKey, "k2", "cid")).join({ room: "/r" }))).toBe("ok");
    // Slow or down: the server cannot know whether the token is good, so it says unavailable (retry).
    provider.slow = true;
    const k3 = await generateKeyPair("ES256");
    expect(await failure(asCaller(s, await sign(k3.privateKey, "k3", "dan")).join({ room: "/r" }))).toBe("14/AUTH_UNAVAILABLE");
    await new Promise<void>((r) => (idp.closeAllConnections(), idp.close(() => r())));
    expect(await failure(asCaller(s, await sign(k3.privateKey, "k3", "dan")).join({ room: "/r" }))).toBe("14/AUTH_UNAVAILABLE");
    // Keys already fetched still verify while the provider is away.
    expect(await failure(asCaller(s, await sign(k1.privateKey, "k1", "fay")).join({ room: "/r" }))).toBe("ok");
  });

  it("is production mode, and refused next to a JWKS file", () => {
    expect(loadConfig({ PRESENCE_JWKS_URL: "https://id.example.com/jwks.json" }).access.policy.mode).toBe("production");
    expect(() => loadConfig({ PRESENCE_JWKS_URL: "https://id.example.com/jwks.json", PRESENCE_JWKS_FILE: "/k.json" })).toThrow(/set one, not both/);
    expect(() => loadConfig({ PRESENCE_JWKS_URL: "ftp://x" })).toThrow(/PRESENCE_JWKS_URL="ftp:\/\/x": must be an http/);
  });
});

describe("token expiry on streams", () => {
  it("a Connect/gRPC watch stream ends with TOKEN_EXPIRED when its token expires", async () => {
    const s = await startTestServer();
    cleanups.push(() => s.close());
    const token = await signTestToken(TEST_SECRET, { sub: "ana" }, 2); // exp in 2 s (whole seconds)
    const t0 = Date.now();
    const messages: string[] = [];
    const ended = await failure(
      (async () => {
        for await (const m of asCaller(s, token).watchPresence({ room: "/r" })) messages.push(m.message.case ?? "");
      })(),
    );
    expect(ended).toBe("16/TOKEN_EXPIRED");
    expect(messages[0]).toBe("snapshot");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t0).toBeLessThan(4_000);
    // WatchUsers too.
    const t2 = await signTestToken(TEST_SECRET, { sub: "ana" }, 1);
    expect(await failure((async () => { for await (const _ of asCaller(s, t2).watchUsers({ userIds: ["bob"] })); })())).toBe("16/TOKEN_EXPIRED");
  });
});

describe("admin port", () => {
  it("binds to loopback by default, or where PRESENCE_ADMIN_HOST says", async () => {
    expect(loadConfig({}).adminHost).toBe("127.0.0.1");
    const s = await startTestServer({ PRESENCE_ADMIN_HOST: "127.0.0.2" });
    cleanups.push(() => s.close());
    expect((await fetch(`http://127.0.0.2:${s.app.adminPort}/healthz`)).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${s.app.adminPort}/healthz`)).rejects.toThrow();
  });
});
