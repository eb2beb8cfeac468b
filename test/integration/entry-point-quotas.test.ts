import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { HistoryService } from "../../gen/presence/v1/history_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";

/**
 * Every entry point of a server is admitted like a Connect call (issue 13 gap 1): the history
 * export route on the RPC port, WebSocket upgrades, the plain GETs on the bridge's port (the demo
 * page and its token route) and gRPC reflection are charged to the caller's `requests_per_second`
 * quota, in the same bucket as its RPCs, and refused past it with the documented code
 * (QUOTA_EXCEEDED, HTTP 429, naming the quota); another caller is not affected. Health checks are
 * the one exception, by design (interceptors.ts: a probe is never refused by the traffic it
 * measures). Quotas are shrunk to a burst of 3 and 1 call per second, so the 4th call in a burst
 * is refused.
 */
const BURST = 3;
const QUOTA_ENV = {
  PRESENCE_QUOTA_REQUESTS_PER_SEC: "1",
  PRESENCE_QUOTA_REQUEST_BURST: String(BURST),
  PRESENCE_ANON_QUOTA_REQUESTS_PER_SEC: "1",
  PRESENCE_ANON_QUOTA_REQUEST_BURST: String(BURST),
  // The test client is the trusted proxy: X-Forwarded-For names the anonymous callers.
  PRESENCE_TRUSTED_PROXIES: "127.0.0.1",
};
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
let demoDir = "";
beforeAll(async () => {
  demoDir = await mkdtemp(join(tmpdir(), "presence-quota-demo-"));
  await writeFile(join(demoDir, "index.html"), "<!doctype html><title>demo</title>");
  await writeFile(join(demoDir, "app.js"), "console.log('demo')");
});
afterAll(() => rm(demoDir, { recursive: true, force: true }));

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  const s = await startTestServer({ ...QUOTA_ENV, ...env });
  servers.push(s);
  return s;
}

const headers = (token?: string, forwardedFor?: string): Record<string, string> => ({
  ...(token ? { authorization: `Bearer ${token}` } : {}),
  ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
});

async function exportStatus(s: TestServer, token?: string, forwardedFor?: string): Promise<{ status: number; reason: string; field?: string; message: string }> {
  const res = await fetch(`${s.baseUrl}/v1/history/export?room=/r`, { headers: headers(token, forwardedFor) });
  const body = (await res.json()) as { reason: string; field?: string; message: string };
  return { status: res.status, reason: body.reason, field: body.field, message: body.message };
}

async function rpcOutcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    const ce = ConnectError.from(e);
    return `${Code[ce.code]}/${ce.findDetails(ErrorInfoSchema)[0]?.reason ?? ""}`;
  }
}

describe("the history export is admitted like an RPC", () => {
  it("charges the caller's requests_per_second quota, shared with its Connect calls; 429 QUOTA_EXCEEDED past it; other callers unaffected", async () => {
    const s = await server(); // PRESENCE_HISTORY=off: the export answers HISTORY_DISABLED once admitted
    // Auditors of room /r (a capability): admitted, then past the audit check.
    const ana = await signTestToken(TEST_SECRET, { sub: "ana", capability: { "/r": ["audit"] } });
    const bob = await signTestToken(TEST_SECRET, { sub: "bob", capability: { "/r": ["audit"] } });
    const history = createClient(HistoryService, createGrpcTransport({ baseUrl: s.baseUrl }));
    // One RPC and two exports use ana's burst of 3 ...
    expect(await rpcOutcome(history.listActivity({ room: "/r" }, { headers: headers(ana) }))).toBe("FailedPrecondition/HISTORY_DISABLED");
    for (let i = 0; i < BURST - 1; i++) expect((await exportStatus(s, ana)).reason).toBe("HISTORY_DISABLED");
    // ... so the next export and the next RPC are refused, naming the quota and its limit.
    expect(await exportStatus(s, ana)).toMatchObject({ status: 429, reason: "QUOTA_EXCEEDED", field: "requests_per_second", message: expect.stringMatching(/^quota requests_per_second: at most 1 calls per second per user; retry in \d+ ms$/) });
    expect(await rpcOutcome(history.listActivity({ room: "/r" }, { headers: headers(ana) }))).toBe("ResourceExhausted/QUOTA_EXCEEDED");
    // Another user has its own bucket.
    expect((await exportStatus(s, bob)).reason).toBe("HISTORY_DISABLED");
    // A malformed export is admitted (and charged) before it is checked.
    const res = await fetch(`${s.baseUrl}/v1/history/export?format=xml`, { headers: headers(bob) });
    expect([res.status, ((await res.json()) as { field: string }).field]).toEqual([400, "format"]);
    // Refusals are counted by reason like RPC refusals.
    const metrics = await (await fetch(`${s.adminUrl}/metrics`)).text();
    expect(Number(/presence_rejected_requests_total\{reason="QUOTA_EXCEEDED"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
  });

  it("anonymous exports count per client address (X-Forwarded-For from a trusted proxy), like anonymous RPCs", async () => {
    const s = await server();
    const presence = createClient(PresenceService, createGrpcTransport({ baseUrl: s.baseUrl }));
    expect(await rpcOutcome(presence.getPresence({ room: "/r" }, { headers: headers(undefined, "203.0.113.7") }))).toBe("ok");
    for (let i = 0; i < BURST - 1; i++) expect((await exportStatus(s, undefined, "203.0.113.7")).status).not.toBe(429);
    expect(await exportStatus(s, undefined, "203.0.113.7")).toMatchObject({ status: 429, reason: "QUOTA_EXCEEDED" });
    expect(await rpcOutcome(presence.getPresence({ room: "/r" }, { headers: headers(undefined, "203.0.113.7") }))).toBe("ResourceExhausted/QUOTA_EXCEEDED");
    expect((await exportStatus(s, undefined, "203.0.113.8")).status).not.toBe(429);
  });
});

describe("reflection and health on the RPC port", () => {
  it("reflection is charged to the anonymous caller of its address; health checks are never refused", async () => {
    const s = await server({ PRESENCE_REFLECTION: "true" });
    const transport = createGrpcTransport({ baseUrl: s.baseUrl });
    const reflection = createClient(ServerReflection, transport);
    const list = async () => {
      const out: string[] = [];
      async function* one() {
        yield { messageRequest: { case: "listServices" as const, value: "" } };
      }
      for await (const r of reflection.serverReflectionInfo(one())) if (r.messageResponse.case === "listServicesResponse") out.push(...r.messageResponse.value.service.map((x) => x.name));
      return out;
    };
    for (let i = 0; i < BURST; i++) expect(await list()).toContain("presence.v1.PresenceService");
    expect(await rpcOutcome(list())).toBe("ResourceExhausted/QUOTA_EXCEEDED");
    const health = createClient(Health, transport);
    for (let i = 0; i < 3 * BURST; i++) expect((await health.check({})).status).toBeGreaterThan(0);
  });
});

/** The HTTP status of a WebSocket upgrade (101 when it opened). */
function upgradeStatus(url: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ["presence.v1"], { headers: headers(token) });
    ws.on("open", () => {
      ws.close();
      resolve({ status: 101, body: "" });
    });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("error", (e) => reject(e));
  });
}

describe.each(WS_ENGINES)("the WebSocket bridge's port (%s)", (engine) => {
  it("each upgrade is charged to the verified caller's request quota: 429 past it, another user unaffected", async () => {
    const s = await server(engineEnv(engine));
    const ana = await signTestToken(TEST_SECRET, { sub: "ana" });
    const bob = await signTestToken(TEST_SECRET, { sub: "bob" });
    for (let i = 0; i < BURST; i++) expect((await upgradeStatus(s.wsUrl, ana)).status).toBe(101);
    expect(await upgradeStatus(s.wsUrl, ana)).toEqual({ status: 429, body: expect.stringMatching(/^quota requests_per_second: at most 1 calls per second per user; retry in \d+ ms$/) });
    expect((await upgradeStatus(s.wsUrl, bob)).status).toBe(101);
    // The same bucket as the caller's RPCs.
    const presence = createClient(PresenceService, createGrpcTransport({ baseUrl: s.baseUrl }));
    expect(await rpcOutcome(presence.getPresence({ room: "/r" }, { headers: headers(ana) }))).toBe("ResourceExhausted/QUOTA_EXCEEDED");
  });

  it("the demo page and its token route are charged per client address: 429 QUOTA_EXCEEDED (JSON) past the quota", async () => {
    // Development mode (no key): the token route is on.
    const s = await server({ ...engineEnv(engine), PRESENCE_JWT_SECRET: "", PRESENCE_DEMO_DIR: demoDir });
    const http = `http://127.0.0.1:${s.app.wsPort}`;
    expect((await fetch(`${http}/`)).status).toBe(200);
    expect((await fetch(`${http}/app.js`)).status).toBe(200);
    expect((await fetch(`${http}/demo/token?name=Ana`)).status).toBe(200);
    const refused = await fetch(`${http}/demo/token?name=Ana`);
    expect([refused.status, await refused.json()]).toEqual([429, expect.objectContaining({ code: "resource_exhausted", reason: "QUOTA_EXCEEDED", field: "requests_per_second" })]);
    // Another client address (through the trusted proxy) is served.
    expect((await fetch(`${http}/demo/token?name=Bob`, { headers: headers(undefined, "203.0.113.9") })).status).toBe(200);
  });
});
