import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERT_RULES, dashboardQueries, withoutThreshold } from "../support/monitoring-assets.js";
import { driveTraffic, OPS_TIMINGS_ENV, type Traffic } from "../support/ops-traffic.js";
import { startPrometheus, type PrometheusInstance, type PromQueryResult } from "../support/prometheus.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";

/*
 * Dashboards and alert rules against real data. A real server (Redis store, WebSocket bridge,
 * sessions expiring after 1.5 s) is scraped every second by a real Prometheus that loads
 * prometheus/alerts.yml. Traffic over Connect, gRPC, gRPC-Web and WebSocket (test/support/
 * ops-traffic.ts) exercises joins, heartbeats, typing, cursors, watchers, an ended stream, sessions
 * that time out, auth failures and a malformed frame. Then every PromQL expression of every panel of
 * every dashboard, and every rule Prometheus loaded, is evaluated through the HTTP API: each must be
 * valid and return at least one series. An alert expression is empty while healthy, so for an alert
 * ending in a threshold comparison (`… > 0.5`) the full expression is checked for validity and the
 * expression without the comparison for data. Expressions are polled until they all have data
 * (rates need two scrapes of a series) or a deadline passes; the failure lists every offender.
 * This keeps the dashboards, the rules and the metric names from drifting apart.
 */

let redis: RedisInstance;
let server: TestServer;
let prometheus: PrometheusInstance;
let traffic: Traffic;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({
    ...OPS_TIMINGS_ENV,
    PRESENCE_REDIS_URL: redis.url,
    PRESENCE_RECONNECT_GRACE_MS: "500",
    PRESENCE_READINESS_INTERVAL_MS: "200",
  });
  prometheus = await startPrometheus({ targets: [new URL(server.adminUrl).host], ruleFiles: [ALERT_RULES] });
  traffic = await driveTraffic(server, { rooms: 12, users: 4, watchedRooms: 4 });
}, 60_000);

afterAll(async () => {
  await traffic?.stop();
  await prometheus?.stop();
  await server?.close();
  await redis?.stop();
});

const hasData = (r: PromQueryResult) => r.status === "success" && (r.data?.result.length ?? 0) > 0;

/** Evaluates every query until all have data or the deadline passes; returns the last answers. */
async function evaluateUntilData(queries: { where: string; expr: string }[], deadlineMs: number) {
  const deadline = Date.now() + deadlineMs;
  let answers: PromQueryResult[] = [];
  for (;;) {
    answers = await Promise.all(queries.map((q) => prometheus.query(q.expr)));
    if (answers.every(hasData) || Date.now() > deadline) return answers;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

function failures(queries: { where: string; expr: string }[], answers: PromQueryResult[]): string[] {
  return queries.flatMap((q, i) => {
    const a = answers[i]!;
    if (a.status !== "success") return [`${q.where}: ${a.error ?? a.status}\n    ${q.expr}`];
    if (!hasData(a)) return [`${q.where}: no series\n    ${q.expr}`];
    return [];
  });
}

describe("dashboards and alert rules against a real Prometheus scraping a real server", () => {
  it("Prometheus scrapes the server and sees the traffic (missed heartbeats, fan-out, heartbeat lag)", async () => {
    const signals = [
      "presence_heartbeats_missed_total > 0",
      'presence_fanout_latency_seconds_count{transport="connect"} > 0',
      'presence_fanout_latency_seconds_count{transport="ws"} > 0',
      "presence_heartbeat_lag_seconds_count > 0",
      'presence_rpc_duration_seconds_count{protocol="grpc"} > 0',
      'presence_rpc_duration_seconds_count{protocol="grpc_web"} > 0',
      'presence_rpc_duration_seconds_count{protocol="connect"} > 0',
      'presence_ws_frames_rejected_total{reason="malformed"} > 0',
    ].map((expr) => ({ where: expr, expr }));
    const answers = await evaluateUntilData(signals, 20_000);
    expect(failures(signals, answers), prometheus.logs()).toEqual([]);
  }, 30_000);

  it("every panel expression of every dashboard is valid and returns data", async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(60);
    const answers = await evaluateUntilData(queries, 15_000);
    expect(failures(queries, answers)).toEqual([]);
  }, 30_000);

  it("every alert rule loads, evaluates without error, and its signal returns data", async () => {
    const rules = await prometheus.rules();
    expect(rules.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        "PresenceTargetDown",
        "PresenceNotReady",
        "PresenceRedisSubscriberDown",
        "PresenceMissedHeartbeatsHigh",
        "PresenceFanoutLatencyHigh",
        "PresenceRedisErrors",
        "PresenceLoopErrors",
      ]),
    );
    const full = rules.map((r) => ({ where: `rule ${r.name}`, expr: r.query }));
    const signal = rules.map((r) => ({ where: `rule ${r.name} (without threshold)`, expr: r.type === "alerting" ? withoutThreshold(r.query) : r.query }));
    const fullAnswers = await Promise.all(full.map((q) => prometheus.query(q.expr)));
    expect(full.flatMap((q, i) => (fullAnswers[i]!.status === "success" ? [] : [`${q.where}: ${fullAnswers[i]!.error}`]))).toEqual([]);
    const answers = await evaluateUntilData(signal, 15_000);
    expect(failures(signal, answers)).toEqual([]);
    // Rule evaluation by Prometheus itself succeeded too.
    expect(rules.filter((r) => r.health === "err").map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  }, 30_000);
});
