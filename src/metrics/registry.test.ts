import { describe, expect, it } from "vitest";
import { createMetrics } from "./registry.js";

const NAMES = [
  "presence_rpc_duration_seconds",
  "presence_stream_duration_seconds",
  "presence_sessions",
  "presence_rooms",
  "presence_watchers",
  "presence_heartbeats_total",
  "presence_heartbeats_missed_total",
  "presence_events_published_total",
  "presence_events_delivered_total",
  "presence_fanout_queue_overflows_total",
  "presence_resyncs_total",
  "presence_coalesced_updates_total",
  "presence_auth_failures_total",
  "presence_loop_errors_total",
  "presence_rejected_requests_total",
  "presence_ws_connections",
  "presence_ws_frames_received_total",
  "presence_ws_frames_sent_total",
  "presence_ws_frames_rejected_total",
  "presence_ws_closes_total",
  "presence_ws_slow_consumer_resyncs_total",
  "presence_ws_buffered_bytes",
  "presence_heartbeat_lag_seconds",
  "presence_fanout_latency_seconds",
  "presence_deliveries_dropped_total",
  "presence_connections",
  "presence_bound_sessions",
  "presence_watched_rooms",
  "presence_redis_subscriber_up",
];

describe("createMetrics", () => {
  it("exposes every metric and the Node defaults on its own registry", async () => {
    const text = await createMetrics().registry.metrics();
    for (const name of NAMES) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain("# TYPE process_cpu_user_seconds_total counter");
    expect(text).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
  });

  it("two instances do not collide (no global registry)", async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.heartbeats.inc(3);
    expect(await a.registry.getSingleMetricAsString("presence_heartbeats_total")).toMatch(/^presence_heartbeats_total 3$/m);
    expect(await b.registry.getSingleMetricAsString("presence_heartbeats_total")).toMatch(/^presence_heartbeats_total 0$/m);
  });

  it("starts known label values at zero", async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toMatch(/^presence_resyncs_total\{reason="resume_miss"\} 0$/m);
    expect(text).toMatch(/^presence_events_delivered_total\{kind="keepalive"\} 0$/m);
    expect(text).toMatch(/^presence_rejected_requests_total\{reason="SESSION_NOT_FOUND"\} 0$/m);
    expect(text).toMatch(/^presence_auth_failures_total\{reason="TOKEN_EXPIRED"\} 0$/m);
  });

  it("records observations with their labels", async () => {
    const m = createMetrics();
    m.rpcDuration.observe({ method: "presence.v1.PresenceService/Join", code: "ok", protocol: "grpc" }, 0.002);
    m.streamDuration.observe({ method: "presence.v1.PresenceService/WatchPresence", code: "canceled", protocol: "connect" }, 42);
    m.eventsPublished.inc({ kind: "joined" });
    m.loopErrors.inc({ loop: "reaper" });
    const text = await m.registry.metrics();
    expect(text).toMatch(/^presence_rpc_duration_seconds_bucket\{le="0\.0025",method="presence\.v1\.PresenceService\/Join",code="ok",protocol="grpc"\} 1$/m);
    expect(text).toMatch(/^presence_rpc_duration_seconds_bucket\{le="0\.001",method="presence\.v1\.PresenceService\/Join",code="ok",protocol="grpc"\} 0$/m);
    expect(text).toMatch(/^presence_stream_duration_seconds_bucket\{le="60",method="presence\.v1\.PresenceService\/WatchPresence",code="canceled",protocol="connect"\} 1$/m);
    expect(text).toMatch(/^presence_events_published_total\{kind="joined"\} 1$/m);
    expect(text).toMatch(/^presence_loop_errors_total\{loop="reaper"\} 1$/m);
  });

  it("gauges read 0 until bound, then the bound values at every scrape", async () => {
    const m = createMetrics();
    let text = await m.registry.metrics();
    expect(text).toMatch(/^presence_sessions 0$/m);
    let sessions = 7;
    expect(text).toMatch(/^presence_redis_subscriber_up 1$/m);
    let watchers: Partial<Record<"connect" | "ws", Record<string, number>>> = { connect: { full: 4, counts: 2 }, ws: { full: 1 } };
    let up = false;
    m.bindGauges({
      sessions: () => sessions,
      rooms: () => 3,
      watchers: () => watchers,
      connections: () => ({ ws: 2, http2: 1 }),
      boundSessions: () => ({ stream: 5 }),
      watchedRooms: () => 6,
      subscriberUp: () => up,
    });
    text = await m.registry.metrics();
    expect(text).toMatch(/^presence_sessions 7$/m);
    expect(text).toMatch(/^presence_rooms 3$/m);
    expect(text).toMatch(/^presence_watchers\{transport="connect",detail="full"\} 4$/m);
    expect(text).toMatch(/^presence_watchers\{transport="connect",detail="counts"\} 2$/m);
    expect(text).toMatch(/^presence_watchers\{transport="ws",detail="full"\} 1$/m);
    expect(text).toMatch(/^presence_connections\{transport="ws"\} 2$/m);
    expect(text).toMatch(/^presence_connections\{transport="http1"\} 0$/m);
    expect(text).toMatch(/^presence_bound_sessions\{binding="stream"\} 5$/m);
    expect(text).toMatch(/^presence_bound_sessions\{binding="ws"\} 0$/m);
    expect(text).toMatch(/^presence_watched_rooms 6$/m);
    expect(text).toMatch(/^presence_redis_subscriber_up 0$/m);
    sessions = 1;
    watchers = { connect: { counts: 5 } };
    up = true;
    text = await m.registry.metrics();
    expect(text).toMatch(/^presence_sessions 1$/m);
    expect(text).toMatch(/^presence_watchers\{transport="connect",detail="counts"\} 5$/m);
    expect(text).not.toContain('detail="full"');
    expect(text).toMatch(/^presence_redis_subscriber_up 1$/m);
  });

  it("a throwing source keeps the previous value and does not break the scrape", async () => {
    const m = createMetrics();
    let fail = false;
    m.bindGauges({
      sessions: () => {
        if (fail) throw new Error("boom");
        return 9;
      },
      rooms: () => 1,
      watchers: () => {
        if (fail) throw new Error("boom");
        return { connect: { full: 2 } };
      },
    });
    await m.registry.metrics();
    fail = true;
    const text = await m.registry.metrics();
    expect(text).toMatch(/^presence_sessions 9$/m);
    expect(text).toMatch(/^presence_watchers\{transport="connect",detail="full"\} 2$/m);
  });
});
