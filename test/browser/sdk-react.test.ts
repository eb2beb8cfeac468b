import { build } from "esbuild";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPresenceClient, type PresenceClient, type RoomHandle } from "@presence-platform/client";
import { startTestServer, type TestServer } from "../support/server.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * The SDK and its React bindings in a real browser (Debian chromium through playwright-core),
 * bundled by esbuild, against a real server, over the browser's own WebSocket (token in the
 * subprotocol) and over Connect-Web (fetch, cross-origin with CORS). A Node client (Bob) is the
 * other person in the room. The page follows its URL (pushState moves the session), and the
 * page-visibility rules are checked with a shortened clock: hidden → away → gone; visible → back.
 */
const CHROMIUM = "/usr/bin/chromium";
let browser: Browser;
let site: http.Server;
let siteUrl = "";
const servers: TestServer[] = [];
const clients: PresenceClient[] = [];

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("./fixtures/presence-app.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    define: { "process.env.NODE_ENV": '"development"' },
    logLevel: "silent",
  });
  const js = bundle.outputFiles[0]!.text;
  site = http.createServer((req, res) => {
    if (req.url === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(js);
      return;
    }
    res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><html><body><div id="app"></div><script type="module" src="/app.js"></script></body></html>');
  });
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => site?.close(r));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const token = (sub: string) => signTestToken(TEST_SECRET, { sub, name: sub[0]!.toUpperCase() + sub.slice(1) });

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const text = (page: Page, id: string) => page.textContent(`#${id}`).then((t) => t ?? "");

async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((h) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (h ? "hidden" : "visible") });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

const variants = [...WS_ENGINES.map((engine) => ({ transport: "websocket" as const, engine, name: `websocket (${engine} engine)` })), { transport: "connect" as const, engine: WS_ENGINES[0]!, name: "connect" }];

for (const { transport, engine, name } of variants) {
  describe(`React page presence in chromium over ${name}`, () => {
    it("shows who is here, typing and cursors, follows the URL, and applies the visibility rules", async () => {
      const s = await startTestServer({ PRESENCE_HEARTBEAT_INTERVAL_MS: "200", PRESENCE_SESSION_TTL_MS: "1500", PRESENCE_REAPER_INTERVAL_MS: "50", ...engineEnv(engine) });
      servers.push(s);
      const bob = createPresenceClient({ transport: "websocket", url: s.wsUrl, token: await token("bob"), webSocket: WebSocket, visibility: false });
      clients.push(bob);
      const doc1: RoomHandle = bob.join("/doc/1");
      const doc2: RoomHandle = bob.join("/doc/2");
      await doc1.ready;

      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      try {
        await page.addInitScript((cfg) => Object.assign(window, { __PRESENCE__: cfg }), {
          transport,
          url: transport === "websocket" ? s.wsUrl : s.baseUrl,
          token: await token("ana"),
          awayAfterMs: 400,
          disconnectAfterMs: 1_500,
        });
        await page.goto(`${siteUrl}/doc/1/?tab=info#top`);
        await until(async () => (await text(page, "count")) === "2 people viewing", "2 people viewing");
        expect(await text(page, "room")).toBe("/doc/1");
        expect(await page.locator("#avatars .presence-avatar").count()).toBe(2);
        expect(await page.getAttribute('#avatars [data-user-id="ana"]', "title")).toBe("Ana (you)");
        await until(() => doc1.isUserHere("ana"), "bob sees ana");
        expect(doc1.users.find((u) => u.userId === "ana")!.connections[0]!.metadata).toEqual({ app: "test" });

        doc1.typing.start();
        await until(async () => (await text(page, "typing")) === "Bob is typing…", "ana sees bob typing");
        await page.type("#editor", "hi");
        await until(() => doc1.typing.users.some((t) => t.userId === "ana"), "bob sees ana typing");
        doc1.cursor.update({ x: 5, y: 6 });
        await until(async () => (await text(page, "cursors")) === "Bob@5,6", "ana sees bob's cursor");
        const box = (await page.locator("#editor").boundingBox())!;
        await page.mouse.move(box.x + 10, box.y + 10);
        await page.mouse.move(box.x + 20, box.y + 30);
        await until(() => doc1.cursors.some((c) => c.userId === "ana" && c.position.x === Math.round(box.x + 20)), "bob sees ana's cursor");

        // A client-side route change moves the session with one Navigate.
        await page.evaluate(() => history.pushState({}, "", "/doc/2?x=1"));
        await until(async () => (await text(page, "room")) === "/doc/2", "the page follows the URL");
        await until(() => !doc1.isUserHere("ana") && doc2.isUserHere("ana"), "bob sees ana move to /doc/2");
        await until(async () => (await text(page, "count")) === "2 people viewing", "2 people on /doc/2");

        // Hidden: away, then gone; visible: back.
        await setHidden(page, true);
        expect(await text(page, "visibility")).toBe("hidden");
        await until(() => doc2.users.find((u) => u.userId === "ana")?.activity === "away", "ana is away");
        await until(() => !doc2.isUserHere("ana"), "ana left after the long hide", 15_000);
        expect(await text(page, "status")).toBe("paused");
        await setHidden(page, false);
        await until(() => doc2.users.find((u) => u.userId === "ana")?.activity === "active", "ana is back");
        await until(async () => (await text(page, "status")) === "connected", "the page is connected again");
        expect(await text(page, "count")).toBe("2 people viewing");

        await doc2.leave();
        await until(async () => (await text(page, "count")) === "You're the only one here", "ana alone");
        expect(errors).toEqual([]);
      } finally {
        await page.evaluate(() => (window as unknown as { presence: PresenceClient }).presence.close()).catch(() => {});
        await page.close();
      }
    }, 60_000);
  });
}
