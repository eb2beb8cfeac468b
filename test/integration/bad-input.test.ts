/**
 * Bad input against a real server: every rejection has its documented code and ErrorInfo reason
 * (errors.proto), a message that names the field (and the limit, for limits), and changes nothing
 * in the store (stats and the involved rooms' epoch/version/counts are compared before and after).
 * Malformed bodies follow the Connect/gRPC rules and are never `internal`. Typing and cursor floods
 * are coalesced, not refused.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { endStreamFlag, endStreamFromJson, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import * as http2 from "node:http2";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { JoinResponseSchema } from "../../gen/presence/v1/presence_pb.js";
import { LeaveReason } from "../../gen/presence/v1/types_pb.js";
import type { App } from "../../src/app.js";
import {
  connectClient,
  decodeStatusDetailsBin,
  expectRpcError,
  grpcJsClient,
  startWatch,
  type PresenceClient,
  type RpcError,
  type WatchHandle,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

let server: TestServer;
let alice: string;
let bob: string;
let service: string;
const open: Array<{ close(): unknown }> = [];
const watches: WatchHandle[] = [];
let seq = 0;

beforeAll(async () => {
  server = await startTestServer();
  alice = await signTestToken(TEST_SECRET, { sub: "alice", name: "Alice" });
  bob = await signTestToken(TEST_SECRET, { sub: "bob", name: "Bob" });
  service = await signTestToken(TEST_SECRET, { sub: "svc-bot", name: "Bot service", role: "service" });
});

afterEach(async () => {
  for (const w of watches.splice(0)) await w.stop();
  for (const c of open.splice(0)) c.close();
});

afterAll(async () => {
  await server.close();
});

const room = (name: string) => `bad-input/${name}/${++seq}`;
const client = (token?: string, baseUrl = server.baseUrl) => {
  const c = connectClient(baseUrl, token);
  open.push(c);
  return c;
};
const watch = (r: string, baseUrl = server.baseUrl) => {
  const w = startWatch(client(undefined, baseUrl), { room: r });
  watches.push(w);
  return w;
};

/** What the store holds for `rooms`: global stats plus each room's epoch, version and counts. */
async function storeState(app: App, rooms: string[]) {
  const views = await Promise.all(rooms.map((r) => app.store.getView(r, { includeMembers: true })));
  return {
    stats: app.store.stats(),
    rooms: views.map((v) => ({ room: v.room, epoch: v.epoch, version: v.version, counts: v.counts, members: v.users.length, typing: v.typing.length, cursors: v.cursors.length })),
  };
}

interface Expected {
  code: Code;
  reason: string;
  /** ErrorInfo `metadata.field`; the message must start with `${field}:` unless `message` says otherwise. */
  field?: string;
  limit?: number;
  actual?: number;
  message?: string | RegExp;
}

/** Asserts the documented error: code, reason, domain, field, limit, message. */
function expectError(e: RpcError, x: Expected): void {
  expect(e.code, `code of "${e.message}"`).toBe(x.code);
  expect(e.errorInfo?.reason).toBe(x.reason);
  expect(e.errorInfo?.domain).toBe("presence.v1");
  if (x.field !== undefined) {
    expect(e.errorInfo?.metadata["field"]).toBe(x.field);
    if (x.message === undefined) expect(e.message.startsWith(`${x.field}:`), e.message).toBe(true);
  }
  if (x.message !== undefined) {
    if (typeof x.message === "string") expect(e.message).toBe(x.message);
    else expect(e.message).toMatch(x.message);
  }
  if (x.limit !== undefined) {
    expect(e.errorInfo?.metadata["limit"]).toBe(String(x.limit));
    expect(e.message).toContain(String(x.limit));
  }
  if (x.actual !== undefined) {
    expect(e.errorInfo?.metadata["actual"]).toBe(String(x.actual));
    expect(e.message).toContain(`got ${x.actual}`);
  }
  if (x.code === Code.InvalidArgument && x.field !== undefined) {
    expect(e.badRequest?.fieldViolations.map((v) => v.field)).toEqual([x.field]);
  }
}

/** Runs a call that must fail as `x` and leave `rooms` (and the store's stats) exactly as they were. */
async function rejectsWithoutChange(rooms: string[], call: () => Promise<unknown>, x: Expected, app: App = server.app): Promise<RpcError> {
  const before = await storeState(app, rooms);
  const e = await expectRpcError(call());
  expectError(e, x);
  expect(await storeState(app, rooms)).toEqual(before);
  return e;
}

// ---- raw protocol helpers (hand-made bodies) ----

const METHOD = (name: string) => `/presence.v1.PresenceService/${name}`;

/** A JoinRequest / WatchPresenceRequest with field 1 (room) = "a" 0xff 0xfe "b": invalid UTF-8. */
const INVALID_UTF8_ROOM = new Uint8Array([0x0a, 4, 0x61, 0xff, 0xfe, 0x62]);

async function post(path: string, contentType: string, body: Uint8Array<ArrayBuffer> | string, headers: Record<string, string> = {}) {
  const res = await fetch(server.baseUrl + path, { method: "POST", headers: { "content-type": contentType, ...headers }, body });
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** A Connect unary error body as a ConnectError (details included). */
const connectUnaryError = (bytes: Uint8Array) => errorFromJsonBytes(bytes, undefined, new ConnectError("no error body", Code.Unknown));

function envelopes(bytes: Uint8Array): Array<{ flags: number; data: Uint8Array }> {
  const out = [];
  for (let i = 0; i + 5 <= bytes.length; ) {
    const len = new DataView(bytes.buffer, bytes.byteOffset + i + 1, 4).getUint32(0);
    out.push({ flags: bytes[i]!, data: bytes.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

const toRpcError = (e: ConnectError): RpcError => ({
  code: e.code,
  message: e.rawMessage,
  errorInfo: e.findDetails(ErrorInfoSchema)[0],
  badRequest: e.findDetails(BadRequestSchema)[0],
});

/** A gRPC (h2c) call with a hand-made body; resolves with the trailers as an RpcError-like value. */
function grpcRaw(path: string, body: Uint8Array): Promise<{ grpcStatus: number; message: string; details: ReturnType<typeof decodeStatusDetailsBin> }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(server.baseUrl);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc+proto", te: "trailers" });
    let headers: http2.IncomingHttpHeaders = {};
    const collect = (h: http2.IncomingHttpHeaders) => (headers = { ...headers, ...h });
    req.on("response", collect);
    req.on("trailers", collect);
    req.on("data", () => {});
    req.on("error", reject);
    req.on("end", () => {
      session.close();
      const bin = headers["grpc-status-details-bin"];
      resolve({
        grpcStatus: Number(headers["grpc-status"]),
        message: decodeURIComponent(String(headers["grpc-message"] ?? "")),
        details: typeof bin === "string" ? decodeStatusDetailsBin(bin) : {},
      });
    });
    req.end(Buffer.from(body));
  });
}

// ---- rooms ----

describe("room names", () => {
  it("refuses an empty room", async () => {
    await rejectsWithoutChange([], () => client(alice).join({ room: "" }), {
      code: Code.InvalidArgument,
      reason: "INVALID_ROOM",
      field: "room",
      message: "room: must not be empty",
    });
  });

  it("refuses a room of 257 bytes (and counts bytes, not characters); 256 bytes is fine", async () => {
    const long = "r".repeat(257);
    await rejectsWithoutChange([long.slice(0, 256)], () => client(alice).join({ room: long }), {
      code: Code.InvalidArgument,
      reason: "INVALID_ROOM",
      field: "room",
      limit: 256,
      actual: 257,
      message: "room: must be at most 256 bytes (got 257)",
    });
    const wide = "é".repeat(129); // 129 characters, 258 bytes
    await rejectsWithoutChange([], () => client(alice).join({ room: wide }), { code: Code.InvalidArgument, reason: "INVALID_ROOM", field: "room", limit: 256, actual: 258 });
    const ok = await client(alice).join({ room: "r".repeat(256) });
    expect(ok.view?.counts?.connections).toBe(1);
  });

  it("refuses control characters (C0, DEL and C1)", async () => {
    for (const bad of ["lobby\u0007", "a\nb", "x\u007f", "y\u0085"]) {
      const e = await rejectsWithoutChange([bad.slice(0, -1)], () => client(alice).join({ room: bad }), { code: Code.InvalidArgument, reason: "INVALID_ROOM", field: "room" });
      expect(e.message).toMatch(/^room: must not contain control characters \(U\+[0-9A-F]{4} at index \d+\)$/);
    }
    // grpc-js reads the same message verbatim (grpc-message is percent-encoded per the gRPC spec).
    const g = grpcJsClient(server.baseUrl, alice);
    open.push(g);
    const e = await expectRpcError(g.join({ room: "lobby\u0007" }));
    expectError(e, { code: Code.InvalidArgument, reason: "INVALID_ROOM", field: "room", message: "room: must not contain control characters (U+0007 at index 5)" });
  });

  it("answers invalid UTF-8 in a binary protobuf body with invalid_argument on every protocol, never internal", async () => {
    const before = await storeState(server.app, ["a\uFFFD\uFFFDb"]);

    // Connect unary, application/proto.
    const unary = await post(METHOD("Join"), "application/proto", INVALID_UTF8_ROOM);
    expect(unary.status).toBe(400);
    const ue = toRpcError(connectUnaryError(unary.bytes));
    expectError(ue, { code: Code.InvalidArgument, reason: "INVALID_ARGUMENT", field: "request" });
    expect(ue.message).toMatch(/^request: must be a valid protobuf message \(.*utf-8.*\)$/i);

    // gRPC over h2c.
    const grpc = await grpcRaw(METHOD("Join"), encodeEnvelope(0, INVALID_UTF8_ROOM));
    expect(grpc.grpcStatus).toBe(Code.InvalidArgument);
    expect(grpc.message).toBe(ue.message);
    expect(grpc.details.errorInfo).toMatchObject({ reason: "INVALID_ARGUMENT", metadata: { field: "request" } });

    // gRPC-Web: the status is in the trailer frame.
    const web = await post(METHOD("Join"), "application/grpc-web+proto", encodeEnvelope(0, INVALID_UTF8_ROOM));
    expect(web.status).toBe(200);
    const trailer = envelopes(web.bytes).find((env) => env.flags === trailerFlag);
    const we = findTrailerError(trailerParse(trailer!.data));
    expect(we?.code).toBe(Code.InvalidArgument);
    expect(we?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_ARGUMENT");

    // Connect server stream (WatchPresence): the error is in the end-stream frame.
    const stream = await post(METHOD("WatchPresence"), "application/connect+proto", encodeEnvelope(0, INVALID_UTF8_ROOM));
    expect(stream.status).toBe(200);
    const end = envelopes(stream.bytes).find((env) => env.flags === endStreamFlag);
    const se = endStreamFromJson(end!.data).error;
    expect(se?.code).toBe(Code.InvalidArgument);
    expect(se?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_ARGUMENT");

    // Invalid UTF-8 inside a JSON body decodes to U+FFFD, which room validation refuses.
    const json = await post(
      METHOD("Join"),
      "application/json",
      new Uint8Array([...Buffer.from('{"room":"a'), 0xff, 0xfe, ...Buffer.from('b"}')]),
    );
    expect(json.status).toBe(400);
    expectError(toRpcError(connectUnaryError(json.bytes)), { code: Code.InvalidArgument, reason: "INVALID_ROOM", field: "room", message: /valid UTF-8/ });

    expect(await storeState(server.app, ["a\uFFFD\uFFFDb"])).toEqual(before);
  });
});

// ---- metadata and limits ----

describe("limits", () => {
  it("refuses metadata over 1,024 bytes with resource_exhausted / METADATA_TOO_LARGE", async () => {
    const r = room("metadata");
    await client(bob).join({ room: r });
    await rejectsWithoutChange([r], () => client(alice).join({ room: r, metadata: { k: "x".repeat(1100) } }), {
      code: Code.ResourceExhausted,
      reason: "METADATA_TOO_LARGE",
      field: "metadata",
      limit: 1024,
      actual: 1103, // 1 + 1,100 + 2 per entry
      message: "metadata: must be at most 1024 bytes (got 1103)",
    });
  });

  it("refuses too many metadata entries", async () => {
    const r = room("metadata-entries");
    const metadata = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    await rejectsWithoutChange([r], () => client(alice).join({ room: r, metadata }), {
      code: Code.ResourceExhausted,
      reason: "METADATA_TOO_LARGE",
      field: "metadata",
      limit: 32,
      actual: 33,
      message: "metadata: must be at most 32 entries (got 33)",
    });
  });

  it("refuses a 17th room for one session with TOO_MANY_ROOMS", async () => {
    const a = client(alice);
    const rooms = Array.from({ length: 16 }, (_, i) => room(`many-${i}`));
    const first = await a.join({ room: rooms[0]! });
    const sessionId = first.session!.sessionId;
    for (const r of rooms.slice(1)) await a.join({ room: r, sessionId });
    const r17 = room("many-16");
    await rejectsWithoutChange([...rooms, r17], () => a.join({ room: r17, sessionId }), {
      code: Code.ResourceExhausted,
      reason: "TOO_MANY_ROOMS",
      field: "room",
      limit: 16,
      actual: 17,
    });
    // Navigate into a 17th room is refused the same way (field to_room).
    await rejectsWithoutChange([...rooms, r17], () => a.navigate({ sessionId, fromRoom: "", toRoom: r17 }), {
      code: Code.ResourceExhausted,
      reason: "TOO_MANY_ROOMS",
      field: "to_room",
      limit: 16,
    });
    // Re-joining a room it is already in is not a 17th room.
    await a.join({ room: rooms[3]!, sessionId });
  });

  it("refuses a request body over 64 KiB with resource_exhausted / MESSAGE_TOO_LARGE before parsing it", async () => {
    const r = room("big-body");
    const big = { room: r, metadata: { k: "x".repeat(70_000) } };
    const tooLarge: Expected = { code: Code.ResourceExhausted, reason: "MESSAGE_TOO_LARGE", field: "request", limit: 65_536 };
    await rejectsWithoutChange([r], () => client(alice).join(big), tooLarge);
    const g = grpcJsClient(server.baseUrl, alice);
    open.push(g);
    await rejectsWithoutChange([r], () => g.join(big), tooLarge);
    const raw = await post(METHOD("Join"), "application/json", JSON.stringify(big));
    expect(raw.status).toBe(429);
    // The length is known from content-length here, so the message has the size too.
    expectError(toRpcError(connectUnaryError(raw.bytes)), { ...tooLarge, actual: Buffer.byteLength(JSON.stringify(big)) });
  });

  it("an over-size gRPC body does not leave its HTTP/2 stream open once the error is sent", async () => {
    // 70,000 bytes exceed the 64 KiB stream window: unless the server discards the rest of the
    // body, the client stays blocked on flow control and the stream never closes.
    const session = http2.connect(server.baseUrl);
    session.on("error", () => {});
    try {
      const body = Buffer.alloc(70_005);
      body.writeUInt32BE(70_000, 1);
      const req = session.request({ ":method": "POST", ":path": METHOD("Join"), "content-type": "application/grpc", te: "trailers" });
      req.on("data", () => {});
      req.on("error", () => {});
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve));
      const closed = new Promise<number>((resolve) => req.once("close", () => resolve(req.rstCode ?? -1)));
      req.end(body);
      expect((await trailers)["grpc-status"]).toBe(String(Code.ResourceExhausted));
      const rst = await Promise.race([closed, new Promise<string>((resolve) => setTimeout(() => resolve("still open after 2 s"), 2_000))]);
      expect(rst).toBe(http2.constants.NGHTTP2_NO_ERROR);
    } finally {
      session.destroy();
    }
  });

  it("BatchGetPresence refuses 101 rooms, and names the index of a bad room", async () => {
    const rooms = Array.from({ length: 101 }, (_, i) => room(`batch-${i}`));
    await rejectsWithoutChange([], () => client(alice).batchGetPresence({ rooms }), {
      code: Code.InvalidArgument,
      reason: "INVALID_ARGUMENT",
      field: "rooms",
      limit: 100,
      actual: 101,
      message: "rooms: must be at most 100 rooms (got 101)",
    });
    await rejectsWithoutChange([], () => client(alice).batchGetPresence({ rooms: ["a", "b", "c", "", "e"] }), {
      code: Code.InvalidArgument,
      reason: "INVALID_ROOM",
      field: "rooms[3]",
      message: "rooms[3]: must not be empty",
    });
    // 100 rooms, with duplicates answered once, is fine.
    const ok = await client(alice).batchGetPresence({ rooms: [...rooms.slice(0, 99), rooms[0]!] });
    expect(ok.views.map((v) => v.room)).toEqual(rooms.slice(0, 99));
  });
});

// ---- sessions ----

describe("sessions", () => {
  it("answers an unknown session id with not_found / SESSION_NOT_FOUND: join again", async () => {
    const r = room("unknown");
    const a = client(alice);
    await a.join({ room: r });
    const sessionId = "AAAAAAAAAAAAAAAAAAAAAAAA";
    const x: Expected = { code: Code.NotFound, reason: "SESSION_NOT_FOUND", field: "session_id", message: "session_id: session not found or expired; join again" };
    await rejectsWithoutChange([r], () => a.heartbeat({ sessionId }), x);
    await rejectsWithoutChange([r], () => a.leave({ sessionId, room: r }), x);
    await rejectsWithoutChange([r], () => a.navigate({ sessionId, fromRoom: r, toRoom: room("unknown-to") }), x);
    await rejectsWithoutChange([r], () => a.setTyping({ sessionId, room: r, typing: true }), x);
    await rejectsWithoutChange([r], () => a.join({ room: r, sessionId }), x);
    // An empty session id is malformed input, not an unknown session.
    await rejectsWithoutChange([r], () => a.heartbeat({ sessionId: "" }), { code: Code.InvalidArgument, reason: "INVALID_ARGUMENT", field: "session_id" });
  });

  it("a second leave of the same room answers OK with left=false and publishes nothing", async () => {
    const r = room("double-leave");
    const other = room("double-leave-other");
    const a = client(alice);
    const j = await a.join({ room: r });
    const sessionId = j.session!.sessionId;
    await a.join({ room: other, sessionId }); // keeps the session alive after leaving r
    const w = watch(r);
    const snap = await w.waitFor((m) => m.message.case === "snapshot");
    const v0 = snap.message.case === "snapshot" ? snap.message.value.view!.version : -1n;

    expect(await a.leave({ sessionId, room: r })).toMatchObject({ left: true });
    const before = await storeState(server.app, [r, other]);
    expect(await a.leave({ sessionId, room: r })).toMatchObject({ left: false });
    expect(await storeState(server.app, [r, other])).toEqual(before);

    // A later event proves nothing was published in between.
    await client(bob).join({ room: r });
    await w.waitFor((m) => m.message.case === "event" && m.message.value.kind.case === "joined");
    const events = w.messages.flatMap((m) => (m.message.case === "event" ? [[m.message.value.kind.case, m.message.value.version]] : []));
    expect(events).toEqual([
      ["left", v0 + 1n],
      ["joined", v0 + 2n],
    ]);
  });

  it("a session that left its last room has ended: leaving again is SESSION_NOT_FOUND", async () => {
    const r = room("ended");
    const a = client(alice);
    const j = await a.join({ room: r });
    expect(await a.leave({ sessionId: j.session!.sessionId, room: r })).toMatchObject({ left: true });
    await rejectsWithoutChange([r], () => a.leave({ sessionId: j.session!.sessionId, room: r }), { code: Code.NotFound, reason: "SESSION_NOT_FOUND", field: "session_id" });
  });

  it("another caller's session id is SESSION_NOT_FOUND, whoever asks", async () => {
    const r = room("foreign");
    const j = await client(alice).join({ room: r });
    const sessionId = j.session!.sessionId;
    const x: Expected = { code: Code.NotFound, reason: "SESSION_NOT_FOUND", field: "session_id", message: /join again/ };
    for (const intruder of [client(bob), client(), client(service)]) {
      await rejectsWithoutChange([r], () => intruder.heartbeat({ sessionId }), x);
      await rejectsWithoutChange([r], () => intruder.leave({ sessionId, room: r }), x);
      await rejectsWithoutChange([r], () => intruder.join({ room: room("foreign-2"), sessionId }), x);
    }
    await rejectsWithoutChange([r], () => client(bob).updateCursor({ sessionId, room: r, position: { x: 1, y: 1 } }), x);
    // The owner still can.
    expect((await client(alice).heartbeat({ sessionId })).lease?.ttlMs).toBe(BigInt(server.config.timings.sessionTtlMs));
  });

  describe("with a short TTL", () => {
    let short: TestServer;
    beforeAll(async () => {
      short = await startTestServer({
        PRESENCE_SESSION_TTL_MS: "300",
        PRESENCE_HEARTBEAT_INTERVAL_MS: "100",
        PRESENCE_REAPER_INTERVAL_MS: "50",
        PRESENCE_NODE_REFRESH_MS: "100", // must stay below the TTL
      });
    });
    afterAll(async () => {
      await short.close();
    });

    it("a heartbeat after the reaper ran is SESSION_NOT_FOUND and does not recreate the session", async () => {
      const r = room("reaped");
      const a = client(alice, short.baseUrl);
      const w = watch(r, short.baseUrl);
      await w.waitFor((m) => m.message.case === "snapshot");
      const j = await a.join({ room: r });
      expect(j.lease?.ttlMs).toBe(300n);
      const left = await w.waitFor((m) => m.message.case === "event" && m.message.value.kind.case === "left", { timeoutMs: 3_000 });
      if (left.message.case !== "event" || left.message.value.kind.case !== "left") throw new Error("unreachable");
      expect(left.message.value.kind.value).toMatchObject({ connectionId: j.session?.connectionId, reason: LeaveReason.TIMEOUT, lastOfUser: true });
      expect(short.app.store.stats().sessions).toBe(0);

      const x: Expected = { code: Code.NotFound, reason: "SESSION_NOT_FOUND", field: "session_id", message: "session_id: session not found or expired; join again" };
      await rejectsWithoutChange([r], () => a.heartbeat({ sessionId: j.session!.sessionId }), x, short.app);
      await rejectsWithoutChange([r], () => a.join({ room: r, sessionId: j.session!.sessionId }), x, short.app);
      expect(w.messages.filter((m) => m.message.case === "event").map((m) => (m.message.case === "event" ? m.message.value.kind.case : ""))).toEqual(["joined", "left"]);

      // Reclaiming with the resume secret makes a new session and says so.
      const again = await a.join({ room: r, sessionId: j.session!.sessionId, resumeSecret: j.session!.resumeSecret });
      expect(again.resumed).toBe(false);
      expect(again.session?.sessionId).not.toBe(j.session?.sessionId);
    });
  });
});

// ---- authentication and permissions ----

describe("credentials and permissions", () => {
  it("refuses bad, expired, wrongly signed and malformed tokens with unauthenticated", async () => {
    const r = room("tokens");
    await client(bob).join({ room: r });
    const expired = await signTestToken(TEST_SECRET, { sub: "alice" }, -60);
    const forged = await signTestToken("another-secret-another-secret-0123456789", { sub: "alice" });
    const [h, p] = (await signTestToken(TEST_SECRET, { sub: "alice" })).split(".");
    const cases: Array<[string, string, string]> = [
      ["garbage", "not-a-jwt", "TOKEN_INVALID"],
      ["malformed", "a.b.c", "TOKEN_INVALID"],
      ["truncated", `${h}.${p}`, "TOKEN_INVALID"],
      ["expired", expired, "TOKEN_EXPIRED"],
      ["wrong signature", forged, "TOKEN_INVALID"],
    ];
    for (const [name, token, reason] of cases) {
      const e = await rejectsWithoutChange([r], () => client(token).join({ room: r }), { code: Code.Unauthenticated, reason, field: "authorization", message: /token/ });
      expect(e.message, name).not.toContain(token);
    }
    // Not a Bearer header at all.
    const basic = await post(METHOD("Join"), "application/json", JSON.stringify({ room: r }), { authorization: "Basic YWxpY2U6c2VjcmV0" });
    expect(basic.status).toBe(401);
    expectError(toRpcError(connectUnaryError(basic.bytes)), { code: Code.Unauthenticated, reason: "TOKEN_INVALID", field: "authorization" });
    // grpc-js sees the same code and reason.
    const g = grpcJsClient(server.baseUrl, expired);
    open.push(g);
    expectError(await expectRpcError(g.join({ room: r })), { code: Code.Unauthenticated, reason: "TOKEN_EXPIRED", field: "authorization", message: "token has expired" });
  });

  describe("with anonymous access off", () => {
    let closed: TestServer;
    beforeAll(async () => {
      closed = await startTestServer({ PRESENCE_ALLOW_ANONYMOUS: "false" });
    });
    afterAll(async () => {
      await closed.close();
    });

    it("refuses a call without a token with UNAUTHENTICATED, on unary calls and streams", async () => {
      const r = room("no-anon");
      const x: Expected = { code: Code.Unauthenticated, reason: "UNAUTHENTICATED", field: "authorization", message: "authorization: a Bearer token is required" };
      const anon = client(undefined, closed.baseUrl);
      await rejectsWithoutChange([r], () => anon.join({ room: r }), x, closed.app);
      await rejectsWithoutChange([r], () => anon.getPresence({ room: r }), x, closed.app);
      const w = watch(r, closed.baseUrl);
      await expect(w.waitFor(() => false)).rejects.toThrow(/watch ended/);
      expect(ConnectError.from(w.error).code).toBe(Code.Unauthenticated);
      // With a token it works.
      expect((await client(alice, closed.baseUrl).join({ room: r })).view?.counts?.users).toBe(1);
    });
  });

  it("refuses on_behalf_of without the service role; with it, the session lists that user", async () => {
    const r = room("on-behalf");
    const onBehalfOf = { userId: "agent-7", name: "Agent Seven", avatarUrl: "https://img.example/agent.png", metadata: { team: "support" } };
    const x: Expected = { code: Code.PermissionDenied, reason: "PERMISSION_DENIED", field: "on_behalf_of", message: "on_behalf_of: requires the service role" };
    await rejectsWithoutChange([r], () => client(alice).join({ room: r, onBehalfOf }), x);
    await rejectsWithoutChange([r], () => client().join({ room: r, onBehalfOf }), x);

    const svc = client(service);
    const j = await svc.join({ room: r, onBehalfOf });
    expect(j.view?.users.map((u) => u.user)).toEqual([expect.objectContaining({ userId: "agent-7", name: "Agent Seven", avatarUrl: "https://img.example/agent.png", metadata: { team: "support" } })]);
    const seen = await client(alice).getPresence({ room: r });
    expect(seen.view?.users.map((u) => u.user?.userId)).toEqual(["agent-7"]);
    // The session belongs to the service.
    await svc.heartbeat({ sessionId: j.session!.sessionId });
    await rejectsWithoutChange([r], () => client(alice).heartbeat({ sessionId: j.session!.sessionId }), { code: Code.NotFound, reason: "SESSION_NOT_FOUND", field: "session_id" });
  });

  it("refuses typing and cursors from anonymous viewers with PERMISSION_DENIED", async () => {
    const r = room("anon-typing");
    const anon = client();
    const j = await anon.join({ room: r });
    const sessionId = j.session!.sessionId;
    await rejectsWithoutChange([r], () => anon.setTyping({ sessionId, room: r, typing: true }), {
      code: Code.PermissionDenied,
      reason: "PERMISSION_DENIED",
      field: "typing",
      message: "typing: anonymous viewers may not type",
    });
    await rejectsWithoutChange([r], () => anon.updateCursor({ sessionId, room: r, position: { x: 1, y: 2 } }), {
      code: Code.PermissionDenied,
      reason: "PERMISSION_DENIED",
      field: "cursor",
      message: "cursor: anonymous viewers may not send cursors",
    });
  });
});

// ---- malformed bodies ----

describe("malformed bodies", () => {
  // None of these reaches the service: the store's stats stay as they were.
  let statsBefore: ReturnType<App["store"]["stats"]>;
  beforeEach(() => {
    statsBefore = server.app.store.stats();
  });
  afterEach(() => {
    expect(server.app.store.stats()).toEqual(statsBefore);
  });

  it("invalid JSON is invalid_argument", async () => {
    const res = await post(METHOD("Join"), "application/json", "{not json");
    expect(res.status).toBe(400);
    const e = connectUnaryError(res.bytes);
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.rawMessage).toMatch(/JoinRequest from JSON/);
    const wrongType = await post(METHOD("Join"), "application/json", '{"room": 5}');
    expect(wrongType.status).toBe(400);
    expect(connectUnaryError(wrongType.bytes).rawMessage).toMatch(/JoinRequest\.room/);
  });

  it("a truncated or garbled binary message is invalid_argument, never internal", async () => {
    for (const body of [new Uint8Array([0x0a, 10, 0x61]), new Uint8Array([0x0a, 0xff]), new Uint8Array([0xff, 0xff, 0xff])]) {
      const res = await post(METHOD("Join"), "application/proto", body);
      expect(res.status).toBe(400);
      expectError(toRpcError(connectUnaryError(res.bytes)), { code: Code.InvalidArgument, reason: "INVALID_ARGUMENT", field: "request" });
      const grpc = await grpcRaw(METHOD("Join"), encodeEnvelope(0, body));
      expect(grpc.grpcStatus).toBe(Code.InvalidArgument);
      expect(grpc.details.errorInfo?.reason).toBe("INVALID_ARGUMENT");
    }
  });

  it("a wrong content type is 415 (Connect) and never reaches the handler", async () => {
    const before = await storeState(server.app, ["x"]);
    for (const ct of ["text/plain", "application/xml", "application/grpc-web-text"]) {
      const res = await post(METHOD("Join"), ct, '{"room":"x"}');
      expect(res.status, ct).toBe(415);
    }
    expect(await storeState(server.app, ["x"])).toEqual(before);
  });

  it("a truncated gRPC / gRPC-Web / Connect-stream envelope is invalid_argument", async () => {
    const truncated = new Uint8Array([0, 0, 0, 0, 10, 0x0a]); // promises 10 bytes, sends 1
    const grpc = await grpcRaw(METHOD("Join"), truncated);
    expect(grpc.grpcStatus).toBe(Code.InvalidArgument);
    expect(grpc.message).toMatch(/incomplete envelope/);
    const grpcHeader = await grpcRaw(METHOD("Join"), new Uint8Array([0, 0, 0])); // not even a header
    expect(grpcHeader.grpcStatus).toBe(Code.InvalidArgument);

    const web = await post(METHOD("Join"), "application/grpc-web+proto", truncated);
    const trailer = envelopes(web.bytes).find((env) => env.flags === trailerFlag);
    expect(findTrailerError(trailerParse(trailer!.data))?.code).toBe(Code.InvalidArgument);

    const stream = await post(METHOD("WatchPresence"), "application/connect+proto", truncated);
    const end = envelopes(stream.bytes).find((env) => env.flags === endStreamFlag);
    expect(endStreamFromJson(end!.data).error?.code).toBe(Code.InvalidArgument);
  });
});

describe("raw helpers", () => {
  it("a valid hand-made binary body works (sanity check of the raw helpers)", async () => {
    const r = room("raw-ok");
    const body = new Uint8Array([0x0a, r.length, ...Buffer.from(r)]);
    const res = await post(METHOD("Join"), "application/proto", body);
    expect(res.status).toBe(200);
    expect(fromBinary(JoinResponseSchema, res.bytes).view?.room).toBe(r);
  });
});

// ---- floods ----

async function counterValue(app: App, kind: "typing" | "cursor"): Promise<number> {
  return (await app.metrics.coalesced.get()).values.find((v) => v.labels["kind"] === kind)?.value ?? 0;
}

describe("floods are coalesced, not refused", () => {
  it("50 cursor updates in a burst all answer OK; the watcher gets a few batches and the last position wins", async () => {
    const r = room("cursor-flood");
    const a = connectClient(server.baseUrl, alice, { httpVersion: "2" }); // one connection: a real burst
    open.push(a);
    const j = await a.join({ room: r });
    const sessionId = j.session!.sessionId;
    const w = watch(r);
    await w.waitFor((m) => m.message.case === "snapshot");
    const coalescedBefore = await counterValue(server.app, "cursor");

    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => a.updateCursor({ sessionId, room: r, position: { x: i, y: 2 * i } })));
    expect(answers).toHaveLength(50);
    const last = await w.waitFor((m) => m.message.case === "cursors" && m.message.value.cursors.some((c) => c.position?.x === 49), { timeoutMs: 3_000 });
    const elapsedMs = Date.now() - t0;

    // At most one batch per flush tick, and far fewer batches than updates.
    const batches = w.messages.filter((m) => m.message.case === "cursors");
    expect(batches.length).toBeLessThanOrEqual(Math.min(10, Math.ceil(elapsedMs / server.config.timings.cursorFlushMs) + 1));
    expect(batches[batches.length - 1]).toBe(last);
    if (last.message.case !== "cursors") throw new Error("unreachable");
    expect(last.message.value.cursors).toEqual([expect.objectContaining({ connectionId: j.session?.connectionId, position: expect.objectContaining({ x: 49, y: 98 }) })]);
    expect(await counterValue(server.app, "cursor")).toBeGreaterThan(coalescedBefore);
    const view = await server.app.store.getView(r, { includeMembers: true });
    expect(view.cursors.map((c) => c.position.x)).toEqual([49]);
  });

  it("a typing burst answers OK every time; watchers see a few changes and the last value wins", async () => {
    const r = room("typing-flood");
    const a = client(alice);
    const j = await a.join({ room: r });
    const sessionId = j.session!.sessionId;
    const w = watch(r);
    await w.waitFor((m) => m.message.case === "snapshot");

    // 30 calls, alternating, ending with typing = true.
    for (let i = 0; i < 30; i++) await a.setTyping({ sessionId, room: r, typing: i % 2 === 1 ? false : true });
    await a.setTyping({ sessionId, room: r, typing: true });
    const typingStates = () => w.messages.flatMap((m) => (m.message.case === "typing" ? [m.message.value.state!.typing] : []));
    await w.waitFor((m) => m.message.case === "typing" && m.message.value.state?.typing === true, { from: w.messages.findIndex((m) => m.message.case === "typing" && m.message.value.state?.typing === false) + 1, timeoutMs: 3_000 });
    // Only changes are broadcast (so the states alternate), the excess is merged, the last value wins.
    const states = typingStates();
    expect(states.slice(0, 2)).toEqual([true, false]);
    expect(states[states.length - 1]).toBe(true);
    expect(states.length).toBeLessThanOrEqual(5);
    expect(states.every((v, i) => i === 0 || v !== states[i - 1])).toBe(true);
    expect(await counterValue(server.app, "typing")).toBeGreaterThan(0);
    const view = await server.app.store.getView(r, { includeMembers: true });
    expect(view.typing.map((t) => t.userId)).toEqual(["alice"]);
  });
});
