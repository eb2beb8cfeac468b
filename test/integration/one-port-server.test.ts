import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { loadConfig } from "../../src/config.js";
import { createOnePortServer } from "../../src/transport/http/one-port-server.js";
import type { OnePortHandler, OnePortServer, OnePortServerOptions } from "../../src/transport/http/one-port-server.js";

const HOST = "127.0.0.1";
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
/** The server's defaults (src/config/server-spec.ts); each test overrides what it shrinks. */
const HTTP_DEFAULTS = loadConfig({}).http;

const echo: OnePortHandler = (req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ httpVersion: req.httpVersion, url: req.url }));
};

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function start(options: Partial<OnePortServerOptions> = {}): Promise<{ server: OnePortServer; port: number }> {
  const server = createOnePortServer({ ...HTTP_DEFAULTS, handler: echo, ...options });
  const { port } = await server.listen(0, HOST);
  cleanups.push(() => server.close(100));
  return { server, port };
}

function h1Get(port: number, path: string, agent?: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, path, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function h2Connect(port: number): http2.ClientHttp2Session {
  const client = http2.connect(`http://${HOST}:${port}`);
  client.on("error", () => {});
  cleanups.push(() => void client.destroy());
  return client;
}

function h2Get(client: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = client.request({ ":path": path });
    let status = 0;
    let body = "";
    req.setEncoding("utf8");
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", (c: string) => (body += c));
    req.on("end", () => resolve({ status, body }));
    req.on("error", reject);
    req.end();
  });
}

/** A TCP proxy that forwards the first client chunk in pieces (cut at `cuts`), `delayMs` apart. */
async function startSplittingProxy(targetPort: number, cuts: number[], delayMs = 40): Promise<number> {
  const open = new Set<net.Socket>();
  const proxy = net.createServer((down) => {
    const up = net.connect(targetPort, HOST);
    open.add(down).add(up);
    down.once("close", () => open.delete(down));
    up.once("close", () => open.delete(up));
    down.on("error", () => up.destroy());
    up.on("error", () => down.destroy());
    up.on("close", () => down.destroy());
    down.on("close", () => up.destroy());
    up.on("data", (c: Buffer) => down.write(c));
    let first = true;
    down.on("data", async (chunk: Buffer) => {
      if (!first) return void up.write(chunk);
      first = false;
      down.pause();
      let from = 0;
      for (const cut of [...cuts, chunk.length]) {
        up.write(chunk.subarray(from, cut));
        from = cut;
        await new Promise((r) => setTimeout(r, delayMs));
      }
      down.resume();
    });
  });
  await new Promise<void>((r) => proxy.listen(0, HOST, r));
  cleanups.push(() => {
    for (const s of open) s.destroy();
    return new Promise((r) => proxy.close(r));
  });
  return (proxy.address() as net.AddressInfo).port;
}

function rawConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => resolve(socket));
    socket.on("error", reject);
    cleanups.push(() => void socket.destroy());
  });
}

async function closedWithin(socket: net.Socket, ms: number): Promise<number> {
  const t0 = Date.now();
  if (!socket.destroyed) {
    socket.resume();
    await Promise.race([
      once(socket, "close"),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms)),
    ]);
  }
  return Date.now() - t0;
}

async function eventually(condition: () => boolean, ms = 1000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("one-port server: protocol selection", () => {
  it("serves HTTP/1.1", async () => {
    const { port } = await start();
    const res = await h1Get(port, "/a");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ httpVersion: "1.1", url: "/a" });
  });

  it("serves h2c with prior knowledge, several requests on one session", async () => {
    const { port, server } = await start();
    const client = h2Connect(port);
    for (const path of ["/b", "/c"]) {
      const res = await h2Get(client, path);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ httpVersion: "2.0", url: path });
    }
    expect(server.connections()).toBe(1);
  });

  it("still picks HTTP/2 when the preface arrives as \"P\", \"R\", then the rest", async () => {
    const { port } = await start();
    const proxyPort = await startSplittingProxy(port, [1, 2]);
    const client = h2Connect(proxyPort);
    const res = await h2Get(client, "/split");
    expect(JSON.parse(res.body)).toEqual({ httpVersion: "2.0", url: "/split" });
  });

  it("still picks HTTP/1.1 when the request line arrives as \"GE\" then the rest", async () => {
    const { port } = await start();
    const proxyPort = await startSplittingProxy(port, [2]);
    const res = await h1Get(proxyPort, "/split", new http.Agent({ keepAlive: false }));
    expect(JSON.parse(res.body)).toEqual({ httpVersion: "1.1", url: "/split" });
  });

  it("works with connect-node's adapter as the handler on both protocols", async () => {
    const handler: OnePortHandler = connectNodeAdapter({ routes: () => {} });
    const { port } = await start({ handler });
    expect((await h1Get(port, "/no.Such/Method")).status).toBe(404);
    expect((await h2Get(h2Connect(port), "/no.Such/Method")).status).toBe(404);
  });
});

describe("one-port server: timeouts", () => {
  it("destroys a socket that sends nothing within sniffTimeoutMs", async () => {
    const { port, server } = await start({ sniffTimeoutMs: 150 });
    const socket = await rawConnect(port);
    const elapsed = await closedWithin(socket, 3000);
    expect(elapsed).toBeGreaterThanOrEqual(100);
    await eventually(() => server.connections() === 0);
  });

  it("destroys a socket that sends 2 bytes and stops", async () => {
    const { port } = await start({ sniffTimeoutMs: 150 });
    const socket = await rawConnect(port);
    socket.write("PR");
    await closedWithin(socket, 3000);
  });

  it("applies HTTP/1.1 header timeouts to sniffed sockets", async () => {
    const { port } = await start({ headersTimeoutMs: 200, requestTimeoutMs: 400, timeoutCheckIntervalMs: 50 });
    const socket = await rawConnect(port);
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (received += c));
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n"); // headers never complete
    await closedWithin(socket, 3000);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("destroys an HTTP/2 session that does not acknowledge pings", async () => {
    const { port, server } = await start({ pingIntervalMs: 100, pingTimeoutMs: 100 });
    const socket = await rawConnect(port);
    socket.write(Buffer.concat([H2_PREFACE, EMPTY_SETTINGS])); // then never answers anything
    const elapsed = await closedWithin(socket, 3000);
    expect(elapsed).toBeGreaterThanOrEqual(150);
    await eventually(() => server.connections() === 0);
  });

  it("keeps an HTTP/2 session that acknowledges pings", async () => {
    const { port, server } = await start({ pingIntervalMs: 100, pingTimeoutMs: 100 });
    const client = h2Connect(port);
    await h2Get(client, "/");
    let pings = 0;
    client.on("ping", () => pings++);
    await new Promise((r) => setTimeout(r, 700));
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(client.closed || client.destroyed).toBe(false);
    expect((await h2Get(client, "/later")).status).toBe(200);
    expect(server.connections()).toBe(1);
  });
});

describe("one-port server: close()", () => {
  it("sends GOAWAY to an open HTTP/2 session and resolves", async () => {
    const { port, server } = await start();
    const client = h2Connect(port);
    await h2Get(client, "/");
    const goaway = once(client, "goaway");
    const t0 = Date.now();
    await server.close(5000);
    const [errorCode] = (await goaway) as [number];
    expect(errorCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(server.connections()).toBe(0);
  });

  it("ends idle keep-alive HTTP/1.1 sockets at once and refuses new connections", async () => {
    const { port, server } = await start({ keepAliveTimeoutMs: 60_000 });
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    await h1Get(port, "/", agent);
    expect(server.connections()).toBe(1);
    const t0 = Date.now();
    await server.close(5000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(server.connections()).toBe(0);
    await expect(h1Get(port, "/")).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("lets an HTTP/1.1 response in flight finish, then closes its socket", async () => {
    let started!: () => void;
    const inHandler = new Promise<void>((r) => (started = r));
    const { port, server } = await start({
      handler: (_req, res) => {
        const out = res as http.ServerResponse;
        out.writeHead(200);
        out.write("part1;");
        started();
        setTimeout(() => out.end("part2"), 200);
      },
    });
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const response = h1Get(port, "/", agent);
    await inHandler;
    const t0 = Date.now();
    await server.close(5000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await response).body).toBe("part1;part2");
  });

  it("answers a request still being handled with Connection: close, then closes its socket", async () => {
    let started!: () => void;
    const inHandler = new Promise<void>((r) => (started = r));
    const { port, server } = await start({
      handler: (_req, res) => {
        started();
        setTimeout(() => res.end("late"), 200);
      },
    });
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const response = h1Get(port, "/", agent);
    await inHandler;
    const t0 = Date.now();
    await server.close(5000);
    expect(Date.now() - t0).toBeLessThan(2000);
    const { headers, body } = await response;
    expect([headers.connection, body]).toEqual(["close", "late"]);
  });

  it("destroys sockets with pending requests at the deadline, on both protocols", async () => {
    let arrived = 0;
    let bothArrived!: () => void;
    const arrivals = new Promise<void>((r) => (bothArrived = r));
    const { port, server } = await start({
      handler: () => {
        if (++arrived === 2) bothArrived(); // and never answer
      },
    });

    const h1Failed = h1Get(port, "/hang").then(
      () => "answered",
      (e: NodeJS.ErrnoException) => e.code ?? e.message,
    );
    const client = h2Connect(port);
    const stream = client.request({ ":path": "/hang" });
    stream.on("error", () => {});
    const h2Closed = once(stream, "close");
    stream.end();
    await arrivals;
    expect(server.connections()).toBe(2);

    const t0 = Date.now();
    await server.close(300);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2000);
    expect(await h1Failed).toBe("ECONNRESET");
    await h2Closed;
    expect(stream.rstCode).not.toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(server.connections()).toBe(0);
  });

  it("is idempotent, and resolves for a server that never listened", async () => {
    const { server } = await start();
    const a = server.close(100);
    expect(server.close(100)).toBe(a);
    await a;
    await createOnePortServer({ ...HTTP_DEFAULTS, handler: echo }).close(100);
  });
});

describe("withDrainOnClose (applied by the server)", () => {
  it("wakes a writer blocked on flow control when the client resets the stream", async () => {
    let blocked!: () => void;
    const isBlocked = new Promise<void>((r) => (blocked = r));
    let settled!: (how: string) => void;
    const writerSettled = new Promise<string>((r) => (settled = r));
    const chunk = Buffer.alloc(200, 1); // small, uncompressed: the case where Node never settles
    const { port } = await start({
      handler: (_req, res) => {
        const out = res as http2.Http2ServerResponse;
        out.writeHead(200);
        void (async () => {
          for (;;) {
            if (out.write(chunk)) continue;
            // Like connect-node's writer: wait for 'drain' or 'error', nothing else.
            const t0 = Date.now();
            const timer = setTimeout(blocked, 150); // no drain for 150 ms: the window is full
            const how = await new Promise<string>((resolve) => {
              out.once("drain", () => resolve("drain"));
              out.once("error", () => resolve("error"));
            });
            clearTimeout(timer);
            if (Date.now() - t0 >= 150) return settled(how);
          }
        })();
      },
    });
    const client = h2Connect(port);
    const stream = client.request({ ":path": "/flood" });
    stream.on("error", () => {});
    stream.pause(); // never read
    stream.end();
    await isBlocked;
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const how = await Promise.race([writerSettled, new Promise((r) => setTimeout(() => r("stuck"), 2000))]);
    expect(how).toBe("drain");
  });
});
