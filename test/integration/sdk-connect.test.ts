import { afterEach, describe, expect, it } from "vitest";
import { createPresenceClient, type PresenceClient, type PresenceClientOptions, type RoomHandle, type JoinEvent, type LeaveEvent } from "@presence-platform/client";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * The client SDK over Connect-Web (fetch) against a real server: two clients see each other,
 * typing and cursors travel, leaves are seen, a dropped connection reclaims its session without a
 * leave/join broadcast, and after the server restarts on the same port (memory store: everything
 * lost) both clients come back once each. Timings are shrunk: heartbeat 200 ms, TTL 1 s.
 */
const servers: TestServer[] = [];
const clients: PresenceClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

// Short enough to be seen, long enough that a busy test process (event-loop lag) does not lose a session.
const ENV = { PRESENCE_HEARTBEAT_INTERVAL_MS: "200", PRESENCE_SESSION_TTL_MS: "1000", PRESENCE_REAPER_INTERVAL_MS: "50", PRESENCE_SHUTDOWN_DEADLINE_MS: "500" };

async function server(env: Record<string, string> = {}) {
  const s = await startTestServer({ ...ENV, ...env });
  servers.push(s);
  return s;
}

async function client(baseUrl: string, sub: string | null, extra: Partial<PresenceClientOptions> = {}) {
  const token = sub === null ? undefined : await signTestToken(TEST_SECRET, { sub, name: sub[0]!.toUpperCase() + sub.slice(1), picture: `https://example.com/${sub}.png` });
  const c = createPresenceClient({ transport: "connect", url: baseUrl, token, reconnect: { baseMs: 50, capMs: 400 }, visibility: false, ...extra });
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

describe("client SDK over Connect", () => {
  it("two clients see each other, counting themselves", async () => {
    const s = await server();
    const ana = await client(s.baseUrl, "ana");
    const bob = await client(s.baseUrl, "bob");
    const a = ana.join("/doc", { color: "red" });
    await a.ready;
    const b = bob.join("/doc");
    await until(() => a.userCount === 2 && b.userCount === 2, "both users in both views");
    expect(ids(a)).toEqual(["ana", "bob"]);
    expect(a.isUserHere("bob")).toBe(true);
    expect(a.isUserHere("carol")).toBe(false);
    expect(a.self).toMatchObject({ userId: "ana", anonymous: false });
    const me = a.users.find((u) => u.isSelf)!;
    expect(me).toMatchObject({ userId: "ana", name: "Ana", avatarUrl: "https://example.com/ana.png", activity: "active" });
    expect(me.connections[0]!.metadata).toEqual({ color: "red" });
    expect(b.users.find((u) => u.userId === "ana")!.isSelf).toBe(false);
    expect(ana.status).toBe("connected");
    expect(a.connected).toBe(true);
  });

  it("reports joins, leaves, typing and cursors", async () => {
    const s = await server();
    const ana = await client(s.baseUrl, "ana");
    const bob = await client(s.baseUrl, "bob");
    const a = ana.join("/doc");
    await a.ready;
    const joins: JoinEvent[] = [];
    const leaves: LeaveEvent[] = [];
    a.on("join", (e) => joins.push(e));
    a.on("leave", (e) => leaves.push(e));
    const b = bob.join("/doc");
    await b.ready;
    await until(() => joins.length === 1, "ana sees bob join");
    expect(joins[0]).toMatchObject({ room: "/doc", firstOfUser: true, isSelf: false, resync: false, user: { userId: "bob" } });

    b.typing.start();
    await until(() => a.typing.users.some((t) => t.userId === "bob"), "ana sees bob typing");
    expect(a.typing.users[0]).toMatchObject({ userId: "bob", name: "Bob", isSelf: false });
    expect(b.typing.active).toBe(true);
    b.typing.stop();
    await until(() => a.typing.users.length === 0, "bob stops typing");

    b.cursor.update({ x: 10, y: 20, element: "#editor" });
    b.cursor.update({ x: 11, y: 21, element: "#editor" });
    await until(() => a.cursors.length === 1 && a.cursors[0]!.position.x === 11, "ana sees bob's latest cursor");
    expect(a.cursors[0]).toMatchObject({ userId: "bob", name: "Bob", isSelf: false, position: { x: 11, y: 21, element: "#editor" } });
    expect(b.cursors).toEqual([]); // your own cursor is not in `cursors`

    await b.leave();
    await until(() => leaves.length === 1, "ana sees bob leave");
    expect(leaves[0]).toMatchObject({ userId: "bob", reason: "left", lastOfUser: true, isSelf: false });
    expect(ids(a)).toEqual(["ana"]);
    expect(a.cursors).toEqual([]);
    expect(bob.status).toBe("idle");
  });

  it("counts anonymous viewers as guests, never listed", async () => {
    const s = await server();
    const ana = await client(s.baseUrl, "ana");
    const guest = await client(s.baseUrl, null, { anonymousId: "guest-1" });
    const a = ana.join("/doc");
    await a.ready;
    const g = guest.join("/doc");
    await g.ready;
    await until(() => a.anonymousCount === 1, "ana sees one guest");
    expect(ids(a)).toEqual(["ana"]);
    expect(a.connectionCount).toBe(2);
    expect(g.self).toMatchObject({ anonymous: true, userId: undefined });
    expect(g.userCount + g.anonymousCount).toBe(2);
  });

  it("keeps the session alive with heartbeats and follows navigation", async () => {
    const s = await server({ PRESENCE_HEARTBEAT_INTERVAL_MS: "100", PRESENCE_SESSION_TTL_MS: "500" });
    const ana = await client(s.baseUrl, "ana");
    const bob = await client(s.baseUrl, "bob");
    const onA = bob.join("/a");
    const onB = bob.join("/b");
    const page = ana.followPage("/a/?tab=1#x");
    expect(page.room).toBe("/a");
    await page.ready;
    await until(() => onA.isUserHere("ana"), "bob sees ana on /a");
    await new Promise((r) => setTimeout(r, 1_600)); // > 3 TTLs: heartbeats keep ana there
    expect(onA.isUserHere("ana")).toBe(true);
    const leaves: LeaveEvent[] = [];
    onA.on("leave", (e) => leaves.push(e));
    await page.navigate("/b/");
    expect(page.room).toBe("/b");
    await until(() => onB.isUserHere("ana") && !onA.isUserHere("ana"), "ana moved to /b");
    expect(leaves).toHaveLength(1);
    expect(page.isUserHere("bob")).toBe(true);
  });

  it("reclaims its session after a dropped connection: no leave/join broadcast", async () => {
    const s = await server();
    const inflight = new Set<AbortController>();
    // A fetch whose requests can all be cut at once, like a network drop.
    const cuttable: typeof fetch = (input, init) => {
      const ac = new AbortController();
      inflight.add(ac);
      init?.signal?.addEventListener("abort", () => ac.abort(init.signal!.reason), { once: true });
      return fetch(input, { ...init, signal: ac.signal }); // kept: a stream outlives its fetch promise
    };
    const ana = await client(s.baseUrl, "ana", { fetch: cuttable });
    const bob = await client(s.baseUrl, "bob");
    const a = ana.join("/doc");
    await a.ready;
    const b = bob.join("/doc");
    await until(() => a.userCount === 2 && b.userCount === 2, "both present");
    const seen: string[] = [];
    b.on("join", (e) => seen.push(`join ${e.user.userId}`));
    b.on("leave", (e) => seen.push(`leave ${e.userId}`));
    const connected = new Promise<{ resumed: boolean }>((resolve) => ana.on("connected", resolve));
    const connectionId = ana.connectionId;
    for (const ac of inflight) ac.abort(new Error("network down"));
    inflight.clear();
    expect((await connected).resumed).toBe(true);
    expect(ana.connectionId).toBe(connectionId);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
    expect(ids(a)).toEqual(["ana", "bob"]);
  });

  it("comes back after the server restarts on the same port, once per user", async () => {
    const first = await server();
    const port = first.app.rpcPort;
    const ana = await client(first.baseUrl, "ana");
    const bob = await client(first.baseUrl, "bob");
    const a = ana.join("/doc");
    const b = bob.join("/doc");
    await until(() => a.userCount === 2 && b.userCount === 2, "both present");
    const statuses: string[] = [];
    ana.on("status", (e) => statuses.push(e.status));
    const views: number[] = [];
    a.on("view", (v) => views.push(v.users.length));

    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await until(() => ana.status === "reconnecting", "ana notices");
    expect(a.userCount).toBe(2); // the last view stays until a fresh one replaces it
    await server({ PRESENCE_RPC_PORT: String(port) });
    await until(() => ana.status === "connected" && bob.status === "connected", "both reconnected", 10_000);
    await until(() => a.userCount === 2 && b.userCount === 2, "both see both again", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(ids(a)).toEqual(["ana", "bob"]);
    expect(a.connectionCount).toBe(2);
    expect(b.connectionCount).toBe(2);
    expect(a.users.every((u) => u.connections.length === 1)).toBe(true);
    expect(statuses).toContain("reconnecting");
    expect(views.every((n) => n >= 1)).toBe(true); // never an empty flash
  });

  it("stops retrying on a terminal error", async () => {
    const s = await server();
    const bad = createPresenceClient({ transport: "connect", url: s.baseUrl, token: "not-a-jwt", reconnect: { baseMs: 20 }, visibility: false });
    clients.push(bad);
    const h = bad.join("/doc");
    await expect(bad.connect()).rejects.toMatchObject({ code: "unauthenticated" });
    expect(bad.status).toBe("disconnected");
    await expect(h.ready).rejects.toBeTruthy();
  });
});
