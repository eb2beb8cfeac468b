import { create, toBinary } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import { ClientFrameSchema, type ServerFrame } from "../../gen/presence/v1/frames_pb.js";
import type { WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import { Activity, Detail, LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { connectClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs, type WsClientOptions, type WsTestClient } from "../support/ws-client.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";

/**
 * The WebSocket bridge against a real server (port 0) with real `ws` clients: round trips of every
 * frame type with request ids, binary and JSON encodings, authentication at the upgrade (header,
 * subprotocol, query; refusals are HTTP 401), anonymous viewers, the socket's session model, watch
 * streams fed by other sockets and by a Connect client, limits and close codes, shutdown (4000).
 * Everything runs on each WebSocket engine (uWS where it loads, and ws) and, on each, on the
 * embedded memory store and on a real Redis (the bridge must work on both stores).
 */
const servers: TestServer[] = [];
const clients: WsTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The store under test: empty for the memory store, the Redis URL and a fresh prefix for Redis. */
let storeEnv: Record<string, string> = {};

async function server(env: Record<string, string> = {}) {
  const s = await startTestServer({ ...storeEnv, ...env });
  servers.push(s);
  return s;
}

const token = (sub: string, expiresInSec = 300) => signTestToken(TEST_SECRET, { sub, name: sub.toUpperCase() }, expiresInSec);

async function open(s: TestServer, sub?: string, opts: WsClientOptions = {}) {
  const c = await connectWs(s.wsUrl, { token: sub === undefined ? undefined : await token(sub), ...opts });
  clients.push(c);
  return c;
}

/** The answer's oneof, failing the test with the ErrorFrame when it is one. */
type Answer<K> = Extract<ServerFrame["frame"], { case: K }> extends { value: infer V } ? V : never;

function answer<K extends NonNullable<ServerFrame["frame"]["case"]>>(f: ServerFrame, kind: K): Answer<K> {
  if (f.frame.case !== kind) throw new Error(`expected ${kind}, got ${f.frame.case}: ${f.frame.case === "error" ? f.frame.value.message : ""}`);
  return (f.frame as { value: unknown }).value as Answer<K>;
}

const kinds = (ms: WatchPresenceResponse[]) =>
  ms.map((m) => (m.message.case === "event" ? `event:${m.message.value.kind.case}` : m.message.case ?? "?")).filter((k) => k !== "keepalive");

for (const engine of WS_ENGINES)
for (const store of ["memory", "redis"] as const) {
describe(`WebSocket bridge (${engine} engine) on the ${store} store`, () => {
  let redis: RedisInstance | undefined;
  beforeAll(async () => {
    if (store === "redis") {
      redis = await startRedis();
      storeEnv = { ...engineEnv(engine), PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` };
    } else storeEnv = engineEnv(engine);
  });
  afterAll(async () => {
    await redis?.stop();
    storeEnv = {};
  });

  describe("WebSocket bridge: frames", () => {
    it(`runs on the ${engine} engine`, async () => {
      const s = await server();
      expect(s.app.wsEngine).toBe(engine);
    });

    it("answers join, heartbeat, typing, cursor, navigate, status and leave with their request ids (binary)", async () => {
      const s = await server();
      const c = await open(s, "ana");
      const j = answer(await c.request({ case: "join", value: { room: "/a", metadata: { color: "red" } } }), "join");
      expect(j.session?.sessionId).toBeTruthy();
      expect(j.resumed).toBe(false);
      expect(j.view?.users.map((u) => u.user?.userId)).toEqual(["ana"]);
      expect(c.frames.at(-1)!.requestId).toBe(1);

      const hb = await c.request({ case: "heartbeat", value: { activity: Activity.AWAY } });
      expect(answer(hb, "heartbeat").lease?.ttlMs).toBeGreaterThan(0n);
      expect(hb.requestId).toBe(2);
      answer(await c.request({ case: "typing", value: { room: "/a", typing: true } }), "ack");
      answer(await c.request({ case: "cursor", value: { room: "/a", position: { x: 1, y: 2 } } }), "ack");
      const nav = answer(await c.request({ case: "navigate", value: { fromRoom: "/a", toRoom: "/b" } }), "navigate");
      expect(nav.view?.room).toBe("/b");
      expect(nav.view?.users[0]?.connections[0]?.connectionId).toBe(j.session?.connectionId); // kept across navigate
      const st = answer(await c.request({ case: "status", value: { customStatus: "busy" } }), "status");
      expect(st.status?.customStatus).toBe("busy");
      expect(answer(await c.request({ case: "leave", value: { room: "/b" } }), "leave").left).toBe(true);
      // The last room left: the session ended, so a session frame now needs a new Join.
      const after = answer(await c.request({ case: "heartbeat", value: {} }), "error");
      expect(after.reason).toBe(ErrorReason.SESSION_NOT_FOUND);
      const again = answer(await c.request({ case: "join", value: { room: "/a" } }), "join");
      expect(again.session?.sessionId).not.toBe(j.session?.sessionId);
    });

    it("speaks JSON text frames to a socket that sends JSON", async () => {
      const s = await server();
      const c = await open(s, "ana", { json: true });
      const kinds: boolean[] = [];
      c.ws.on("message", (_d, isBinary) => kinds.push(isBinary));
      const j = answer(await c.request({ case: "join", value: { room: "/json" } }), "join");
      expect(j.view?.version).toBe(1n);
      answer(await c.request({ case: "watch", value: { room: "/json" } }), "ack");
      await c.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "snapshot");
      expect(kinds.length).toBeGreaterThanOrEqual(3);
      expect(kinds.every((b) => b === false)).toBe(true);
      // A JSON frame naming an unknown field is malformed: 4500.
      c.ws.send('{"requestId": 9, "bogus": {}}');
      expect(await c.closed).toEqual({ code: 4500, reason: "bad request" });
    });

    it("does not answer a successful frame with request id 0, but answers its errors", async () => {
      const s = await server();
      const c = await open(s, "ana");
      c.send({ frame: { case: "join", value: { room: "/quiet" } } });
      c.send({ frame: { case: "join", value: { room: "" } } });
      const err = await c.waitFor((f) => f.frame.case === "error");
      expect(err.requestId).toBe(0);
      expect(answer(err, "error")).toMatchObject({ code: 3, reason: ErrorReason.INVALID_ROOM, message: "room: must not be empty", metadata: { field: "room" } });
      expect(c.frames).toHaveLength(1);
    });

    it("refuses unknown frame types (4500) and frames over the message limit (4503)", async () => {
      const s = await server({ PRESENCE_MAX_REQUEST_BYTES: "1024" });
      const a = await open(s, "ana");
      a.ws.send(Buffer.from([0x08, 0x01, 0xfa, 0x06, 0x00])); // request_id 1 + unknown field 111
      expect(await a.closed).toEqual({ code: 4500, reason: "bad request" });
      const b = await open(s, "ana");
      b.ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { requestId: 1, frame: { case: "join", value: { room: "x".repeat(1100) } } })));
      expect(await b.closed).toEqual({ code: 4503, reason: "too large" });
      const metrics = await s.app.metrics.registry.metrics();
      expect(metrics).toMatch(/^presence_ws_frames_rejected_total\{reason="unknown_type"\} 1$/m);
      expect(metrics).toMatch(/^presence_ws_frames_rejected_total\{reason="too_large"\} 1$/m);
      expect(metrics).toMatch(/^presence_ws_closes_total\{code="4503"\} 1$/m);
    });

    it("caps the rooms a socket may watch", async () => {
      const s = await server({ PRESENCE_WS_MAX_WATCHES_PER_SOCKET: "2" });
      const c = await open(s, "ana");
      answer(await c.request({ case: "watch", value: { room: "/1" } }), "ack");
      answer(await c.request({ case: "watch", value: { room: "/2" } }), "ack");
      answer(await c.request({ case: "watch", value: { room: "/2" } }), "ack"); // same room again: fine
      const e = answer(await c.request({ case: "watch", value: { room: "/3" } }), "error");
      expect(e).toMatchObject({ code: 8, reason: ErrorReason.TOO_MANY_ROOMS, metadata: { field: "watch.room", limit: "2", actual: "3" } });
      answer(await c.request({ case: "unwatch", value: { room: "/1" } }), "ack");
      answer(await c.request({ case: "watch", value: { room: "/3" } }), "ack");
    });

    // On the memory store a frame's work completes within the turn that received it, so frames
    // never pile up there; Redis round trips make them.
    it.runIf(store === "redis")("refuses frames beyond PRESENCE_WS_MAX_PENDING_FRAMES with RATE_LIMITED and keeps the socket open", async () => {
      const s = await server({ PRESENCE_WS_MAX_PENDING_FRAMES: "2" });
      const c = await open(s, "ana");
      answer(await c.request({ case: "join", value: { room: "/pending" } }), "join");
      // One burst of frames: the first two are in flight (each a store call), the rest arrive before they are answered.
      const ids = Array.from({ length: 40 }, (_, i) => 1_000 + i);
      for (const requestId of ids) c.send({ requestId, frame: { case: "typing", value: { room: "/pending", typing: requestId % 2 === 0 } } });
      await c.waitFor((f) => f.requestId === ids.at(-1));
      await Promise.all(ids.map((id) => c.waitFor((f) => f.requestId === id)));
      const answers = c.frames.filter((f) => ids.includes(f.requestId));
      expect(answers).toHaveLength(ids.length);
      const refused = answers.filter((f) => f.frame.case === "error").map((f) => answer(f, "error"));
      expect(refused.length, "no frame was refused").toBeGreaterThan(0);
      for (const e of refused) expect(e).toMatchObject({ code: 8, reason: ErrorReason.RATE_LIMITED, metadata: { field: "frames", limit: "2" } });
      expect(answers.filter((f) => f.frame.case === "ack").length).toBeGreaterThanOrEqual(2);
      answer(await c.request({ case: "typing", value: { room: "/pending", typing: false } }), "ack");
    });
  });

  describe("WebSocket bridge: authentication", () => {
    it.each(["header", "protocol", "query"] as const)("accepts a token in the %s", async (via) => {
      const s = await server();
      const c = await open(s, "ana", { via });
      expect(c.ws.protocol).toBe("presence.v1");
      const j = answer(await c.request({ case: "join", value: { room: "/auth" } }), "join");
      expect(j.view?.users[0]?.user).toMatchObject({ userId: "ana", name: "ANA" });
    });

    it("refuses a bad or expired token, or none when anonymous access is off, with HTTP 401", async () => {
      const s = await server();
      await expect(connectWs(s.wsUrl, { token: "not-a-jwt" })).rejects.toMatchObject({ statusCode: 401 });
      await expect(connectWs(s.wsUrl, { token: await token("ana", -10), via: "protocol" })).rejects.toMatchObject({ statusCode: 401 });
      await expect(connectWs(s.wsUrl, { token: await signTestToken("another-secret-another-secret-0123", { sub: "x" }), via: "query" })).rejects.toMatchObject({ statusCode: 401 });
      const closed = await server({ PRESENCE_ALLOW_ANONYMOUS: "false" });
      await expect(connectWs(closed.wsUrl)).rejects.toMatchObject({ statusCode: 401 });
      const text = await s.app.metrics.registry.metrics();
      expect(text).toMatch(/^presence_auth_failures_total\{reason="TOKEN_INVALID"\} 2$/m);
      expect(text).toMatch(/^presence_auth_failures_total\{reason="TOKEN_EXPIRED"\} 1$/m);
    });

    it("counts anonymous viewers without listing them, and refuses them typing", async () => {
      const s = await server();
      const anon = await open(s);
      const j = answer(await anon.request({ case: "join", value: { room: "/anon", anonymousId: "tab-kept-id" } }), "join");
      expect(j.view?.counts).toMatchObject({ users: 0, connections: 1, anonymous: 1 });
      expect(j.view?.users).toEqual([]);
      const ana = await open(s, "ana");
      const view = answer(await ana.request({ case: "join", value: { room: "/anon" } }), "join").view!;
      expect(view.counts).toMatchObject({ users: 1, connections: 2, anonymous: 1 });
      expect(view.users.map((u) => u.user?.userId)).toEqual(["ana"]);
      const e = answer(await anon.request({ case: "typing", value: { room: "/anon", typing: true } }), "error");
      expect(e.reason).toBe(ErrorReason.PERMISSION_DENIED);
    });

    it("closes a socket whose token expires with 4003", async () => {
      const s = await server();
      const c = await open(s, "ana");
      const short = await connectWs(s.wsUrl, { token: await token("bob", 1) });
      clients.push(short);
      const t0 = Date.now();
      expect(await short.closed).toEqual({ code: 4003, reason: "token expired" });
      expect(Date.now() - t0).toBeLessThan(2_500);
      answer(await c.request({ case: "join", value: { room: "/still-here" } }), "join");
    });
  });

  describe("WebSocket bridge: watching", () => {
    it("sends a snapshot, then events made by another socket and by a Connect client", async () => {
      const s = await server();
      const watcher = await open(s, "wendy");
      const json = await open(s, "jason", { json: true });
      const counter = await open(s, "carl");
      answer(await watcher.request({ case: "watch", value: { room: "/doc" } }), "ack");
      answer(await json.request({ case: "watch", value: { room: "/doc" } }), "ack");
      answer(await counter.request({ case: "watch", value: { room: "/doc", detail: Detail.COUNTS } }), "ack");
      await watcher.waitFor((f) => f.frame.case === "watch");

      const ana = await open(s, "ana");
      const j = answer(await ana.request({ case: "join", value: { room: "/doc" } }), "join");
      answer(await ana.request({ case: "typing", value: { room: "/doc", typing: true } }), "ack");
      answer(await ana.request({ case: "cursor", value: { room: "/doc", position: { x: 5, y: 6 } } }), "ack");
      // Cursors are flushed every 50 ms; a cursor still pending when its member leaves is dropped
      // (Redis store), so wait for the batch before leaving.
      await watcher.waitFor(() => kinds(watcher.watchMessages("/doc")).includes("cursors"), 3_000);
      const rpc = connectClient(s.baseUrl, await token("bob"));
      const b = await rpc.join({ room: "/doc" });
      await rpc.leave({ sessionId: b.session!.sessionId, room: "/doc" });
      rpc.close();
      ana.close(); // normal close: the session leaves at once

      // Membership events in version order; typing and cursors (not versioned) in between.
      for (const c of [watcher, json]) {
        await c.waitFor(() => kinds(c.watchMessages("/doc")).filter((k) => k.startsWith("event")).length === 4, 3_000);
        await sleep(100); // the cursor batch of the leave (50 ms flush)
        const got = kinds(c.watchMessages("/doc"));
        expect(got[0]).toBe("snapshot");
        expect(got.filter((k) => k.startsWith("event"))).toEqual(["event:joined", "event:joined", "event:left", "event:left"]);
        expect(got.filter((k) => k === "snapshot")).toHaveLength(1);
        expect(got).toContain("typing");
        expect(got).toContain("cursors");
      }
      const events = watcher.watchMessages("/doc").flatMap((m) => (m.message.case === "event" ? [m.message.value] : []));
      expect(events.map((e) => e.version)).toEqual([1n, 2n, 3n, 4n]);
      const last = events[3]!.kind;
      expect(last.case === "left" && last.value).toMatchObject({ userId: "ana", connectionId: j.session?.connectionId, reason: LeaveReason.LEFT, lastOfUser: true });
      // Counts watchers get counts only: the first from the snapshot, then one per change (at most per turn).
      await sleep(100);
      const counts = counter.watchMessages("/doc").map((m) => (m.message.case === "counts" ? (m.message.value.counts?.connections ?? -1) : -1));
      expect(counts[0]).toBe(0);
      expect(counts.at(-1)).toBe(0);
      expect(counts).not.toContain(-1);
      expect(Math.max(...counts)).toBeGreaterThanOrEqual(1);
    });

    it("a late watcher gets the current view, with typing and cursors, and no duplicate", async () => {
      const s = await server();
      const ana = await open(s, "ana");
      answer(await ana.request({ case: "join", value: { room: "/late" } }), "join");
      const early = await open(s, "eve");
      answer(await early.request({ case: "watch", value: { room: "/late" } }), "ack");
      await early.waitFor((f) => f.frame.case === "watch");
      answer(await ana.request({ case: "typing", value: { room: "/late", typing: true } }), "ack");
      answer(await ana.request({ case: "cursor", value: { room: "/late", position: { x: 1, y: 1 } } }), "ack");
      await early.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "cursors");
      const late = await open(s, "leo");
      answer(await late.request({ case: "watch", value: { room: "/late" } }), "ack");
      const snap = await late.waitFor((f) => f.frame.case === "watch");
      const v = snap.frame.case === "watch" && snap.frame.value.message.case === "snapshot" ? snap.frame.value.message.value.view! : undefined;
      expect(v?.users.map((u) => u.user?.userId)).toEqual(["ana"]);
      expect(v?.typing.map((t) => t.userId)).toEqual(["ana"]);
      expect(v?.cursors.map((c) => c.position?.x)).toEqual([1]);
      answer(await ana.request({ case: "leave", value: { room: "/late" } }), "leave");
      await late.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "event");
      await sleep(100);
      // The leave also clears the user's typing and removes the cursor.
      expect(kinds(late.watchMessages("/late"))).toEqual(["snapshot", "event:left", "typing", "cursors"]);
    });
  });

  describe("WebSocket bridge: shutdown", () => {
    it("closes every socket with 4000 draining; the session is kept for the grace", async () => {
      const s = await server();
      const c = await open(s, "ana");
      answer(await c.request({ case: "join", value: { room: "/bye" } }), "join");
      const t0 = Date.now();
      await s.close();
      servers.length = 0;
      expect(await c.closed).toEqual({ code: 4000, reason: "draining" });
      expect(Date.now() - t0).toBeLessThan(2_000);
    });
  });
});
}
