import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildDemo } from "../../scripts/build-demo.js";
import { startTcpForwarder } from "../support/tcp-forwarder.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";
import type { WsEngineName } from "../../src/transport/ws/ws-engine.js";

/**
 * The demo page (`demo/`, built by `scripts/build-demo.ts`) as a visitor uses it: served by a real
 * server (in this process, memory store, no JWT secret configured, so the demo token endpoint is
 * on with an ephemeral secret), opened in Debian chromium by two people in two browser contexts,
 * Ana and Bob, who join through the page's name field.
 *
 * The pages reach the server through a TCP forwarder on a fixed port: the restart test starts a
 * new server on a new port and points the forwarder at it, because uWS cannot bind a port whose
 * server-side sockets sit in TIME_WAIT (about a minute after clients were connected). The page's
 * origin, its WebSocket (`/ws`) and its token requests all go through the forwarder. Every test
 * runs on each WebSocket engine (uWS where it loads, and ws).
 */
const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SCREENSHOT = fileURLToPath(new URL("../../test-results/demo.png", import.meta.url));
const SERVER_ENV = {
  PRESENCE_JWT_SECRET: "", // no key: demo tokens with an ephemeral secret, as `npm start` does
  PRESENCE_RECONNECT_GRACE_MS: "2000",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "500",
};

let browser: Browser;
let demoDir = "";
let front: Awaited<ReturnType<typeof forwarder>>;
let server: TestServer | undefined;
/** The engine of the suite running now (set by its `beforeAll`). */
let engine: WsEngineName = "ws";
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  demoDir = await mkdtemp(join(tmpdir(), "presence-demo-"));
  const [, b] = await Promise.all([buildDemo({ outDir: demoDir }), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
  browser = b;
  front = await forwarder();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await front?.close();
  await rm(demoDir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
});

async function startServer() {
  server = await startTestServer({ ...SERVER_ENV, ...engineEnv(engine), PRESENCE_DEMO_DIR: demoDir });
  front.pointAt(server.app.wsPort);
  return server;
}

/** A fixed address in front of a server that restarts (see the file comment). */
async function forwarder() {
  const f = await startTcpForwarder();
  return { url: `http://127.0.0.1:${f.port}`, pointAt: f.pointAt, close: f.close };
}

interface Visitor {
  page: Page;
  errors: string[];
}

/** Opens the demo in a new browser context and joins as `name`. */
async function visit(name: string, query = ""): Promise<Visitor> {
  const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${front.url}/?reconnectMs=100${query}`);
  await page.fill("#name", name);
  await page.click("button[type=submit]");
  await page.locator('#status[data-status="connected"]').waitFor({ timeout: 10_000 });
  return { page, errors };
}

const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? "").trim();

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The user ids of the avatar stack, in order. */
const avatarIds = (page: Page) => page.locator("#avatars .presence-avatar").evaluateAll((els) => els.map((e) => e.getAttribute("data-user-id") ?? ""));

async function setHidden(page: Page, hidden: boolean) {
  await page.evaluate((h) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (h ? "hidden" : "visible") });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

for (const e of WS_ENGINES)
describe(`the demo page in chromium (${e} engine)`, () => {
  beforeAll(() => {
    engine = e;
  });

  it("shows two people to each other: avatars, count, typing and live cursors", async () => {
    await startServer();
    const ana = await visit("Ana");
    const bob = await visit("Bob");

    for (const v of [ana, bob]) {
      await until(async () => (await text(v.page, "#count")) === "2 people viewing", "2 people viewing");
      const ids = await avatarIds(v.page);
      expect(ids).toHaveLength(2);
      expect(ids[0]).toMatch(/^ana-[a-z0-9]{16}$/);
      expect(ids[1]).toMatch(/^bob-[a-z0-9]{16}$/);
    }
    expect(await ana.page.getAttribute("#avatars .presence-avatar >> nth=0", "title")).toBe("Ana (you)");
    expect(await bob.page.getAttribute("#avatars .presence-avatar >> nth=0", "title")).toBe("Ana");
    expect(await text(bob.page, "#people")).toContain("Bob (you)");

    // Typing in Ana's document shows "Ana is typing…" to Bob (and nothing to Ana herself).
    await ana.page.click("#doc");
    await ana.page.keyboard.type(" Hello");
    await until(async () => (await text(bob.page, "#typing")) === "Ana is typing…", "bob sees ana typing");
    expect(await text(ana.page, "#typing")).toBe("");

    // Ana's pointer over her document appears on Bob's document at the same offset.
    const area = ana.page.locator('[data-testid="doc-area"]');
    const box = (await area.boundingBox())!;
    await ana.page.mouse.move(box.x + 40, box.y + 40);
    await ana.page.mouse.move(box.x + 260, box.y + 150, { steps: 4 });
    const cursor = bob.page.locator(".cursor[data-user-id^='ana-']");
    await cursor.waitFor({ timeout: 5_000 });
    expect(await text(bob.page, ".cursor-name")).toBe("Ana");
    const bobBox = (await bob.page.locator('[data-testid="doc-area"]').boundingBox())!;
    await until(async () => {
      const c = (await cursor.boundingBox())!;
      return Math.abs(c.x - bobBox.x - 260) <= 2 && Math.abs(c.y - bobBox.y - 150) <= 2;
    }, "ana's cursor at (260, 150) of bob's document");
    expect(await ana.page.locator(".cursor").count()).toBe(0); // your own pointer is not drawn

    await mkdir(join(SCREENSHOT, ".."), { recursive: true });
    await bob.page.screenshot({ path: SCREENSHOT });
    expect([...ana.errors, ...bob.errors]).toEqual([]);
  });

  it("turns a hidden page away, then gone, and back when it is visible again", async () => {
    await startServer();
    const ana = await visit("Ana", "&awayAfterMs=300&disconnectAfterMs=1500");
    const bob = await visit("Bob");
    await until(async () => (await text(bob.page, "#count")) === "2 people viewing", "2 people viewing");
    const anaOnBob = bob.page.locator("#avatars .presence-avatar[data-user-id^='ana-']");
    expect(await anaOnBob.getAttribute("data-activity")).toBe("active");

    const hiddenAt = Date.now();
    await setHidden(ana.page, true);
    await until(async () => (await anaOnBob.getAttribute("data-activity")) === "away", "bob sees ana away");
    expect(Date.now() - hiddenAt).toBeGreaterThanOrEqual(250);
    expect(await text(bob.page, "#people li[data-activity='away']")).toContain("away");
    await until(async () => (await text(bob.page, "#count")) === "You're the only one here", "ana gone for bob");
    expect(Date.now() - hiddenAt).toBeGreaterThanOrEqual(1_400);
    expect(await avatarIds(bob.page)).toHaveLength(1);
    expect(await ana.page.getAttribute("#status", "data-status")).toBe("paused");

    await setHidden(ana.page, false);
    await until(async () => (await text(bob.page, "#count")) === "2 people viewing", "ana back for bob");
    await until(async () => (await anaOnBob.getAttribute("data-activity")) === "active", "ana active again");
    expect([...ana.errors, ...bob.errors]).toEqual([]);
  });

  it("reconnects both pages after a server restart, each user once", async () => {
    const first = await startServer();
    const ana = await visit("Ana");
    const bob = await visit("Bob");
    for (const v of [ana, bob]) await until(async () => (await text(v.page, "#count")) === "2 people viewing", "2 people viewing");
    const before = (await avatarIds(bob.page)).sort();

    // The old server drains (close 4000) and is gone; a new one (empty memory store, new demo
    // secret) takes over the address. The pages fetch fresh tokens for the same user ids.
    server = undefined;
    await first.close();
    await until(async () => (await ana.page.getAttribute("#status", "data-status")) === "reconnecting", "ana notices");
    await startServer();
    for (const v of [ana, bob]) {
      await until(async () => (await v.page.getAttribute("#status", "data-status")) === "connected", "reconnected");
      await until(async () => (await text(v.page, "#count")) === "2 people viewing", "2 people viewing again");
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const v of [ana, bob]) {
      expect((await avatarIds(v.page)).sort()).toEqual(before); // the same user ids (the order is by join time)
      expect(await v.page.locator("#people li.person[data-user-id]").count()).toBe(2);
      expect(await text(v.page, "#people")).not.toMatch(/tabs/); // one connection each
    }
    expect(server!.app.store.stats().sessions).toBe(2);
    // Errors logged while the server was down (failed token fetches, refused sockets) are expected here.
    expect([...ana.errors, ...bob.errors].filter((e) => !/ERR_CONNECTION|Failed to load resource|WebSocket connection|Failed to fetch/.test(e))).toEqual([]);
  });
});
