import { create } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPresenceClient, type PresenceClient as SdkClient } from "@presence-platform/client";
import { JoinRequestSchema, PresenceService, type WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import { ROOT, startNode, type NodeProcess } from "../support/node-process.js";
import { freePort, makeTempDir, spawnTracked, terminate } from "../support/processes.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * deploy/nginx/presence.conf, the README's TLS example, run as written in front of a real node:
 * only its upstream addresses, listen address and certificate paths are replaced (a certificate
 * made with openssl for 127.0.0.1). Through it, over TLS: a gRPC WatchPresence stream (HTTP/2,
 * grpc_pass to the node's h2c port) sees a Join made with Connect over HTTP/1.1 and one made by
 * the SDK over `wss://…/ws`, and a gRPC-Web call reads the room. nginx is Debian's
 * (scripts/ensure-system-deps.sh installs it; NGINX_BIN=<path> runs another binary).
 */
const NGINX = process.env.NGINX_BIN ?? "/usr/sbin/nginx";
const ROOM = "/proxied/doc";
let dir = "";
let node: NodeProcess;
let nginx: ReturnType<typeof spawnTracked> | undefined;
let base = "";
let ca = "";
const sdkClients: SdkClient[] = [];

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

/** The example with this test's addresses; everything else as written. */
function renderExample(rpcPort: number, wsPort: number, listen: string): string {
  const text = readFileSync(join(ROOT, "deploy", "nginx", "presence.conf"), "utf8");
  const replaced = text
    .replace("server 127.0.0.1:8080;", `server 127.0.0.1:${rpcPort};`)
    .replace("server 127.0.0.1:8081;", `server 127.0.0.1:${wsPort};`)
    .replace("listen 443 ssl http2;", `listen ${listen} ssl http2;`)
    .replace("/etc/ssl/presence/fullchain.pem", join(dir, "cert.pem"))
    .replace("/etc/ssl/presence/privkey.pem", join(dir, "key.pem"));
  const directives = replaced.replace(/#.*$/gm, "");
  for (const gone of ["8080;", "8081;", "listen 443", "/etc/ssl/presence/"]) expect(directives, `the example changed: ${gone} not replaced`).not.toContain(gone);
  return replaced;
}

beforeAll(async () => {
  expect(existsSync(NGINX), `${NGINX} is missing: scripts/ensure-system-deps.sh installs Debian's nginx`).toBe(true);
  dir = await makeTempDir("presence-nginx-");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  ca = readFileSync(join(dir, "cert.pem"), "utf8");
  node = await startNode({ PRESENCE_TRUSTED_PROXIES: "loopback" });
  const port = await freePort();
  base = `https://127.0.0.1:${port}`;
  const rpcPort = Number(new URL(node.rpcUrl).port);
  const wsPort = Number(new URL(node.wsUrl.replace(/^ws/, "http")).port);
  // A main configuration around the example (which holds http-context blocks only, as conf.d files do).
  writeFileSync(
    join(dir, "nginx.conf"),
    [
      "daemon off;",
      "master_process off;",
      `pid ${join(dir, "nginx.pid")};`,
      "error_log stderr warn;",
      "events { worker_connections 256; }",
      "http {",
      "  access_log off;",
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
      renderExample(rpcPort, wsPort, `127.0.0.1:${port}`),
      "}",
    ].join("\n"),
  );
  nginx = spawnTracked(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf")]);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/`).then(() => true, (e: Error) => !/ECONNREFUSED/.test(String(e.cause ?? e)));
    if (up) break;
    if (Date.now() > deadline || nginx.child.exitCode !== null) throw new Error(`nginx did not start:\n${nginx.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(sdkClients.splice(0).map((c) => c.close()));
  if (nginx) await terminate(nginx, "SIGQUIT");
  await node?.stop();
});

describe("TLS reverse proxy (deploy/nginx/presence.conf)", () => {
  it("carries a gRPC watch stream, Connect, gRPC-Web and the WebSocket bridge over TLS", async () => {
    const [ana, bob, viewer] = await Promise.all(["ana", "bob", "viewer"].map((sub) => signTestToken(TEST_SECRET, { sub, name: sub[0]!.toUpperCase() + sub.slice(1) })));
    const grpc = createClient(PresenceService, createGrpcTransport({ baseUrl: base, nodeOptions: { ca }, interceptors: [bearer(viewer!)] }));
    const connect = createClient(PresenceService, createConnectTransport({ baseUrl: base, httpVersion: "1.1", nodeOptions: { ca }, interceptors: [bearer(ana!)] }));
    const grpcWeb = createClient(PresenceService, createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1", nodeOptions: { ca }, interceptors: [bearer(viewer!)] }));

    // A gRPC server stream through grpc_pass: snapshot first, then the joins.
    const stop = new AbortController();
    const seen = new Set<string>();
    const messages: WatchPresenceResponse[] = [];
    const watching = (async () => {
      for await (const m of grpc.watchPresence({ room: ROOM }, { signal: stop.signal })) {
        messages.push(m);
        if (m.message.case === "event" && m.message.value.kind.case === "joined") seen.add(m.message.value.kind.value.user?.userId ?? "");
      }
    })().catch((e: unknown) => {
      if (!stop.signal.aborted) throw e;
    });
    const until = async (what: string, pred: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; watch got ${messages.map((m) => m.message.case).join(", ")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until("the snapshot", () => messages.some((m) => m.message.case === "snapshot"));

    // Connect over HTTP/1.1 (proxy_pass).
    const joined = await connect.join(create(JoinRequestSchema, { room: ROOM, metadata: { via: "connect" } }));
    expect(joined.session?.sessionId).toBeTruthy();
    await until("Ana's join over Connect", () => seen.has("ana"));

    // The SDK over wss:// (the WebSocket upgrade through the proxy, token in the subprotocol).
    class TlsWebSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols, { ca });
      }
    }
    const sdk = createPresenceClient({ url: `${base.replace(/^https/, "wss")}/ws`, token: bob!, webSocket: TlsWebSocket as unknown as typeof globalThis.WebSocket, visibility: false });
    sdkClients.push(sdk);
    const room = sdk.join(ROOM);
    await until("Bob's join over the WebSocket", () => seen.has("bob"));
    await until("the SDK's view with both", () => room.users.map((u) => u.userId).sort().join() === "ana,bob");

    // gRPC-Web over HTTP/1.1 (proxy_pass).
    const read = await grpcWeb.getPresence({ room: ROOM });
    expect(read.view?.users.map((u) => u.user?.userId).sort()).toEqual(["ana", "bob"]);

    stop.abort();
    await watching;
    expect(nginx!.output()).not.toMatch(/\[(emerg|alert|crit)\]/);
  });
});
