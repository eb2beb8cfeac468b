import { build } from "esbuild";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPresenceClient, type PresenceClient } from "@presence-platform/client";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * User status and the Liveblocks-style room hooks in a real browser (Debian chromium through
 * playwright-core), bundled by esbuild, against a real server, over the browser's WebSocket and
 * over Connect-Web: a friends list through `useUserStatus` (status dots, "last seen", custom
 * status, live), and `useOthers(selector)`: a component whose selector ignores cursors is not
 * re-rendered by cursor moves, while the one that reads cursors follows them; typed presence set
 * with `setPresence` reaches the others (`useOthers`) and the Join carries the initial one; room
 * broadcasts through `useBroadcast` / `useBroadcastListener`. Node clients (Bob, Cy, Dan) are the
 * other people.
 */
const CHROMIUM = "/usr/bin/chromium";
let browser: Browser;
let site: http.Server;
let siteUrl = "";
const servers: TestServer[] = [];
const clients: PresenceClient[] = [];

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("./fixtures/status-app.ts", import.meta.url))],
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
    if (req.url === "/app.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(js);
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

/** Ana's page in room "/board" following `friends`; page errors are collected. */
async function openApp(s: TestServer, transport: "websocket" | "connect", friends: string[]) {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.addInitScript((cfg) => Object.assign(window, { __PRESENCE__: cfg }), {
    transport,
    url: transport === "websocket" ? s.wsUrl : s.baseUrl,
    token: await token("ana"),
    friends,
    room: "/board",
  });
  await page.goto(siteUrl);
  return { page, errors };
}

const friend = (page: Page, id: string) => page.locator(`#friends [data-user-id="${id}"]`);
const stateOf = (page: Page, id: string) => friend(page, id).getAttribute("data-state");
const renders = (page: Page) => page.evaluate(() => ({ ...(window as unknown as { renders: { names: number; cursors: number; self: number } }).renders }));

for (const transport of ["websocket", "connect"] as const) {
  describe(`useUserStatus and useOthers(selector) in chromium over ${transport}`, () => {
    it("shows friends' status live and re-renders a cursor-blind selector only when its selection changes", async () => {
      const s = await startTestServer();
      servers.push(s);
      const node = async (sub: string) => {
        const c = createPresenceClient({ transport: "websocket", url: s.wsUrl, token: await token(sub), webSocket: WebSocket, visibility: false });
        clients.push(c);
        return c;
      };
      const bob = await node("bob");
      const lobby = bob.join("/lobby");
      await lobby.ready;
      const dan = await node("dan");
      await dan.join("/lobby").ready;
      await dan.close(); // seen a moment ago

      const { page, errors } = await openApp(s, transport, ["bob", "cy", "dan"]);
      try {

        // Friends: bob online, cy never seen, dan seen just now.
        await until(async () => (await stateOf(page, "bob")) === "online", "bob online");
        expect(await stateOf(page, "cy")).toBe("offline");
        expect(await friend(page, "cy").textContent()).toContain("cy offline");
        expect(await stateOf(page, "dan")).toBe("offline");
        expect(await friend(page, "dan").textContent()).toContain("last seen just now");
        expect(await friend(page, "bob").locator(".presence-status-dot").getAttribute("aria-label")).toBe("online");

        // Live: cy arrives, bob sets a custom status, then leaves.
        const cy = await node("cy");
        await cy.join("/lobby").ready;
        await until(async () => (await stateOf(page, "cy")) === "online", "cy online");
        await bob.setStatus({ customStatus: "coding" });
        await until(async () => (await friend(page, "bob").textContent())!.includes("(coding)"), "bob's custom status");
        expect(await friend(page, "bob").locator(".presence-status-dot").getAttribute("title")).toBe("online — coding");
        await lobby.leave();
        await until(async () => (await stateOf(page, "bob")) === "offline", "bob offline");
        expect(await friend(page, "bob").textContent()).toContain("last seen just now");

        // The room: ana's own presence is local at once; bob joins and moves his cursor.
        await until(async () => (await page.textContent("#me")) === 'Ana:{"tool":"pen"}', "ana's own presence");
        const board = bob.join("/board");
        await until(async () => (await page.textContent("#names")) === "Bob:", "ana sees bob");
        await until(async () => (await page.textContent("#others-cursors")) === "Bob@-", "no cursor yet");
        const before = await renders(page);
        for (let i = 1; i <= 10; i++) {
          board.cursor.update({ x: i * 10, y: i });
          await new Promise((r) => setTimeout(r, 60));
        }
        await until(async () => (await page.textContent("#others-cursors")) === "Bob@100,10", "ana sees bob's last cursor");
        const after = await renders(page);
        expect(after.names).toBe(before.names); // cursor moves never re-rendered the cursor-blind selector
        expect(after.cursors).toBeGreaterThan(before.cursors);
        expect(after.cursors - before.cursors).toBeLessThanOrEqual(10);

        // Changes the selector does see re-render it once each: bob's typed presence, cy joining.
        board.setPresence({ tool: "eraser" });
        await until(async () => (await page.textContent("#names")) === "Bob:eraser", "ana sees bob's presence");
        expect((await renders(page)).names).toBe(after.names + 1);
        await cy.join("/board").ready;
        await until(async () => (await page.textContent("#names")) === "Bob:eraser,Cy:", "ana sees cy");
        expect((await renders(page)).names).toBe(after.names + 2);
        // Ana's own presence went to the server with her Join: bob sees it.
        await until(() => board.others.some((o) => o.userId === "ana" && o.presence.tool === "pen"), "bob sees ana's presence");
        expect(errors).toEqual([]);
      } finally {
        await page.evaluate(() => (window as unknown as { presence: PresenceClient }).presence.close()).catch(() => {});
        await page.close();
      }
    }, 60_000);

    it("sends and receives room broadcasts through useBroadcast and useBroadcastListener", async () => {
      const s = await startTestServer();
      servers.push(s);
      const bob = createPresenceClient({ transport: "websocket", url: s.wsUrl, token: await token("bob"), webSocket: WebSocket, visibility: false });
      clients.push(bob);
      const board = bob.join("/board");
      await board.ready;
      const fromAna: string[] = [];
      board.onBroadcast<{ emoji: string }>("reaction", (e) => fromAna.push(`${e.userId}:${e.payload.emoji}`));

      const { page, errors } = await openApp(s, transport, []);
      try {
        await until(() => board.isUserHere("ana"), "ana in the room");
        // The page's watch starts after its Join is answered: bob's warm-ups until one arrives.
        // (One every 150 ms: under the server's 10 per second per session.)
        await until(async () => {
          await board.broadcast("warmup");
          await new Promise((r) => setTimeout(r, 150));
          return (await page.textContent("#warmups")) !== "0";
        }, "the page's watch live", 30_000);

        await board.broadcast("reaction", { emoji: "🎉" });
        await until(async () => (await page.textContent("#reactions")) === "bob:🎉", "bob's reaction on the page");

        await page.click("#send-reaction");
        await until(async () => (await page.textContent("#broadcast-result")) === "sent", "ana's reaction sent");
        await until(() => fromAna.length === 1, "ana's reaction at bob");
        expect(fromAna).toEqual(["ana:👍"]);
        await until(async () => (await page.textContent("#broadcasts")) === "reaction,reaction(me)", "ana's own reaction back (includeSelf)");
        expect(await page.textContent("#reactions")).toBe("bob:🎉"); // the default listener leaves her own out

        await page.click("#send-big");
        await until(async () => (await page.textContent("#broadcast-result")) === "refused MESSAGE_TOO_LARGE", "the big payload refused");
        expect(errors).toEqual([]);
      } finally {
        await page.evaluate(() => (window as unknown as { presence: PresenceClient }).presence.close()).catch(() => {});
        await page.close();
      }
    }, 60_000);
  });
}
