/**
 * The PresenceService end to end over every client kind against one real server (port 0):
 * Connect (HTTP/1.1 and h2c), gRPC via grpc-js, gRPC-Web (HTTP/1.1 and h2c); plus Connect GET
 * with JSON through plain `fetch`, and CORS.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import { Activity, Detail, LeaveReason } from "../../gen/presence/v1/types_pb.js";
import {
  connectClient,
  expectRpcError,
  grpcJsClient,
  grpcWebClient,
  startWatch,
  type PresenceClient,
  type WatchHandle,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

type Factory = (baseUrl: string, token?: string) => PresenceClient;

const KINDS: Array<[string, Factory]> = [
  ["connect-h1", (u, t) => connectClient(u, t, { httpVersion: "1.1" })],
  ["connect-h2", (u, t) => connectClient(u, t, { httpVersion: "2" })],
  ["grpc-js", (u, t) => grpcJsClient(u, t)],
  ["grpc-web-h1", (u, t) => grpcWebClient(u, t, { httpVersion: "1.1" })],
  ["grpc-web-h2", (u, t) => grpcWebClient(u, t, { httpVersion: "2" })],
];

let server: TestServer;
let alice: string;
let bob: string;
const open: Array<{ close(): unknown }> = [];
const watches: WatchHandle[] = [];
let seq = 0;

beforeAll(async () => {
  server = await startTestServer();
  alice = await signTestToken(TEST_SECRET, { sub: "alice", name: "Alice", picture: "https://img.example/alice.png" });
  bob = await signTestToken(TEST_SECRET, { sub: "bob", name: "Bob", picture: "https://img.example/bob.png" });
});

afterEach(async () => {
  for (const w of watches.splice(0)) await w.stop();
  for (const c of open.splice(0)) c.close();
});

afterAll(async () => {
  await server.close();
});

const isEvent = (kind: "joined" | "left" | "updated" | "anonymous") => (m: WatchPresenceResponse) =>
  m.message.case === "event" && m.message.value.kind.case === kind;

describe.each(KINDS)("%s", (kind, make) => {
  const client = (token?: string) => {
    const c = make(server.baseUrl, token);
    open.push(c);
    return c;
  };
  const room = (name: string) => `transports/${kind}/${name}/${++seq}`;
  const watch = (c: PresenceClient, r: string) => {
    const w = startWatch(c, { room: r });
    watches.push(w);
    return w;
  };

  it("join: a user with a token is listed by name and avatar; an anonymous viewer is only counted", async () => {
    const r = room("join");
    const ja = await client(alice).join({ room: r, metadata: { color: "red" } });
    expect(ja.session?.sessionId.length).toBeGreaterThanOrEqual(22); // >= 128 bits, base64url
    expect(ja.session?.resumeSecret).not.toBe("");
    expect(ja.resumed).toBe(false);
    expect(ja.view?.counts).toMatchObject({ users: 1, connections: 1, anonymous: 0 });
    expect(ja.view?.users).toHaveLength(1);
    expect(ja.view?.users[0]?.user).toMatchObject({ userId: "alice", name: "Alice", avatarUrl: "https://img.example/alice.png" });
    expect(ja.view?.users[0]?.connections.map((c) => [c.connectionId, c.metadata])).toEqual([[ja.session?.connectionId, { color: "red" }]]);

    const jn = await client().join({ room: r });
    expect(jn.session?.sessionId).not.toBe("");
    expect(jn.view?.counts).toMatchObject({ users: 1, connections: 2, anonymous: 1 });
    expect(jn.view?.users.map((u) => u.user?.userId)).toEqual(["alice"]);
    const listed = jn.view?.users.flatMap((u) => u.connections.map((c) => c.connectionId));
    expect(listed).not.toContain(jn.session?.connectionId);
    expect(JSON.stringify(jn.view, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain(ja.session!.sessionId);
  });

  it("heartbeat returns the lease and reports activity; getPresence reads the room", async () => {
    const r = room("heartbeat");
    const a = client(alice);
    const j = await a.join({ room: r });
    const before = Date.now();
    const hb = await a.heartbeat({ sessionId: j.session!.sessionId, activity: Activity.AWAY });
    const after = Date.now();
    const { sessionTtlMs, heartbeatIntervalMs } = server.config.timings;
    expect(hb.lease?.ttlMs).toBe(BigInt(sessionTtlMs));
    expect(hb.lease?.heartbeatIntervalMs).toBe(BigInt(heartbeatIntervalMs));
    expect(Number(hb.lease?.expiresAtMs)).toBeGreaterThanOrEqual(before + sessionTtlMs);
    expect(Number(hb.lease?.expiresAtMs)).toBeLessThanOrEqual(after + sessionTtlMs);

    const full = await a.getPresence({ room: r });
    expect(full.view?.epoch).toBe(j.view?.epoch);
    expect(full.view?.version).toBe(j.view!.version + 1n); // the activity change is one update
    expect(full.view?.users[0]?.activity).toBe(Activity.AWAY);
    expect(full.view?.users[0]?.connections[0]?.activity).toBe(Activity.AWAY);

    // Same activity again: refreshes only, no version bump.
    await a.heartbeat({ sessionId: j.session!.sessionId });
    const counts = await a.getPresence({ room: r, detail: Detail.COUNTS });
    expect(counts.view?.version).toBe(full.view!.version);
    expect(counts.view?.membersOmitted).toBe(true);
    expect(counts.view?.users).toEqual([]);
    expect(counts.view?.counts).toMatchObject({ users: 1, connections: 1, anonymous: 0 });
  });

  it("watch: snapshot first, then another client's join and leave with (epoch, version) + 1 each", async () => {
    const r = room("watch");
    const w = watch(client(), r);
    const snap = await w.waitFor((m) => m.message.case === "snapshot");
    expect(w.messages[0]).toBe(snap);
    if (snap.message.case !== "snapshot") throw new Error("unreachable");
    expect(snap.message.value).toMatchObject({ first: true, last: true });
    const { epoch, version: v0 } = snap.message.value.view!;
    expect(epoch).not.toBe("");

    const b = client(bob);
    const jb = await b.join({ room: r });
    const joined = await w.waitFor(isEvent("joined"));
    if (joined.message.case !== "event" || joined.message.value.kind.case !== "joined") throw new Error("unreachable");
    expect(joined.message.value).toMatchObject({ room: r, epoch, version: v0 + 1n });
    expect(joined.message.value.counts).toMatchObject({ users: 1, connections: 1, anonymous: 0 });
    expect(joined.message.value.kind.value.firstOfUser).toBe(true);
    expect(joined.message.value.kind.value.user).toMatchObject({ userId: "bob", name: "Bob", avatarUrl: "https://img.example/bob.png" });
    expect(joined.message.value.kind.value.connection?.connectionId).toBe(jb.session?.connectionId);

    expect(await b.leave({ sessionId: jb.session!.sessionId, room: r })).toMatchObject({ left: true });
    const left = await w.waitFor(isEvent("left"));
    if (left.message.case !== "event" || left.message.value.kind.case !== "left") throw new Error("unreachable");
    expect(left.message.value).toMatchObject({ room: r, epoch, version: v0 + 2n });
    expect(left.message.value.kind.value).toMatchObject({
      userId: "bob",
      connectionId: jb.session?.connectionId,
      reason: LeaveReason.LEFT,
      lastOfUser: true,
    });
    expect(left.message.value.counts).toMatchObject({ users: 0, connections: 0, anonymous: 0 });
    const events = w.messages.filter((m) => m.message.case === "event");
    expect(events.map((m) => (m.message.case === "event" ? m.message.value.version : -1n))).toEqual([v0 + 1n, v0 + 2n]);
  });

  it("typing: a watcher sees typing true, then false", async () => {
    const r = room("typing");
    const a = client(alice);
    const j = await a.join({ room: r });
    const w = watch(client(), r);
    await w.waitFor((m) => m.message.case === "snapshot");
    await a.setTyping({ sessionId: j.session!.sessionId, room: r, typing: true });
    const on = await w.waitFor((m) => m.message.case === "typing" && m.message.value.state?.typing === true);
    if (on.message.case !== "typing") throw new Error("unreachable");
    expect(on.message.value.room).toBe(r);
    expect(on.message.value.state).toMatchObject({ userId: "alice", typing: true, expiresInMs: BigInt(server.config.timings.typingTtlMs) });

    await a.setTyping({ sessionId: j.session!.sessionId, room: r, typing: false });
    const off = await w.waitFor((m) => m.message.case === "typing" && m.message.value.state?.typing === false);
    if (off.message.case !== "typing") throw new Error("unreachable");
    expect(off.message.value.state?.userId).toBe("alice");
    expect(w.messages.indexOf(off)).toBeGreaterThan(w.messages.indexOf(on));
  });

  it("cursor: a watcher receives a cursor batch with the position", async () => {
    const r = room("cursor");
    const a = client(alice);
    const j = await a.join({ room: r });
    const w = watch(client(), r);
    await w.waitFor((m) => m.message.case === "snapshot");
    await a.updateCursor({ sessionId: j.session!.sessionId, room: r, position: { x: 10.5, y: 20, element: "#doc", selectionStart: 3n, selectionEnd: 7n } });
    const batch = await w.waitFor((m) => m.message.case === "cursors");
    if (batch.message.case !== "cursors") throw new Error("unreachable");
    expect(batch.message.value.room).toBe(r);
    expect(batch.message.value.cursors).toHaveLength(1);
    expect(batch.message.value.cursors[0]).toMatchObject({
      connectionId: j.session?.connectionId,
      userId: "alice",
      position: { x: 10.5, y: 20, element: "#doc", selectionStart: 3n, selectionEnd: 7n },
    });
    // Kept for late readers: getPresence shows it too.
    const view = (await a.getPresence({ room: r })).view;
    expect(view?.cursors.map((c) => c.position?.x)).toEqual([10.5]);
  });

  it("navigate: one call leaves the old room and joins the new one, keeping the connection id", async () => {
    const from = room("nav-from");
    const to = room("nav-to");
    const a = client(alice);
    const j = await a.join({ room: from });
    const n = await a.navigate({ sessionId: j.session!.sessionId, fromRoom: from, toRoom: to, metadata: { page: "2" } });
    expect(n.view?.room).toBe(to);
    expect(n.view?.users[0]?.user?.userId).toBe("alice");
    expect(n.view?.users[0]?.connections.map((c) => [c.connectionId, c.metadata])).toEqual([[j.session?.connectionId, { page: "2" }]]);
    expect(n.lease?.ttlMs).toBe(BigInt(server.config.timings.sessionTtlMs));
    expect((await a.getPresence({ room: from })).view?.counts?.connections).toBe(0);
    expect((await a.getPresence({ room: to })).view?.counts?.connections).toBe(1);
  });

  it("leave: the member is gone, and a session that left its last room has ended", async () => {
    const r = room("leave");
    const a = client(alice);
    const j = await a.join({ room: r });
    expect(await a.leave({ sessionId: j.session!.sessionId, room: r })).toMatchObject({ left: true });
    expect((await a.getPresence({ room: r })).view?.counts).toMatchObject({ users: 0, connections: 0, anonymous: 0 });
    const e = await expectRpcError(a.heartbeat({ sessionId: j.session!.sessionId }));
    expect(e.code).toBe(Code.NotFound);
    expect(e.errorInfo?.reason).toBe("SESSION_NOT_FOUND");
  });

  it("errors carry decodable details: a bad room is invalid_argument / INVALID_ROOM with field room", async () => {
    const e = await expectRpcError(client(alice).join({ room: "" }));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.message).toBe("room: must not be empty");
    expect(e.errorInfo).toMatchObject({ reason: "INVALID_ROOM", domain: "presence.v1", metadata: { field: "room" } });
    expect(e.badRequest?.fieldViolations.map((v) => v.field)).toEqual(["room"]);
    // Streams too: the error comes from the stream.
    const w = watch(client(), "");
    await expect(w.waitFor(() => false)).rejects.toThrow(/watch ended/);
    expect(w.error).toBeDefined();
  });
});

describe("Connect GET and CORS", () => {
  it("GetPresence answers a plain HTTP GET with JSON", async () => {
    const r = `transports/get/${++seq}`;
    const a = connectClient(server.baseUrl, alice);
    open.push(a);
    await a.join({ room: r });
    const url = `${server.baseUrl}/presence.v1.PresenceService/GetPresence?encoding=json&message=${encodeURIComponent(JSON.stringify({ room: r }))}`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { view: { room: string; version: string; counts: Record<string, number>; users: Array<{ user: { userId: string; name: string } }> } };
    expect(body.view.room).toBe(r);
    expect(body.view.version).toBe("1"); // uint64 as a JSON string
    expect(body.view.counts).toMatchObject({ users: 1, connections: 1 });
    expect(body.view.users[0]?.user).toMatchObject({ userId: "alice", name: "Alice" });

    // A bad room over GET: a JSON error with details, 400.
    const bad = await fetch(`${server.baseUrl}/presence.v1.PresenceService/GetPresence?encoding=json&message=${encodeURIComponent('{"room":""}')}`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "invalid_argument", message: "room: must not be empty" });

    // Methods with side effects refuse GET.
    const join = await fetch(`${server.baseUrl}/presence.v1.PresenceService/Join?encoding=json&message=${encodeURIComponent(JSON.stringify({ room: r }))}`);
    expect(join.status).toBe(405);
    await join.arrayBuffer();
  });

  it("connect-node's useHttpGet client reads through GET too", async () => {
    const c = connectClient(server.baseUrl, undefined, { useHttpGet: true });
    open.push(c);
    const view = (await c.getPresence({ room: "transports/get/empty" })).view;
    expect(view).toMatchObject({ room: "transports/get/empty", epoch: "", version: 0n });
  });

  it("answers a CORS preflight with 204 and the allow headers, and exposes the gRPC headers", async () => {
    const res = await fetch(`${server.baseUrl}/presence.v1.PresenceService/Join`, {
      method: "OPTIONS",
      headers: {
        origin: "https://demo.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version,authorization",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const methods = res.headers.get("access-control-allow-methods")?.split(/,\s*/) ?? [];
    expect(methods).toEqual(expect.arrayContaining(["POST", "GET"]));
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["content-type", "connect-protocol-version", "authorization", "x-grpc-web"]));
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);

    const post = await fetch(`${server.baseUrl}/presence.v1.PresenceService/GetPresence`, {
      method: "POST",
      headers: { origin: "https://demo.example", "content-type": "application/json" },
      body: JSON.stringify({ room: "transports/cors" }),
    });
    expect(post.status).toBe(200);
    expect(post.headers.get("access-control-allow-origin")).toBe("*");
    expect((post.headers.get("access-control-expose-headers") ?? "").toLowerCase()).toContain("grpc-status-details-bin");
    await post.arrayBuffer();
  });
});
