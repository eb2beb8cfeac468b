import * as grpc from "@grpc/grpc-js";
import { createClient, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcWebTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import * as http2 from "node:http2";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { loadConfig } from "../../src/config.js";
import { kRawRequest, type RawRequest } from "../../src/transport/connect/context.js";
import { createGrpcFastPath } from "../../src/transport/connect/grpc-fast-path.js";
import { createOnePortServer, type OnePortHandler, type OnePortServer, type OnePortServerOptions } from "../../src/transport/http/one-port-server.js";
import { grpcJsServiceClient } from "../support/clients.js";

/**
 * HTTP/2 streams taken before Node's compat layer (`onStream`, the gRPC fast path's entry): they
 * make no Http2ServerRequest/Response and never reach the request handler, yet keep the port's
 * limits; the streams left reach the handler exactly as before. The whole gRPC suite (grpc-js,
 * grpcio, buf curl, fault tests) runs through this path in the app; these cases pin the hand-over.
 */
const HOST = "127.0.0.1";
const HTTP_DEFAULTS = loadConfig({}).http;

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function start(options: Partial<OnePortServerOptions> & Pick<OnePortServerOptions, "handler">): Promise<{ server: OnePortServer; port: number }> {
  const server = createOnePortServer({ ...HTTP_DEFAULTS, ...options });
  const { port } = await server.listen(0, HOST);
  cleanups.push(() => server.close(100));
  return { server, port };
}

function h2Connect(port: number): http2.ClientHttp2Session {
  const client = http2.connect(`http://${HOST}:${port}`);
  client.on("error", () => {});
  cleanups.push(() => void client.destroy());
  return client;
}

/** A Health service on the fast path and on connect-node (the app's layout, without the app's interceptors). */
async function startHealth() {
  const raws: RawRequest[] = [];
  const handled: string[] = [];
  const contextValues = (req: RawRequest) => {
    raws.push(req);
    return createContextValues().set(kRawRequest, req);
  };
  const fast = createGrpcFastPath({ interceptors: [], readMaxBytes: 65_536, contextValues });
  const adapter = connectNodeAdapter({
    routes: (router) => fast.record(router).service(Health, { check: () => ({ status: Status.SERVING }), list: () => ({ statuses: {} }), watch: async function* () {} }),
    contextValues,
  });
  const handler: OnePortHandler = (req, res) => {
    handled.push(`${String(req.headers["content-type"])} ${req.url ?? ""} ${req instanceof http2.Http2ServerRequest ? "compat" : "h1"}`);
    adapter(req, res);
  };
  const { port } = await start({ handler, onStream: (stream, headers) => fast.handleStream(stream, headers) });
  return { port, raws, handled };
}

describe("one-port server: HTTP/2 streams taken before the compat layer", () => {
  it("serves a gRPC call from the raw stream: no compat request, the handler is not called, the raw request carries the peer and the headers", async () => {
    const { port, raws, handled } = await startHealth();
    const client = grpcJsServiceClient(Health, `http://${HOST}:${port}`);
    cleanups.push(() => client.close());
    const md = new grpc.Metadata();
    md.set("x-forwarded-for", "203.0.113.9");
    const res = await new Promise<{ status: number }>((resolve, reject) => client["check"]!({ service: "" }, md, (e: Error | null, r: { status: number }) => (e ? reject(e) : resolve(r))));
    expect(res.status).toBe(Status.SERVING);
    expect(handled).toEqual([]);
    expect(raws).toHaveLength(1);
    const raw = raws[0]!;
    expect(raw instanceof http2.Http2ServerRequest).toBe(false);
    expect("stream" in raw && typeof raw.stream.respond === "function").toBe(true); // a ServerHttp2Stream
    expect(raw.socket?.remoteAddress).toBe(HOST);
    expect(raw.socket?.remotePort).toBeGreaterThan(0);
    expect(raw.headers["x-forwarded-for"]).toBe("203.0.113.9");
    expect(raw.headers["content-type"]).toBe("application/grpc");
  });

  it("hands the other protocols, and gRPC to paths it does not serve, to the handler with compat objects (same port, same connection)", async () => {
    const { port, raws, handled } = await startHealth();
    const web = createClient(Health, createGrpcWebTransport({ baseUrl: `http://${HOST}:${port}`, httpVersion: "2" }));
    expect((await web.check(create(HealthCheckRequestSchema, {}))).status).toBe(Status.SERVING);
    const session = h2Connect(port);
    const unknown = session.request({ ":method": "POST", ":path": "/no.Such/Method", "content-type": "application/grpc" });
    unknown.end();
    const [headers] = (await once(unknown, "response")) as [http2.IncomingHttpHeaders];
    unknown.resume();
    await once(unknown, "close");
    expect(handled).toEqual(["application/grpc-web+proto /grpc.health.v1.Health/Check compat", "application/grpc /no.Such/Method compat"]);
    // connect-node answers the unknown path (its own gRPC handling for what the fast path leaves)
    expect(headers[":status"]).toBeDefined();
    expect(raws.filter((r) => r instanceof http2.Http2ServerRequest)).toHaveLength(1);
  });

  it("a gRPC call refused before its body is read (unsupported grpc-encoding) discards the rest of a large body, so the stream closes", async () => {
    const { port, handled } = await startHealth();
    const session = h2Connect(port);
    const req = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", "grpc-encoding": "br", te: "trailers" });
    let trailers: http2.IncomingHttpHeaders = {};
    req.on("trailers", (t) => (trailers = t));
    req.resume();
    const closed = new Promise((r) => req.once("close", r));
    req.end(Buffer.alloc(300_000)); // far beyond the stream's 64 KiB flow-control window
    await closed;
    expect(trailers["grpc-status"]).toBe("12"); // UNIMPLEMENTED
    expect(String(trailers["grpc-message"])).toContain("grpc-encoding");
    expect(handled).toEqual([]);
  });

  it("applies the request-body timeout to streams it takes, except on streaming paths; their first stream ends the half-open state", async () => {
    const taken: http2.ServerHttp2Stream[] = [];
    const { server, port } = await start({
      handler: () => {
        throw new Error("no stream should reach the handler");
      },
      onStream: (stream) => {
        taken.push(stream);
        return true;
      },
      requestTimeoutMs: 300,
      headersTimeoutMs: 300,
      streamingRequestPaths: new Set(["/streaming"]),
    });
    const session = h2Connect(port);
    const slow = session.request({ ":method": "POST", ":path": "/slow" });
    slow.write("part of a body"); // never ended
    const bidi = session.request({ ":method": "POST", ":path": "/streaming" });
    bidi.write("first message");
    const t0 = Date.now();
    await once(slow, "close");
    expect(slow.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(taken.map((s) => s.id)).toHaveLength(2);
    expect(server.halfOpen()).toBe(0);
    await new Promise((r) => setTimeout(r, 600)); // twice the timeout: the streaming path stays open
    expect(bidi.closed).toBe(false);
    bidi.close();
  });

  it("a client that ends its connection with an error GOAWAY while a taken stream is open does not crash the server (the stream's error is swallowed, as compat did)", async () => {
    const taken: http2.ServerHttp2Stream[] = [];
    const { port } = await start({
      handler: (_req, res) => res.end("ok"),
      onStream: (stream, headers) => {
        if (headers[":path"] !== "/held") return false;
        taken.push(stream);
        stream.respond({ ":status": 200 }); // a watch-like response that stays open
        stream.write("first");
        return true;
      },
    });
    const session = h2Connect(port);
    const held = session.request({ ":method": "POST", ":path": "/held" });
    held.on("error", () => {});
    await once(held, "response");
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on("uncaughtException", onError);
    cleanups.push(() => void process.off("uncaughtException", onError));
    session.goaway(http2.constants.NGHTTP2_CANCEL); // the server destroys its session with an error
    await new Promise((r) => taken[0]!.once("close", r)); // (events.once would reject on the stream's 'error')
    await new Promise((r) => setTimeout(r, 50));
    expect(errors).toEqual([]);
    const again = h2Connect(port).request({ ":path": "/other" });
    again.resume();
    const [headers] = (await once(again, "response")) as [http2.IncomingHttpHeaders];
    expect(headers[":status"]).toBe(200);
  });

  it("closes an HTTP/2 connection idle for idleTimeoutMs (GOAWAY), never while a stream is open, taken or not", async () => {
    const { port } = await start({
      handler: (_req, res) => res.end("ok"),
      onStream: (stream, headers) => {
        if (headers[":path"] !== "/held") return false;
        stream.respond({ ":status": 200 });
        stream.on("data", () => {});
        stream.once("end", () => stream.end("bye")); // open until the client ends its side
        return true;
      },
      idleTimeoutMs: 300,
    });
    const session = h2Connect(port);
    let goaway = 0;
    session.on("goaway", () => goaway++);
    const held = session.request({ ":method": "POST", ":path": "/held" });
    held.resume();
    await once(held, "response");
    const plain = session.request({ ":path": "/plain" });
    plain.resume();
    await new Promise((r) => plain.once("close", r));
    await new Promise((r) => setTimeout(r, 700)); // over twice the idle timeout, one stream open
    expect(goaway).toBe(0);
    const t0 = Date.now();
    held.end();
    await new Promise((r) => held.once("close", r));
    await once(session, "goaway");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it("ends taken streams with the session on close(): GOAWAY, the stream in flight may finish", async () => {
    let respond: (() => void) | undefined;
    const { server, port } = await start({
      handler: () => {},
      onStream: (stream) => {
        stream.on("data", () => {});
        stream.once("end", () => (respond = () => stream.respond({ ":status": 200 }, { endStream: true })));
        return true;
      },
    });
    const session = h2Connect(port);
    const req = session.request({ ":method": "POST", ":path": "/x" });
    req.end("body");
    await new Promise<void>((r) => {
      const poll = () => (respond ? r() : setTimeout(poll, 10));
      poll();
    });
    const goaway = once(session, "goaway");
    const closed = server.close(5_000);
    await goaway;
    respond!();
    const [headers] = (await once(req, "response")) as [http2.IncomingHttpHeaders];
    expect(headers[":status"]).toBe(200);
    await closed;
    expect(server.connections()).toBe(0);
  });
});
