import * as http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createAdminServer } from "../../src/admin/admin-server.js";
import type { AdminServer, Readiness } from "../../src/admin/admin-server.js";
import { createMetrics } from "../../src/metrics/registry.js";

const HOST = "127.0.0.1";
const servers: AdminServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(ready: () => Promise<Readiness>, readyTimeoutMs?: number) {
  const metrics = createMetrics();
  const server = createAdminServer({ metrics, ready, readyTimeoutMs: readyTimeoutMs ?? 2_000 });
  servers.push(server);
  const { port } = await server.listen(0, HOST);
  return { port, metrics, server };
}

function request(port: number, path: string, method = "GET", agent?: http.Agent) {
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = http.request({ host: HOST, port, path, method, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const ok = async (): Promise<Readiness> => ({ ok: true });

describe("admin server", () => {
  it("serves Prometheus text on /metrics, with live gauges", async () => {
    const { port, metrics } = await start(ok);
    metrics.bindGauges({ sessions: () => 12, rooms: () => 4, watchers: () => ({ connect: { full: 2 } }) });
    metrics.heartbeats.inc();
    const res = await request(port, "/metrics");
    expect(res.status).toBe(200);
    expect(res.type).toBe(metrics.registry.contentType);
    expect(res.body).toMatch(/^presence_sessions 12$/m);
    expect(res.body).toMatch(/^presence_heartbeats_total 1$/m);
    expect(res.body).toContain("# TYPE presence_rpc_duration_seconds histogram");
    expect((await request(port, "/metrics?x=1")).status).toBe(200);
  });

  it("answers /healthz with 200 ok, even when not ready", async () => {
    const { port } = await start(async () => ({ ok: false, detail: "store down" }));
    expect(await request(port, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
    expect(await request(port, "/healthz", "HEAD")).toMatchObject({ status: 200, body: "" });
  });

  it("answers /readyz 200 when ready, 503 with the detail when not", async () => {
    let state: Readiness = { ok: true };
    const { port } = await start(async () => state);
    expect(await request(port, "/readyz")).toMatchObject({ status: 200, body: "ok\n" });
    state = { ok: false, detail: "redis: connection refused" };
    expect(await request(port, "/readyz")).toMatchObject({ status: 503, body: "redis: connection refused\n" });
    state = { ok: false };
    expect(await request(port, "/readyz")).toMatchObject({ status: 503, body: "not ready\n" });
  });

  it("answers /readyz 503 when the check throws or rejects", async () => {
    const { port } = await start(async () => {
      throw new Error("boom");
    });
    expect(await request(port, "/readyz")).toMatchObject({ status: 503, body: "readiness check failed: boom\n" });
    const sync = await start((() => {
      throw new Error("sync boom");
    }) as () => Promise<Readiness>);
    expect(await request(sync.port, "/readyz")).toMatchObject({ status: 503, body: "readiness check failed: sync boom\n" });
  });

  it("answers /readyz 503 when the check is too slow", async () => {
    const { port } = await start(() => new Promise(() => {}), 150);
    const t0 = Date.now();
    const res = await request(port, "/readyz");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(res).toMatchObject({ status: 503, body: "readiness check timed out after 150 ms\n" });
  });

  it("times out after 2 s by default", async () => {
    const { port } = await start(() => new Promise(() => {}));
    const t0 = Date.now();
    expect((await request(port, "/readyz")).status).toBe(503);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
  });

  it("answers 404 to anything else", async () => {
    const { port } = await start(ok);
    expect((await request(port, "/")).status).toBe(404);
    expect((await request(port, "/metricsx")).status).toBe(404);
    expect((await request(port, "/metrics", "POST")).status).toBe(404);
    expect((await request(port, "/readyz", "DELETE")).status).toBe(404);
  });

  it("close() resolves promptly with a keep-alive connection open, then refuses connections", async () => {
    const { port, server } = await start(ok);
    const agent = new http.Agent({ keepAlive: true });
    try {
      await request(port, "/healthz", "GET", agent);
      const t0 = Date.now();
      await server.close();
      expect(Date.now() - t0).toBeLessThan(1000);
      await expect(request(port, "/healthz")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      agent.destroy();
    }
  });
});
