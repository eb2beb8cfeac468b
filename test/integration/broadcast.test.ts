/**
 * PresenceService.Broadcast against real servers: a backend (service role, no session) and a
 * member (its own session, in the room) send custom events that every watcher of the room gets
 * once, on every node (two nodes on a real Redis; a WebSocket watcher too), never stored (a later
 * snapshot or resume does not carry them); counts-only watchers do not get them; WatchEvents gets
 * them as kind BROADCAST. Refusals: rights, room membership, type, payload size, rate.
 */
import { create } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { fromJson } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BackendEventKind, BackendService } from "../../gen/presence/v1/backend_pb.js";
import type { WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import type { ServerFrame } from "../../gen/presence/v1/frames_pb.js";
import { Detail } from "../../gen/presence/v1/types_pb.js";
import { connectClient, rpcErrorOf, type PresenceClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { waitFor } from "../support/watch-recorder.js";
import { connectWs } from "../support/ws-client.js";

const json = (v: unknown): Value => fromJson(ValueSchema, v as never);
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function watch(client: PresenceClient, room: string, detail = Detail.FULL) {
  const got: WatchPresenceResponse[] = [];
  const ac = new AbortController();
  void (async () => {
    try {
      for await (const m of client.watchPresence({ room, detail }, { signal: ac.signal })) got.push(m);
    } catch {
      // cancelled
    }
  })();
  cleanups.push(() => ac.abort());
  const broadcasts = () => got.flatMap((m) => (m.message.case === "broadcast" ? [m.message.value] : []));
  return { got, broadcasts };
}

async function as(s: TestServer, sub: string, role?: string) {
  const c = connectClient(s.baseUrl, await signTestToken(TEST_SECRET, role ? { sub, role } : { sub }));
  cleanups.push(() => c.close());
  return c;
}

describe("Broadcast (memory store)", () => {
  it("reaches every full watcher once, with the sender; counts watchers and later watchers see nothing", async () => {
    const server = await startTestServer({ PRESENCE_BROADCAST_BURST: "3", PRESENCE_BROADCAST_RATE_PER_SEC: "1" });
    cleanups.push(() => server.close());
    const viewer = connectClient(server.baseUrl);
    cleanups.push(() => viewer.close());
    const full = watch(viewer, "/bc/a");
    const counts = watch(viewer, "/bc/a", Detail.COUNTS);
    const ws = await connectWs(server.wsUrl);
    cleanups.push(() => ws.close());
    await ws.request({ case: "watch", value: { room: "/bc/a" } });
    await waitFor(() => full.got.length >= 1 && counts.got.length >= 1, 5_000, "the snapshots");
    const backend = await as(server, "backend", "service");
    const res = await backend.broadcast({ room: "/bc/a", type: "page.saved", payload: json({ by: "editor", rev: 7, tags: ["a"] }) });
    expect(res.localWatchers).toBeGreaterThanOrEqual(2);
    const ana = await as(server, "ana");
    const s = await ana.join({ room: "/bc/a" });
    await ana.broadcast({ room: "/bc/a", type: "reaction", payload: json("👍"), sessionId: s.session!.sessionId });
    await waitFor(() => full.broadcasts().length === 2, 5_000, "two broadcasts");
    const [b1, b2] = full.broadcasts();
    expect(b1).toMatchObject({ room: "/bc/a", type: "page.saved", userId: "", connectionId: "" });
    expect(b1!.payload).toEqual(json({ by: "editor", rev: 7, tags: ["a"] }));
    expect(b2).toMatchObject({ type: "reaction", userId: "ana", connectionId: s.session!.connectionId });
    await ws.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "broadcast" && f.frame.value.message.value.type === "reaction", 5_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(counts.got.some((m) => m.message.case === "broadcast")).toBe(false);
    // Never stored: a new watcher's snapshot and events do not carry them.
    const late = watch(viewer, "/bc/a");
    await waitFor(() => late.got.length >= 1, 5_000, "a snapshot");
    await new Promise((r) => setTimeout(r, 200));
    expect(late.broadcasts()).toEqual([]);
  });

  it("refuses what it must, naming the field and the limit", async () => {
    const server = await startTestServer({ PRESENCE_BROADCAST_BURST: "2", PRESENCE_BROADCAST_RATE_PER_SEC: "1", PRESENCE_BROADCAST_MAX_BYTES: "64" });
    cleanups.push(() => server.close());
    const ana = await as(server, "ana");
    const bob = await as(server, "bob");
    const backend = await as(server, "backend", "service");
    const s = await ana.join({ room: "/bc/r" });
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => {
          const r = rpcErrorOf(e);
          return { code: r.code, message: r.message, reason: r.errorInfo?.reason, metadata: r.errorInfo?.metadata };
        },
      );
    expect(await fail(ana.broadcast({ room: "/bc/r", type: "x" }))).toMatchObject({ reason: "PERMISSION_DENIED", metadata: { field: "session_id" } });
    expect(await fail(bob.broadcast({ room: "/bc/r", type: "x", sessionId: s.session!.sessionId }))).toMatchObject({ reason: "SESSION_NOT_FOUND" });
    expect(await fail(ana.broadcast({ room: "/bc/other", type: "x", sessionId: s.session!.sessionId }))).toMatchObject({ reason: "SESSION_NOT_FOUND" });
    expect(await fail(backend.broadcast({ room: "/bc/r", type: "no spaces" }))).toMatchObject({ reason: "INVALID_ARGUMENT", metadata: { field: "type" } });
    expect(await fail(backend.broadcast({ room: "/bc/r", type: "big", payload: json("x".repeat(100)) }))).toMatchObject({ reason: "MESSAGE_TOO_LARGE", metadata: { field: "payload", limit: "64" } });
    await backend.broadcast({ room: "/bc/r", type: "one" });
    await backend.broadcast({ room: "/bc/r", type: "two" });
    const limited = await fail(backend.broadcast({ room: "/bc/r", type: "three" }));
    expect(limited).toMatchObject({ code: 8, reason: "RATE_LIMITED", message: "broadcast: at most 1 per second (burst 2) per caller (PRESENCE_BROADCAST_RATE_PER_SEC)" });
    // Per session: ana's own bucket is untouched by the backend's, and by the refused attempts above.
    await ana.broadcast({ room: "/bc/r", type: "mine", sessionId: s.session!.sessionId });
    await ana.broadcast({ room: "/bc/r", type: "mine2", sessionId: s.session!.sessionId });
    expect(await fail(ana.broadcast({ room: "/bc/r", type: "mine3", sessionId: s.session!.sessionId }))).toMatchObject({ reason: "RATE_LIMITED", metadata: { field: "session_id", limit: "1" } });
  });
});

describe("Broadcast over the WebSocket bridge (memory store)", () => {
  it("a member sends a broadcast frame as its socket's session, through the same rights, size and rate limits", async () => {
    const server = await startTestServer({ PRESENCE_BROADCAST_BURST: "2", PRESENCE_BROADCAST_RATE_PER_SEC: "1", PRESENCE_BROADCAST_MAX_BYTES: "64" });
    cleanups.push(() => server.close());
    const viewer = connectClient(server.baseUrl);
    cleanups.push(() => viewer.close());
    const full = watch(viewer, "/bc/ws");
    await waitFor(() => full.got.length >= 1, 5_000, "the snapshot");
    const ana = await connectWs(server.wsUrl, { token: await signTestToken(TEST_SECRET, { sub: "ana" }) });
    cleanups.push(() => ana.close());
    const joined = await ana.request({ case: "join", value: { room: "/bc/ws" } });
    if (joined.frame.case !== "join") throw new Error(`join refused: ${joined.frame.case === "error" ? joined.frame.value.message : joined.frame.case}`);
    const errorOf = (f: ServerFrame) => (f.frame.case === "error" ? { reason: ErrorReason[f.frame.value.reason], message: f.frame.value.message, metadata: f.frame.value.metadata } : f.frame.case);

    const sent = await ana.request({ case: "broadcast", value: { room: "/bc/ws", type: "reaction", payload: json({ emoji: "🎉" }) } });
    expect(sent.frame).toMatchObject({ case: "broadcast", value: { localWatchers: 1 } });
    await waitFor(() => full.broadcasts().length === 1, 5_000, "the broadcast at the watcher");
    expect(full.broadcasts()[0]).toMatchObject({ room: "/bc/ws", type: "reaction", userId: "ana", connectionId: joined.frame.value.session!.connectionId });
    expect(full.broadcasts()[0]!.payload).toEqual(json({ emoji: "🎉" }));

    // The service's refusals, as error frames; the socket stays open.
    expect(errorOf(await ana.request({ case: "broadcast", value: { room: "/bc/ws", type: "big", payload: json("x".repeat(100)) } }))).toMatchObject({
      reason: "MESSAGE_TOO_LARGE",
      metadata: { field: "payload", limit: "64" },
    });
    expect(errorOf(await ana.request({ case: "broadcast", value: { room: "/bc/elsewhere", type: "x" } }))).toMatchObject({ reason: "SESSION_NOT_FOUND" });
    expect((await ana.request({ case: "broadcast", value: { room: "/bc/ws", type: "second" } })).frame.case).toBe("broadcast");
    expect(errorOf(await ana.request({ case: "broadcast", value: { room: "/bc/ws", type: "third" } }))).toMatchObject({
      reason: "RATE_LIMITED",
      message: "broadcast: at most 1 per second (burst 2) per session (PRESENCE_BROADCAST_RATE_PER_SEC)",
      metadata: { field: "session_id", limit: "1" },
    });

    // Rights: a capability without `join` on the room refuses before anything else.
    const bob = await connectWs(server.wsUrl, { token: await signTestToken(TEST_SECRET, { sub: "bob", capability: { "/bc/open": ["join", "watch"] } }) });
    cleanups.push(() => bob.close());
    expect((await bob.request({ case: "join", value: { room: "/bc/open" } })).frame.case).toBe("join");
    expect(errorOf(await bob.request({ case: "broadcast", value: { room: "/bc/ws", type: "x" } }))).toMatchObject({
      reason: "ROOM_FORBIDDEN",
      message: 'room: operation "join" is not allowed on room "/bc/ws"',
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(full.broadcasts().map((b) => b.type)).toEqual(["reaction", "second"]);
  });
});

describe("Broadcast (two nodes on Redis)", () => {
  let redis: RedisInstance;
  afterAll(() => redis?.stop());

  it("a broadcast sent through one node reaches the other node's watchers and WatchEvents", async () => {
    redis = await startRedis();
    const env = { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `b${randomBytes(4).toString("hex")}` };
    const [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
    cleanups.push(() => a.close(), () => b.close());
    const viewer = connectClient(b.baseUrl);
    cleanups.push(() => viewer.close());
    const w = watch(viewer, "/bc/nodes");
    const token = await signTestToken(TEST_SECRET, { sub: "svc", role: "service" });
    const bearer: Interceptor = (next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req));
    const events: string[] = [];
    const ac = new AbortController();
    cleanups.push(() => ac.abort());
    void (async () => {
      try {
        const be = createClient(BackendService, createGrpcTransport({ baseUrl: b.baseUrl, interceptors: [bearer] }));
        for await (const m of be.watchEvents({ kinds: [BackendEventKind.BROADCAST] }, { signal: ac.signal })) {
          if (m.message.case === "event" && m.message.value.detail.case === "broadcast") events.push(m.message.value.detail.value.type);
        }
      } catch (e) {
        if (!(e instanceof ConnectError)) throw e;
      }
    })();
    await waitFor(() => w.got.length >= 1, 5_000, "the snapshot");
    await new Promise((r) => setTimeout(r, 300));
    const backend = await as(a, "svc", "service");
    await backend.broadcast({ room: "/bc/nodes", type: "hello", payload: create(ValueSchema, { kind: { case: "numberValue", value: 1 } }) });
    await waitFor(() => w.broadcasts().length === 1 && events.length === 1, 5_000, "the broadcast on the other node");
    expect(w.broadcasts()[0]).toMatchObject({ type: "hello", room: "/bc/nodes" });
    expect(events).toEqual(["hello"]);
  });
});
