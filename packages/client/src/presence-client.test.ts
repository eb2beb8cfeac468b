import { describe, expect, it } from "vitest";
import { Activity } from "../../../gen/presence/v1/types_pb.js";
import { createFakeClock } from "../../../src/core/fake-clock.js";
import { createFakeTransport, fakeDocument, joined, viewOf } from "../../../test/support/fake-presence-transport.js";
import { fromClose, PresenceClientError } from "./errors.js";
import { createPresenceClient, type PresenceClientOptions } from "./presence-client.js";
import type { ConnectionStatus, RoomViewState } from "./types.js";

/**
 * The client's state machine over a fake transport and a fake clock: heartbeats, the
 * page-visibility rules, reconnects with backoff and session reclaim, resync on gaps, and views
 * that never flicker or show a partial state.
 */
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function setup(kind: "connect" | "websocket" = "connect", extra: Partial<PresenceClientOptions> = {}) {
  const clock = createFakeClock();
  const fake = createFakeTransport(kind);
  const document = fakeDocument();
  const client = createPresenceClient({
    transport: kind,
    url: "http://presence.test",
    transportImpl: fake.transport,
    clock,
    visibility: { document },
    reconnect: { baseMs: 1_000, capMs: 30_000, jitter: 0 },
    staleAfterMs: 0,
    frameScheduler: (fn) => {
      const t = clock.setTimeout(fn, 16);
      return () => t.cancel();
    },
    ...extra,
  });
  const statuses: ConnectionStatus[] = [];
  client.on("status", (e) => statuses.push(e.status));
  /** Advances the fake clock and lets promises settle. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await flush();
  };
  return { clock, fake, document, client, statuses, advance };
}

const E = "e1";
const heartbeats = (fake: ReturnType<typeof createFakeTransport>) => fake.of("heartbeat").map((c) => (c.req.activity === Activity.AWAY ? "away" : "active"));

describe("presence client", () => {
  it("joins with one session, watches, and heartbeats every interval over Connect", async () => {
    const { fake, client, advance } = setup();
    const a = client.join("/a");
    const b = client.join("/b");
    await flush();
    expect(client.status).toBe("connected");
    expect(fake.of("join").map((c) => [c.req.room, c.req.sessionId])).toEqual([
      ["/a", ""],
      ["/b", "s1"],
    ]);
    expect(fake.of("join")[0]!.req.requestId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(fake.of("watch").map((c) => c.req.room)).toEqual(["/a", "/b"]);
    fake.push({ type: "snapshot", view: viewOf("/a", E, 1, [["me", "c1"]]), first: true, last: true });
    expect(a.view!.users[0]!.isSelf).toBe(true);
    expect(a.self).toEqual({ connectionId: "c1", userId: "me", anonymous: false });
    expect(b.view).toBeNull();
    await advance(90_000);
    expect(heartbeats(fake)).toEqual(["active", "active", "active"]);
    expect(fake.of("heartbeat")[0]!.req.sessionId).toBe("s1");
  });

  it("hidden 30 s → away and heartbeats stop; 5 min → leaves and disconnects; visible → active and rejoins", async () => {
    const { fake, client, document, advance, statuses } = setup();
    const activity: string[] = [];
    client.on("activity", (a) => activity.push(a));
    const a = client.join("/doc");
    await flush();
    fake.push({ type: "snapshot", view: viewOf("/doc", E, 1, [["me", "c1"]]), first: true, last: true });
    await advance(95_000);
    expect(heartbeats(fake)).toEqual(["active", "active", "active"]);

    document.set("hidden");
    await advance(29_999);
    expect(activity).toEqual([]);
    await advance(1);
    expect(activity).toEqual(["away"]);
    expect(heartbeats(fake)).toEqual(["active", "active", "active", "active", "away"]); // 120 s, then AWAY at 125 s
    await advance(269_000);
    expect(heartbeats(fake)).toHaveLength(5); // no heartbeat while away
    expect(client.status).toBe("connected");

    await advance(1_000); // 5 min hidden
    expect(client.status).toBe("paused");
    expect(fake.of("leave").map((c) => c.req.room)).toEqual(["/doc"]);
    expect(fake.closes.at(-1)).toBe(true);
    expect(a.view!.userCount).toBe(1); // the last view stays, marked disconnected
    expect(a.connected).toBe(false);
    await advance(600_000);
    expect(fake.of("join")).toHaveLength(1);

    document.set("visible");
    await flush();
    expect(activity).toEqual(["away", "active"]);
    expect(client.status).toBe("connected");
    const rejoin = fake.of("join")[1]!.req;
    expect(rejoin).toMatchObject({ room: "/doc", sessionId: "", resumeSecret: "", activity: Activity.ACTIVE });
    expect(client.connectionId).toBe("c2");
    await advance(30_000);
    expect(heartbeats(fake).slice(5)).toEqual(["active"]);
    expect(statuses).toEqual(["connecting", "connected", "paused", "reconnecting", "connected"]);
  });

  it("visible again after away (not yet disconnected) reports active at once", async () => {
    const { fake, client, document, advance } = setup();
    client.join("/doc");
    await flush();
    document.set("hidden");
    await advance(60_000);
    document.set("visible");
    await flush();
    expect(heartbeats(fake)).toEqual(["active", "away", "active"]);
    await advance(30_000);
    expect(heartbeats(fake)).toEqual(["active", "away", "active", "active"]);
  });

  it("over WebSocket sends heartbeat frames only on activity changes", async () => {
    const { fake, client, document, advance } = setup("websocket");
    client.join("/doc");
    await flush();
    await advance(120_000);
    expect(heartbeats(fake)).toEqual([]);
    document.set("hidden");
    await advance(30_000);
    expect(heartbeats(fake)).toEqual(["away"]);
    document.set("visible");
    await flush();
    expect(heartbeats(fake)).toEqual(["away", "active"]);
    await advance(300_000);
    expect(heartbeats(fake)).toHaveLength(2);
  });

  it("over WebSocket, 5 min hidden closes the socket with 1000 (ends the session) instead of leaving room by room", async () => {
    const { fake, client, document, advance } = setup("websocket");
    client.join("/doc");
    await flush();
    document.set("hidden");
    await advance(300_000);
    expect(client.status).toBe("paused");
    expect(fake.of("leave")).toEqual([]);
    expect(fake.closes).toEqual([true]);
  });

  it("reconnects with exponential backoff and reclaims its session", async () => {
    const { fake, client, advance } = setup("websocket");
    const a = client.join("/doc");
    await flush();
    fake.push({ type: "snapshot", view: viewOf("/doc", E, 4, [["me", "c1"], ["bob", "c2"]]), first: true, last: true });
    const connected: boolean[] = [];
    const disconnected: { code?: number; willReconnect: boolean }[] = [];
    client.on("connected", (e) => connected.push(e.resumed));
    client.on("disconnected", (e) => disconnected.push({ code: e.code, willReconnect: e.willReconnect }));

    const unreachable = new PresenceClientError("closed", "refused", undefined, { closeCode: 1006 });
    fake.drop(fromClose(1006, ""));
    expect(client.status).toBe("reconnecting");
    expect(disconnected).toEqual([{ code: 1006, willReconnect: true }]);
    const opensAt = (n: number) => fake.opens === n;
    fake.openError = unreachable;
    await advance(999);
    expect(opensAt(1)).toBe(true);
    await advance(1); // 1 s: attempt fails
    expect(opensAt(2)).toBe(true);
    fake.openError = unreachable;
    await advance(1_999);
    expect(opensAt(2)).toBe(true);
    await advance(1); // +2 s: fails again
    expect(opensAt(3)).toBe(true);
    await advance(4_000); // +4 s: succeeds
    expect(opensAt(4)).toBe(true);
    expect(client.status).toBe("connected");
    expect(connected).toEqual([true]);
    expect(fake.of("join").at(-1)!.req).toMatchObject({ sessionId: "s1", resumeSecret: "secret1" });
    expect(fake.of("watch").at(-1)!.req).toEqual({ room: "/doc", resumeFrom: { epoch: E, version: 4 } });
    expect(disconnected).toHaveLength(1); // failed attempts are not new disconnects
    expect(a.view!.userCount).toBe(2);

    // After a success the next failure starts from the base delay again.
    fake.drop(fromClose(4000, "draining"));
    await advance(1_000);
    expect(client.status).toBe("connected");
  });

  it("keeps the last view during a reconnect until a fresh snapshot replaces it (no flicker)", async () => {
    const { fake, client, advance } = setup();
    const a = client.join("/doc");
    await flush();
    fake.push({ type: "snapshot", view: viewOf("/doc", E, 4, [["me", "c1"], ["bob", "cb"]]), first: true, last: true });
    const views: RoomViewState[] = [];
    a.on("view", (v) => views.push(v));
    const shown = a.view;
    fake.forgetSessions(); // the server restarted empty
    fake.watchEnded("/doc", new PresenceClientError("unavailable", "draining", "DRAINING"));
    expect(a.view).toBe(shown);
    await advance(1_000);
    expect(client.status).toBe("connected");
    expect(client.connectionId).toBe("c2"); // a new session
    expect(a.view!.users).toEqual(shown!.users.map((u) => ({ ...u, connections: u.connections.map((c) => ({ ...c, isSelf: false })) })));
    expect(a.view!.users[0]!.isSelf).toBe(true); // still you, by user id
    const before = a.view;
    fake.push({ type: "snapshot", view: viewOf("/doc", "e2", 1, [["bob", "c9"]], { counts: { users: 2, connections: 2, anonymous: 0 } }), first: true, last: false });
    expect(a.view).toBe(before); // half a snapshot is never shown
    fake.push({ type: "snapshot", view: viewOf("/doc", "e2", 1, [["me", "c2"]]), first: false, last: true });
    expect(a.view!.users.map((u) => u.userId).sort()).toEqual(["bob", "me"]);
    expect(a.view!.users.find((u) => u.userId === "me")!.isSelf).toBe(true);
    expect(views.every((v) => v.userCount === 2 && v.users.length === 2)).toBe(true);
  });

  it("re-watches a room without a resume position after a gap", async () => {
    const { fake, client } = setup();
    const a = client.join("/doc");
    await flush();
    fake.push({ type: "snapshot", view: viewOf("/doc", E, 5, [["me", "c1"]]), first: true, last: true });
    fake.push({ type: "event", event: joined("/doc", E, 7, "bob", "c2", 2) });
    expect(fake.of("unwatch").map((c) => c.req.room)).toEqual(["/doc"]);
    expect(fake.of("watch").at(-1)!.req).toEqual({ room: "/doc", resumeFrom: undefined });
    expect(a.view!.userCount).toBe(1);
  });

  it("stops on close codes 4500–4999 and on terminal errors", async () => {
    const { fake, client, advance } = setup("websocket");
    const failures: boolean[] = [];
    client.on("disconnected", (e) => failures.push(e.willReconnect));
    client.join("/doc");
    await flush();
    fake.drop(fromClose(4501, "unauthenticated"));
    expect(client.status).toBe("disconnected");
    expect(failures).toEqual([false]);
    await advance(120_000);
    expect(fake.opens).toBe(1);
  });

  it("rejoins at once with a new session when the server forgot it", async () => {
    const { fake, client, advance } = setup();
    client.join("/doc");
    await flush();
    fake.forgetSessions();
    fake.heartbeatError = new PresenceClientError("not_found", "join again", "SESSION_NOT_FOUND");
    await advance(30_000);
    fake.heartbeatError = null;
    await flush();
    expect(client.status).toBe("connected");
    expect(fake.of("join").at(-1)!.req).toMatchObject({ sessionId: "", resumeSecret: "" });
    expect(client.connectionId).toBe("c2");
  });

  it("reuses the first Join's request_id when it is retried", async () => {
    const { fake, client, advance } = setup();
    fake.joinError = new PresenceClientError("unavailable", "try again", "STORE_UNAVAILABLE");
    client.join("/doc");
    await flush();
    fake.joinError = null;
    await advance(1_000);
    const [first, retry] = fake.of("join");
    expect(retry!.req.requestId).toBe(first!.req.requestId);
    expect(client.status).toBe("connected");
  });

  it("drops a room the server refuses and keeps the others", async () => {
    const { fake, client } = setup();
    const errors: Error[] = [];
    client.on("error", (e) => errors.push(e));
    fake.joinError = (req) => (req.room === "/bad" ? new PresenceClientError("invalid_argument", "room: must not …", "INVALID_ROOM") : null);
    const good = client.join("/good");
    const bad = client.join("/bad");
    await flush();
    expect(client.status).toBe("connected");
    await expect(bad.ready).rejects.toMatchObject({ reason: "INVALID_ROOM" });
    expect(errors).toHaveLength(1);
    expect(client.rooms().map((r) => r.room)).toEqual(["/good"]);
    expect(good.room).toBe("/good");
  });

  it("detects a silent connection and reconnects", async () => {
    const { fake, client, advance } = setup("websocket", { staleAfterMs: 60_000 });
    client.join("/doc");
    await flush();
    await advance(40_000);
    fake.push({ type: "keepalive", timeMs: 1 });
    await advance(40_000);
    expect(fake.opens).toBe(1);
    await advance(41_000); // silent for > 60 s at the 120 s check, then a 1 s backoff
    expect(fake.opens).toBe(2);
    expect(fake.closes).toEqual([false]); // closed without ending the session, to reclaim it
  });

  it("leaving the last room ends the session; several handles share a room", async () => {
    const { fake, client } = setup();
    const one = client.join("/doc");
    const two = client.join("/doc");
    await flush();
    expect(fake.of("join")).toHaveLength(1);
    await one.leave();
    expect(fake.of("leave")).toHaveLength(0);
    expect(client.status).toBe("connected");
    await two.leave();
    expect(fake.of("leave").map((c) => c.req)).toEqual([expect.objectContaining({ room: "/doc", sessionId: "s1" })]);
    expect(client.status).toBe("idle");
    expect(fake.closes).toEqual([true]);
    client.join("/other");
    await flush();
    expect(fake.of("join").at(-1)!.req).toMatchObject({ room: "/other", sessionId: "" });
  });

  it("follows a page: room from the URL, one Navigate on a route change", async () => {
    const { fake, client } = setup();
    const page = client.followPage("https://example.com/docs/a/?x=1#top", { metadata: { color: "red" } });
    expect(page.room).toBe("https://example.com/docs/a");
    await flush();
    await page.navigate("/docs/b/");
    expect(page.room).toBe("/docs/b");
    expect(fake.of("navigate").map((c) => c.req)).toEqual([
      expect.objectContaining({ sessionId: "s1", fromRoom: "https://example.com/docs/a", toRoom: "/docs/b", metadata: { color: "red" } }),
    ]);
    expect(fake.of("unwatch").map((c) => c.req.room)).toEqual(["https://example.com/docs/a"]);
    expect(fake.of("watch").at(-1)!.req.room).toBe("/docs/b");
    expect(client.rooms().map((r) => r.room)).toEqual(["/docs/b"]);
  });

  it("typing and cursor helpers go through the session, cursors once per frame", async () => {
    const { fake, client, advance } = setup();
    const a = client.join("/doc");
    await flush();
    a.typing.start();
    a.typing.start();
    for (let i = 0; i < 10; i++) a.cursor.update({ x: i, y: 0 });
    await advance(16);
    expect(fake.of("setTyping").map((c) => c.req.typing)).toEqual([true]);
    expect(fake.of("updateCursor").map((c) => (c.req.position as { x: number }).x)).toEqual([9]);
    await advance(3_000);
    expect(fake.of("setTyping").map((c) => c.req.typing)).toEqual([true, false]);
  });

  it("close() leaves its rooms and stops everything", async () => {
    const { fake, client, clock } = setup();
    client.join("/doc");
    await flush();
    await client.close();
    expect(client.status).toBe("closed");
    expect(fake.of("leave")).toHaveLength(1);
    expect(fake.closes).toEqual([true]);
    expect(clock.pending()).toBe(0);
    expect(() => client.join("/x")).toThrow(/closed/);
  });
});
