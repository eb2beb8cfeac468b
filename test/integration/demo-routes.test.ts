import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwtVerify } from "jose";
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPresenceClient, type PresenceClient } from "@presence-platform/client";
import { createLogger } from "../../src/logger.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { TEST_SECRET } from "../support/tokens.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";
import type { WsEngineName } from "../../src/transport/ws/ws-engine.js";

/**
 * The demo page on the WebSocket bridge's port: `/` and `/app.js` from the demo directory (and
 * nothing else from the disk), a 503 page when it is not built, and the demo token endpoint
 * (PRESENCE_DEMO): on by itself without a configured key (ephemeral secret), off with one unless
 * asked for (then signed with the real secret, and a warning is logged). On each WebSocket engine.
 */
let dir = "";
const servers: TestServer[] = [];
const clients: PresenceClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "presence-demo-"));
  await writeFile(join(dir, "index.html"), "<!doctype html><title>demo</title>");
  await writeFile(join(dir, "app.js"), "console.log('demo')");
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(env: Record<string, string>, logs?: string[]) {
  const s = await startTestServer({ ...engineEnv(engine), ...env }, logs ? { logger: createLogger("warn", (l) => logs.push(l)) } : {});
  servers.push(s);
  return { ...s, http: `http://127.0.0.1:${s.app.wsPort}` };
}

/** A raw GET (no URL normalization by the client). */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

/** The engine of the suite running now (set by its `beforeAll`). */
let engine: WsEngineName = "ws";

for (const e of WS_ENGINES)
describe(`on the ${e} engine`, () => {
beforeAll(() => {
  engine = e;
});

describe("demo page routes", () => {
  it("serves index.html and app.js of the demo directory and nothing else", async () => {
    const s = await server({ PRESENCE_DEMO_DIR: dir });
    const page = await fetch(`${s.http}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
    expect(await page.text()).toContain("<title>demo</title>");
    const js = await fetch(`${s.http}/app.js`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await js.text()).toBe("console.log('demo')");
    for (const path of ["/index.html", "/app.js/../../package.json", "/../package.json", "/%2e%2e/package.json", "/favicon.ico", "/demo"]) {
      expect((await rawGet(s.app.wsPort, path)).status, path).toBe(404);
    }
    expect((await fetch(`${s.http}/ws`)).status).toBe(426);
    expect((await fetch(`${s.http}/`, { method: "POST" })).status).toBe(404);
  });

  it("answers 503 with a build hint when the demo is not built", async () => {
    const s = await server({ PRESENCE_DEMO_DIR: join(dir, "missing") });
    const page = await fetch(`${s.http}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain("npm run build:demo");
    expect((await fetch(`${s.http}/app.js`)).status).toBe(503);
  });
});

describe("demo token endpoint", () => {
  it("is on without a configured key: ephemeral secret, the bridge accepts its tokens, the same sub for the same page key", async () => {
    const logs: string[] = [];
    const s = await server({ PRESENCE_JWT_SECRET: "", PRESENCE_DEMO_DIR: dir }, logs);
    const res = await fetch(`${s.http}/demo/token?name=${encodeURIComponent("Zoë Lima")}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const t = (await res.json()) as { token: string; sub: string; name: string; expiresAtMs: number };
    expect(t.name).toBe("Zoë Lima");
    expect(t.sub).toMatch(/^zoe-lima-[a-z0-9]{16}$/);
    await expect(jwtVerify(t.token, new TextEncoder().encode(TEST_SECRET))).rejects.toThrow(); // not the test secret
    // Asking again without a key gives a fresh id; with the page's key, always the same one.
    const fresh = (await (await fetch(`${s.http}/demo/token?name=Zo%C3%AB+Lima`)).json()) as { sub: string };
    expect(fresh.sub).not.toBe(t.sub);
    const key = "page-key-0123456789abcdef";
    const k1 = (await (await fetch(`${s.http}/demo/token?name=Ana&key=${key}`)).json()) as { sub: string };
    const k2 = (await (await fetch(`${s.http}/demo/token?name=Ana&key=${key}`)).json()) as { sub: string };
    expect(k2.sub).toBe(k1.sub);
    // Another visitor cannot get a token for that id: a `sub` parameter is ignored.
    const forged = (await (await fetch(`${s.http}/demo/token?name=Ana&sub=${k1.sub}`)).json()) as { sub: string };
    expect(forged.sub).not.toBe(k1.sub);

    const c = createPresenceClient({ transport: "websocket", url: s.wsUrl, token: t.token, webSocket: WebSocket, visibility: false });
    clients.push(c);
    const room = c.join("/");
    await room.ready;
    expect(room.users.map((u) => [u.userId, u.name])).toEqual([[t.sub, "Zoë Lima"]]);
    expect(logs.filter((l) => l.includes("PRESENCE_DEMO"))).toEqual([]);

    for (const q of ["", "?name=", `?name=${"x".repeat(41)}`, "?name=Ana&key=short", "?name=Ana&key=not%20base64url%20at%20all!!"]) {
      const bad = await fetch(`${s.http}/demo/token${q}`);
      expect(bad.status, q).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/^(name|key):/);
    }
  });

  it("is off when a key is configured, and cannot be turned on with it", async () => {
    const off = await server({ PRESENCE_DEMO_DIR: dir });
    const res = await fetch(`${off.http}/demo/token?name=Ana`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toContain("PRESENCE_DEMO");
    expect((await fetch(`${off.http}/`)).status).toBe(200); // the page still loads (guests only)
    await expect(server({ PRESENCE_DEMO: "true", PRESENCE_DEMO_DIR: dir })).rejects.toThrow(/PRESENCE_DEMO=true: demo tokens are for development only/);
  });
});
});
