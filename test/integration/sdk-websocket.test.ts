import WebSocket from "ws";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPresenceClient, type PresenceClient, type PresenceClientOptions, type RoomHandle, type JoinEvent, type LeaveEvent } from "@presence-platform/client";
import { startTcpForwarder } from "../support/tcp-forwarder.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";
import type { WsEngineName } from "../../src/transport/ws/ws-engine.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * The client SDK over the WebSocket bridge (binary frames, `ws` as the socket in Node) against a
 * real server: the same scenarios as over Connect. Here the socket keeps the session alive (no
 * heartbeat frames), an abrupt socket loss is reclaimed within the reconnect grace with no
 * leave/join broadcast, and a server restart behind the same address (close 4000 "draining",
 * then an empty memory store) brings both clients back once each.
 */
const servers: TestServer[] = [];
const clients: PresenceClient[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const c of cleanups.splice(0)) await c();
});

/**
 * A fixed address in front of a server that restarts. uWS cannot bind the port of a bridge that
 * just closed while its server-side sockets sit in TIME_WAIT (EADDRINUSE for about a minute), so
 * the restart keeps the clients' address with a TCP forwarder instead of reusing the port.
 */
async function forwarder() {
  const f = await startTcpForwarder();
  cleanups.push(() => f.close());
  return { url: `ws://127.0.0.1:${f.port}/ws`, pointAt: f.pointAt };
}

const ENV = {
  PRESENCE_HEARTBEAT_INTERVAL_MS: "200",
  PRESENCE_SESSION_TTL_MS: "1000",
  PRESENCE_REAPER_INTERVAL_MS: "50",
  PRESENCE_RECONNECT_GRACE_MS: "2000",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "500",
};

/** The engine of the suite running now (set by its `beforeAll`). */
let engine: WsEngineName = "ws";

async function server(env: Record<string, string> = {}) {
  const s = await startTestServer({ ...ENV, ...engineEnv(engine), ...env });
  servers.push(s);
  return s;
}

const tokenFor = (sub: string) => signTestToken(TEST_SECRET, { sub, name: sub[0]!.toUpperCase() + sub.slice(1), picture: `https://example.com/${sub}.png` });

async function client(url: string, sub: string | null, extra: Partial<PresenceClientOptions> = {}) {
  const token = sub === null ? undefined : await tokenFor(sub);
  const c = createPresenceClient({ transport: "websocket", url, token, webSocket: WebSocket, reconnect: { baseMs: 50, capMs: 400 }, visibility: false, ...extra });
  clients.push(c);
  return c;
}

async function until(pred: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ids = (h: RoomHandle) => h.users.map((u) => u.userId).sort();

for (const e of WS_ENGINES)
describe(`client SDK over the WebSocket bridge (${e} engine)`, () => {
  beforeAll(() => {
    engine = e;
  });

  it("two clients see each other, counting themselves", async () => {
    const s = await server();
    const ana = await client(s.wsUrl, "ana");
    const bob = await client(s.wsUrl, "bob");
    const a = ana.join("/doc", { color: "red" });
    await a.ready;
    const b = bob.join("/doc");
    await until(() => a.userCount === 2 && b.userCount === 2, "both users in both views");
    expect(ids(a)).toEqual(["ana", "bob"]);
    expect(a.isUserHere("bob")).toBe(true);
    expect(a.self).toMatchObject({ userId: "ana", anonymous: false });
    const me = a.users.find((u) => u.isSelf)!;
    expect(me).toMatchObject({ userId: "ana", name: "Ana", avatarUrl: "https://example.com/ana.png", activity: "active" });
    expect(me.connections[0]!.metadata).toEqual({ color: "red" });
    expect(ana.status).toBe("connected");
  });

  it("reports joins, leaves, typing, cursors and activity", async () => {
    const s = await server();
    const ana = await client(s.wsUrl, "ana");
    const bob = await client(s.wsUrl, "bob");
    const a = ana.join("/doc");
    await a.ready;
    const joins: JoinEvent[] = [];
    const leaves: LeaveEvent[] = [];
    a.on("join", (e) => joins.push(e));
    a.on("leave", (e) => leaves.push(e));
    const b = bob.join("/doc");
    await b.ready;
    await until(() => joins.length === 1, "ana sees bob join");
    expect(joins[0]).toMatchObject({ firstOfUser: true, isSelf: false, user: { userId: "bob" } });

    b.typing.start();
    await until(() => a.typing.users.some((t) => t.userId === "bob"), "ana sees bob typing");
    b.typing.stop();
    await until(() => a.typing.users.length === 0, "bob stops typing");

    b.cursor.update({ x: 10, y: 20 });
    b.cursor.update({ x: 11, y: 21 });
    await until(() => a.cursors.length === 1 && a.cursors[0]!.position.x === 11, "ana sees bob's latest cursor");

    bob.setActivity("away");
    await until(() => a.users.find((u) => u.userId === "bob")?.activity === "away", "bob is away");
    bob.setActivity("active");
    await until(() => a.users.find((u) => u.userId === "bob")?.activity === "active", "bob is back");

    await b.leave();
    await until(() => leaves.length === 1, "ana sees bob leave");
    expect(leaves[0]).toMatchObject({ userId: "bob", reason: "left", lastOfUser: true });
    expect(ids(a)).toEqual(["ana"]);
    expect(bob.status).toBe("idle");
  });

  it("counts anonymous viewers as guests; the token may travel in the query", async () => {
    const s = await server();
    const ana = await client(s.wsUrl, "ana", { tokenVia: "query" });
    const guest = await client(s.wsUrl, null, { anonymousId: "guest-1" });
    const a = ana.join("/doc");
    await a.ready;
    const g = guest.join("/doc");
    await g.ready;
    await until(() => a.anonymousCount === 1, "ana sees one guest");
    expect(ids(a)).toEqual(["ana"]);
    expect(a.connectionCount).toBe(2);
    expect(g.self).toMatchObject({ anonymous: true });
    expect(g.isUserHere("ana")).toBe(true);
  });

  it("stays present without heartbeats and follows navigation", async () => {
    const s = await server();
    const ana = await client(s.wsUrl, "ana");
    const bob = await client(s.wsUrl, "bob");
    const onA = bob.join("/a");
    const onB = bob.join("/b");
    const page = ana.followPage("/a/?q=1");
    await page.ready;
    await until(() => onA.isUserHere("ana"), "bob sees ana on /a");
    await new Promise((r) => setTimeout(r, 2_500)); // > 2 TTLs without a heartbeat frame
    expect(onA.isUserHere("ana")).toBe(true);
    const leaves: LeaveEvent[] = [];
    onA.on("leave", (e) => leaves.push(e));
    await page.navigate("/b");
    await until(() => onB.isUserHere("ana") && !onA.isUserHere("ana"), "ana moved to /b");
    expect(leaves).toHaveLength(1);
    expect(page.isUserHere("bob")).toBe(true);
  });

  it("reclaims its session after an abrupt socket loss: no leave/join broadcast", async () => {
    const s = await server();
    const sockets: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    const ana = await client(s.wsUrl, "ana", { webSocket: TrackedWebSocket });
    const bob = await client(s.wsUrl, "bob");
    const a = ana.join("/doc");
    const b = bob.join("/doc");
    await until(() => a.userCount === 2 && b.userCount === 2, "both present");
    const seen: string[] = [];
    b.on("join", (e) => seen.push(`join ${e.user.userId}`));
    b.on("leave", (e) => seen.push(`leave ${e.userId}`));
    const connected = new Promise<{ resumed: boolean }>((resolve) => ana.on("connected", resolve));
    const connectionId = ana.connectionId;
    sockets.at(-1)!.terminate(); // no close frame: the server keeps the session for the grace
    expect((await connected).resumed).toBe(true);
    expect(ana.connectionId).toBe(connectionId);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
    expect(ids(a)).toEqual(["ana", "bob"]);
  });

  it("comes back after the server restarts behind the same address, once per user", async () => {
    const first = await server();
    const front = await forwarder();
    front.pointAt(first.app.wsPort);
    const ana = await client(front.url, "ana");
    const bob = await client(front.url, "bob");
    const a = ana.join("/doc");
    const b = bob.join("/doc");
    await until(() => a.userCount === 2 && b.userCount === 2, "both present");
    const closes: (number | undefined)[] = [];
    ana.on("disconnected", (e) => closes.push(e.code));
    const views: number[] = [];
    a.on("view", (v) => views.push(v.users.length));

    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await until(() => ana.status === "reconnecting", "ana notices");
    expect(closes).toEqual([4000]); // draining: reconnect elsewhere
    expect(a.userCount).toBe(2); // the last view stays until a fresh one replaces it
    front.pointAt((await server()).app.wsPort);
    await until(() => ana.status === "connected" && bob.status === "connected", "both reconnected", 10_000);
    await until(() => a.userCount === 2 && b.userCount === 2, "both see both again", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(ids(a)).toEqual(["ana", "bob"]);
    expect(a.connectionCount).toBe(2);
    expect(b.connectionCount).toBe(2);
    expect(views.every((n) => n >= 1)).toBe(true); // never an empty flash
  });

  it("stops retrying when the upgrade is refused", async () => {
    const s = await server();
    const bad = createPresenceClient({ transport: "websocket", url: s.wsUrl, token: "not-a-jwt", webSocket: WebSocket, reconnect: { baseMs: 20 }, visibility: false });
    clients.push(bad);
    const h = bad.join("/doc");
    await expect(bad.connect()).rejects.toMatchObject({ code: "unauthenticated" });
    expect(bad.status).toBe("disconnected");
    await expect(h.ready).rejects.toBeTruthy();
  });
});

describe("client SDK: the WebSocket constructor is looked up when connecting, not when the client is made", () => {
  it("a client made where there is no WebSocket (server-side rendering on Node 20) is harmless, uses the global one present at its first connect, and without any fails once naming the option", async () => {
    engine = "ws";
    const g = globalThis as { WebSocket?: unknown };
    const saved = Object.getOwnPropertyDescriptor(g, "WebSocket");
    delete g.WebSocket; // Node 22 and later have one
    try {
      const s = await server();
      const none = createPresenceClient({ url: s.wsUrl, reconnect: { baseMs: 20 }, visibility: false });
      clients.push(none);
      const h = none.join("/doc");
      await expect(none.connect()).rejects.toMatchObject({ code: "failed_precondition", retryable: false, message: expect.stringContaining("pass `webSocket` to createPresenceClient") });
      await expect(h.ready).rejects.toMatchObject({ code: "failed_precondition" });
      expect(none.status).toBe("disconnected");

      const late = createPresenceClient({ url: s.wsUrl, token: await tokenFor("ana"), visibility: false });
      clients.push(late);
      g.WebSocket = WebSocket; // a polyfill installed after the client was made
      const a = late.join("/doc");
      await a.ready;
      expect(ids(a)).toEqual(["ana"]);
      await until(() => late.status === "connected", "the late client connected");
    } finally {
      if (saved) Object.defineProperty(g, "WebSocket", saved);
      else delete g.WebSocket;
    }
  });
});
