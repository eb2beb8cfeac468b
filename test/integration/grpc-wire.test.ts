import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { GetPresenceRequestSchema, GetPresenceResponseSchema, WatchPresenceRequestSchema } from "../../gen/presence/v1/presence_pb.js";
import { createLogger } from "../../src/logger.js";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * The gRPC wire of the fast path on a real server, from a bare HTTP/2 client (so that what is
 * checked is the server's doing, not a client library's): `grpc-timeout` deadlines enforced by the
 * server, a malformed one refused, gzip-compressed requests, request ids echoed (headers on
 * success, trailers on errors) and logged, metrics with protocol="grpc". These calls reach the
 * fast path from the HTTP/2 server's stream event, without Node's compat layer.
 */
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start() {
  const lines: string[] = [];
  server = await startTestServer({ PRESENCE_LOG_LEVEL: "debug" }, { logger: createLogger("debug", (l) => lines.push(l)) });
  return { s: server, logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

interface RawAnswer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  messages: Buffer[];
  ms: number;
}

/** One gRPC call over a bare HTTP/2 stream: request message enveloped (gzip'd when asked), answer envelopes and trailers. */
async function rawCall(s: TestServer, method: string, message: Uint8Array, headers: Record<string, string> = {}, o: { gzip?: boolean } = {}): Promise<RawAnswer> {
  const session = http2.connect(s.baseUrl);
  session.on("error", () => {});
  try {
    const body = o.gzip ? gzipSync(message) : Buffer.from(message);
    const head = Buffer.alloc(5);
    head[0] = o.gzip ? 1 : 0;
    head.writeUInt32BE(body.length, 1);
    const t0 = Date.now();
    const req = session.request({
      ":method": "POST",
      ":path": `/presence.v1.PresenceService/${method}`,
      "content-type": "application/grpc",
      te: "trailers",
      ...(o.gzip ? { "grpc-encoding": "gzip" } : {}),
      ...headers,
    });
    const chunks: Buffer[] = [];
    let answerHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.on("response", (h) => (answerHeaders = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.end(Buffer.concat([head, body]));
    await new Promise((r) => req.once("close", r));
    const all = Buffer.concat(chunks);
    const messages: Buffer[] = [];
    for (let at = 0; at + 5 <= all.length; ) {
      const n = all.readUInt32BE(at + 1);
      messages.push(all.subarray(at + 5, at + 5 + n));
      at += 5 + n;
    }
    return { headers: answerHeaders, trailers, messages, ms: Date.now() - t0 };
  } finally {
    session.close();
  }
}

const count = async (s: TestServer, series: string) => {
  const line = (await s.app.metrics.registry.metrics()).split("\n").find((l) => l.startsWith(series));
  return Number(line?.split(" ").pop() ?? 0);
};

describe("gRPC wire on the fast path", () => {
  it("enforces grpc-timeout on the server: a watch stream ends with DEADLINE_EXCEEDED, counted with protocol=grpc", async () => {
    const { s } = await start();
    const series = 'presence_stream_duration_seconds_count{method="WatchPresence",code="DeadlineExceeded",protocol="grpc"}';
    const before = await count(s, series);
    const a = await rawCall(s, "WatchPresence", toBinary(WatchPresenceRequestSchema, create(WatchPresenceRequestSchema, { room: "/wire/deadline" })), { "grpc-timeout": "400m" });
    expect(a.headers[":status"]).toBe(200);
    expect(a.messages.length).toBeGreaterThanOrEqual(1); // the snapshot came before the deadline
    expect(a.trailers["grpc-status"]).toBe("4");
    expect(decodeURIComponent(String(a.trailers["grpc-message"]))).toContain("grpc-timeout");
    expect(a.ms).toBeGreaterThanOrEqual(350);
    expect(await count(s, series)).toBe(before + 1);
  });

  it("refuses a malformed grpc-timeout with a status naming the header", async () => {
    const { s } = await start();
    const a = await rawCall(s, "GetPresence", toBinary(GetPresenceRequestSchema, create(GetPresenceRequestSchema, { room: "/wire/t" })), { "grpc-timeout": "soon" });
    expect(a.trailers["grpc-status"]).not.toBe("0");
    expect(a.trailers["grpc-status"]).toBeDefined();
    expect(decodeURIComponent(String(a.trailers["grpc-message"]))).toMatch(/timeout/i);
    expect(a.messages).toEqual([]);
  });

  it("serves a gzip-compressed request (grpc-encoding: gzip)", async () => {
    const { s } = await start();
    const a = await rawCall(s, "GetPresence", toBinary(GetPresenceRequestSchema, create(GetPresenceRequestSchema, { room: "/wire/gzip" })), {}, { gzip: true });
    expect(a.trailers["grpc-status"]).toBe("0");
    expect(a.messages).toHaveLength(1);
    expect(fromBinary(GetPresenceResponseSchema, a.messages[0]!).view?.room).toBe("/wire/gzip");
  });

  it("echoes x-request-id (headers on success, trailers with the error), replaces a malformed one, and logs the failure with it", async () => {
    const { s, logs } = await start();
    const ok = await rawCall(s, "GetPresence", toBinary(GetPresenceRequestSchema, create(GetPresenceRequestSchema, { room: "/wire/ids" })), { "x-request-id": "grpc-req-7" });
    expect(ok.trailers["grpc-status"]).toBe("0");
    expect(ok.headers["x-request-id"]).toBe("grpc-req-7");
    const made = await rawCall(s, "GetPresence", toBinary(GetPresenceRequestSchema, create(GetPresenceRequestSchema, { room: "/wire/ids" })), { "x-request-id": "has spaces" });
    expect(made.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await rawCall(s, "GetPresence", toBinary(GetPresenceRequestSchema, create(GetPresenceRequestSchema, { room: "/wire/bad\u0001" })), { "x-request-id": "grpc-bad-1" });
    expect(bad.trailers["grpc-status"]).toBe("3"); // INVALID_ARGUMENT
    expect(bad.trailers["x-request-id"]).toBe("grpc-bad-1");
    expect(bad.trailers["grpc-status-details-bin"]).toBeDefined();
    expect(logs().find((l) => l.reqId === "grpc-bad-1" && l.msg === "rpc failed")).toMatchObject({ level: "debug", method: "GetPresence", code: "InvalidArgument" });
    expect(await count(s, 'presence_rpc_duration_seconds_count{method="GetPresence",code="OK",protocol="grpc"}')).toBe(2);
  });
});
