/**
 * Every Prometheus metric of the presence server, on one private prom-client registry.
 *
 * Names carry the `presence_` prefix, base units and `_total` on counters. Labels are bounded:
 * method names, status codes, event kinds, reasons and loop names, never room, user, session or
 * connection ids. Node's default process metrics are collected on the same registry under their
 * standard names (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, …) so stock
 * dashboards work unchanged.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ERROR_REASONS, type PresenceErrorReason } from "../core/error-policy.js";
import { createBackendMetrics, type BackendMetrics } from "./backend-metrics.js";
import { createAccessMetrics, type AccessMetrics } from "./access-metrics.js";
import { createHistoryMetrics, type HistoryMetrics } from "./history-metrics.js";
import { createLatencyMetrics, createLiveGauges, WATCH_TRANSPORTS, type ConnectionTransport, type SessionBinding, type WatchTransport } from "./live-metrics.js";

/** Event kinds the hub publishes (label `kind` of `presence_events_published_total`). */
export const PUBLISHED_EVENT_KINDS = ["joined", "left", "updated", "anonymous", "typing", "cursors", "broadcast"] as const;
export type PublishedEventKind = (typeof PUBLISHED_EVENT_KINDS)[number];

/** Message kinds delivered to watchers (label `kind` of `presence_events_delivered_total`). */
export const DELIVERED_EVENT_KINDS = [...PUBLISHED_EVENT_KINDS, "snapshot", "counts", "keepalive", "user_snapshot", "user_status"] as const;
export type DeliveredEventKind = (typeof DELIVERED_EVENT_KINDS)[number];

/** Why a watcher was sent a snapshot instead of deltas (label `reason` of `presence_resyncs_total`). */
export const RESYNC_REASONS = ["overflow", "burst", "gap", "epoch", "resume_miss", "reconnect", "position", "rollback"] as const;
export type ResyncReason = (typeof RESYNC_REASONS)[number];

/** Background loops that count their errors (label `loop` of `presence_loop_errors_total`). */
export const LOOPS = ["reaper", "refresh", "fanout", "deferred_update", "ws_broadcast", "readiness", "commit_feed", "history_retention", "history_status", "history_repair", "history_record", "memory_guard", "away_sweep", "room_idle"] as const;

/** Updates merged into a later one (label `kind` of `presence_coalesced_updates_total`). */
export const COALESCED_KINDS = ["typing", "cursor", "presence"] as const;
export type CoalescedKind = (typeof COALESCED_KINDS)[number];

const AUTH_FAILURE_REASONS: readonly PresenceErrorReason[] = ["UNAUTHENTICATED", "TOKEN_INVALID", "TOKEN_EXPIRED"];

export { CONNECTION_TRANSPORTS, DROP_REASONS, RPC_PROTOCOLS, SESSION_BINDINGS, WATCH_TRANSPORTS } from "./live-metrics.js";
export type { ConnectionTransport, DropReason, RpcProtocol, SessionBinding, WatchTransport } from "./live-metrics.js";

/** Live counts read at scrape time by {@link Metrics.bindGauges}. Must be cheap and synchronous. */
export interface GaugeSources {
  /** Sessions in the store (the memory store's own; with Redis, cluster-wide as of the last reap). */
  sessions: () => number;
  /** Rooms with at least one member, as seen by this process. */
  rooms: () => number;
  /** Open watchers by transport, then detail (for example `{ connect: { full: 10, users: 1 }, ws: { counts: 3 } }`). */
  watchers: () => Partial<Record<WatchTransport, Record<string, number>>>;
  /** Largest send buffer (bytes) of the WebSocket bridge's sockets right now; optional. */
  wsMaxBufferedBytes?: () => number;
  /** Open client connections by transport; optional. */
  connections?: () => Partial<Record<ConnectionTransport, number>>;
  /** Sessions bound to a transport of this node, by binding; optional. */
  boundSessions?: () => Partial<Record<SessionBinding, number>>;
  /** Rooms with local watchers (one store subscription each); optional. */
  watchedRooms?: () => number;
  /** Whether the store's pub/sub subscriber is connected; optional (unbound reads 1). */
  subscriberUp?: () => boolean;
}

/** Why the WebSocket bridge refused a message (label `reason` of `presence_ws_frames_rejected_total`). */
export const WS_REJECT_REASONS = ["too_large", "malformed", "unknown_type", "too_many_pending", "rate_limited"] as const;

/** ClientFrame types (label `type` of `presence_ws_frames_received_total`). */
export const WS_FRAME_TYPES = ["join", "leave", "navigate", "heartbeat", "typing", "cursor", "watch", "unwatch", "status", "watchUsers", "unwatchUsers", "updatePresence"] as const;

/** Results of UDP heartbeat datagrams (label `result` of `presence_udp_datagrams_total`; udp.proto). */
export const UDP_RESULTS = ["accepted", "oversize", "malformed", "bad_mac", "stale", "replay", "rate_limited", "session_not_found", "unavailable"] as const;

/** The metrics of one server process. Labels listed per metric; values must stay bounded. */
export interface Metrics extends AccessMetrics {
  /** The private registry: `await registry.metrics()` is the scrape text, `registry.contentType` its type. */
  readonly registry: Registry;
  /** Track streams and webhook delivery (backend-metrics.ts). */
  readonly backends: BackendMetrics;
  /** `presence_rpc_duration_seconds{method,code,protocol}`: unary call durations, 0.5 ms to 5 s buckets. */
  readonly rpcDuration: Histogram<"method" | "code" | "protocol">;
  /** `presence_stream_duration_seconds{method,code,protocol}`: stream lifetimes, 0.1 s to 1 h buckets. */
  readonly streamDuration: Histogram<"method" | "code" | "protocol">;
  /** `presence_sessions`: filled at scrape time from {@link GaugeSources.sessions} (store-wide, not per node). */
  readonly sessions: Gauge;
  /** `presence_rooms`: filled at scrape time from {@link GaugeSources.rooms}. */
  readonly rooms: Gauge;
  /** `presence_watchers{transport,detail}`: filled at scrape time from {@link GaugeSources.watchers}. */
  readonly watchers: Gauge<"transport" | "detail">;
  /** `presence_heartbeats_total`. */
  readonly heartbeats: Counter;
  /** `presence_heartbeats_missed_total`: sessions that expired instead of leaving. */
  readonly heartbeatsMissed: Counter;
  /** `presence_heartbeat_lag_seconds`: time since the same session's previous heartbeat or refresh, measured by the store. */
  readonly heartbeatLag: Histogram;
  /** `presence_fanout_latency_seconds{transport}`: event commit time (store clock) to hand-off to a stream or socket. */
  readonly fanoutLatency: Histogram<"transport">;
  /** `presence_deliveries_dropped_total{transport,reason}`, reason ∈ {@link DROP_REASONS}. */
  readonly deliveriesDropped: Counter<"transport" | "reason">;
  /** `presence_events_published_total{kind}`, kind ∈ {@link PUBLISHED_EVENT_KINDS}. */
  readonly eventsPublished: Counter<"kind">;
  /** `presence_events_delivered_total{kind}`, kind ∈ {@link DELIVERED_EVENT_KINDS}. */
  readonly eventsDelivered: Counter<"kind">;
  /** `presence_fanout_queue_overflows_total`. */
  readonly fanoutOverflows: Counter;
  /** `presence_resyncs_total{reason}`, reason ∈ {@link RESYNC_REASONS}. */
  readonly resyncs: Counter<"reason">;
  /** `presence_coalesced_updates_total{kind}`, kind ∈ {@link COALESCED_KINDS}. */
  readonly coalesced: Counter<"kind">;
  /** `presence_auth_failures_total{reason}`, reason an ErrorReason name (`TOKEN_EXPIRED`, …). */
  readonly authFailures: Counter<"reason">;
  /** `presence_loop_errors_total{loop}`: errors caught in background loops (reaper, refresh, …). */
  readonly loopErrors: Counter<"loop">;
  /** `presence_rejected_requests_total{reason}`, reason an ErrorReason name. */
  readonly rejections: Counter<"reason">;
  /** `presence_redis_command_duration_seconds`: Redis calls (scripts and commands). */
  readonly redisCommandDuration: Histogram;
  /** `presence_redis_errors_total{kind}`: failed Redis calls (timeout, connection, oom, readonly, cluster, other). */
  readonly redisErrors: Counter<"kind">;
  /** `presence_redis_script_reloads_total{script}`: NOSCRIPT answers (after SCRIPT FLUSH or a restart) that reloaded a script (script ∈ the store's script names). */
  readonly scriptReloads: Counter<"script">;
  /** `presence_subscriber_reconnects_total`: pub/sub reconnections (watchers of its rooms resync). */
  readonly subscriberReconnects: Counter;
  readonly pubsubProbeTimeouts: Counter;
  /** `presence_reasserted_sessions_total`: live sessions re-created after Redis lost its data. */
  readonly reassertedSessions: Counter;
  readonly revivedSessions: Counter;
  /** `presence_reaped_sessions_total`: expired sessions reaped by this node. */
  readonly reapedSessions: Counter;
  /** `presence_ws_connections`: open WebSocket connections. */
  readonly wsConnections: Gauge;
  /** `presence_ws_frames_received_total{type}`, type ∈ {@link WS_FRAME_TYPES}. */
  readonly wsFramesReceived: Counter<"type">;
  /** `presence_ws_frames_sent_total`: frames handed to the WebSocket engine (direct sends, plus one per subscriber of a publish). */
  readonly wsFramesSent: Counter;
  /** `presence_ws_frames_dropped_total`: direct sends the engine refused (socket over its cap): a gap, resynced later. */
  readonly wsFramesDropped: Counter;
  /** `presence_udp_datagrams_total{result}`, result ∈ {@link UDP_RESULTS}: every UDP heartbeat datagram received. */
  readonly udpDatagrams: Counter<"result">;
  /** `presence_ws_frames_rejected_total{reason}`, reason ∈ {@link WS_REJECT_REASONS}. */
  readonly wsFramesRejected: Counter<"reason">;
  /** `presence_ws_closes_total{code}`: closed sockets by close code (bounded: our table, 1000/1001/1005/1006/1007/1009, other). */
  readonly wsCloses: Counter<"code">;
  /** `presence_ws_slow_consumer_resyncs_total`: a socket missed a delivery (over its cap) and is owed a snapshot. */
  readonly wsSlowConsumerResyncs: Counter;
  /** `presence_ws_buffered_bytes`: the largest send buffer of any socket, read at scrape time. */
  readonly wsBufferedBytes: Gauge;
  /** `presence_ready`: 1 while the last readiness probe (store write and subscriber round trip) passed, else 0. Set by the readiness monitor. */
  readonly ready: Gauge;
  /** `presence_ws_handler_errors_total{handler}`: exceptions caught in WebSocket engine handlers (on uWS each would kill the process). */
  readonly wsHandlerErrors: Counter<"handler">;
  /** `presence_connections{transport}`, `presence_bound_sessions{binding}`, `presence_watched_rooms`, `presence_redis_subscriber_up`: read at scrape time. */
  readonly connections: Gauge<"transport">;
  readonly boundSessions: Gauge<"binding">;
  readonly watchedRooms: Gauge;
  readonly subscriberUp: Gauge;
  /** `presence_history_*`: the durable history's queue, writes, lag and retention (history-metrics.ts). */
  readonly history: HistoryMetrics;
  /**
   * Binds the three live gauges to their sources; the last binding wins. Until bound they read 0.
   * A source that throws leaves its gauge at the previous value instead of failing the scrape.
   */
  bindGauges(sources: GaugeSources): void;
}

/**
 * Creates the metrics on a fresh registry (never prom-client's global one, so several servers can
 * live in one process, as tests do). Known label values start at 0, so rates exist before the first
 * event. Default Node metrics are collected on the same registry.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let sources: GaugeSources | undefined;

  const rpcDuration = new Histogram({
    name: "presence_rpc_duration_seconds",
    help: "Duration of unary RPCs, by method, status code and protocol (connect, grpc, grpc_web).",
    labelNames: ["method", "code", "protocol"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const streamDuration = new Histogram({
    name: "presence_stream_duration_seconds",
    help: "Lifetime of streaming RPCs, by method, final status code and protocol (connect, grpc, grpc_web).",
    labelNames: ["method", "code", "protocol"],
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600],
    registers,
  });
  const sessions = new Gauge({
    name: "presence_sessions",
    help: "Live sessions in the store (with Redis: cluster-wide, as of this node's last reap).",
    registers,
    collect() {
      guarded(() => sources && this.set(sources.sessions()));
    },
  });
  const rooms = new Gauge({
    name: "presence_rooms",
    help: "Rooms with at least one member (memory store); with Redis, rooms this node holds a subscription for.",
    registers,
    collect() {
      guarded(() => sources && this.set(sources.rooms()));
    },
  });
  const watchers = new Gauge({
    name: "presence_watchers",
    help: "Open presence watchers, by transport (connect, ws) and detail (full, counts, users).",
    labelNames: ["transport", "detail"],
    registers,
    collect() {
      guarded(() => {
        if (!sources) return;
        const byTransport = sources.watchers();
        this.reset();
        for (const transport of WATCH_TRANSPORTS) {
          for (const [detail, count] of Object.entries(byTransport[transport] ?? {})) this.set({ transport, detail }, count);
        }
      });
    },
  });
  const live = createLiveGauges(registers, () => sources);

  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const eventsPublished = counter("presence_events_published_total", "Events published to rooms, by kind.", ["kind"]);
  const eventsDelivered = counter("presence_events_delivered_total", "Messages delivered to watchers, by kind.", ["kind"]);
  const resyncs = counter("presence_resyncs_total", "Snapshots sent to resynchronise a watcher, by reason.", ["reason"]);
  const coalesced = counter("presence_coalesced_updates_total", "Typing and cursor updates merged into a later one.", ["kind"]);
  const authFailures = counter("presence_auth_failures_total", "Rejected credentials, by reason.", ["reason"]);
  const rejections = counter("presence_rejected_requests_total", "Rejected requests, by error reason.", ["reason"]);
  for (const kind of PUBLISHED_EVENT_KINDS) eventsPublished.inc({ kind }, 0);
  for (const kind of DELIVERED_EVENT_KINDS) eventsDelivered.inc({ kind }, 0);
  for (const reason of RESYNC_REASONS) resyncs.inc({ reason }, 0);
  for (const kind of COALESCED_KINDS) coalesced.inc({ kind }, 0);
  for (const reason of AUTH_FAILURE_REASONS) authFailures.inc({ reason }, 0);
  // Every reason of the error policy, so a new reason is a labelled series from the first scrape.
  for (const reason of Object.keys(ERROR_REASONS)) rejections.inc({ reason }, 0);
  const wsFramesReceived = counter("presence_ws_frames_received_total", "WebSocket frames received, by frame type.", ["type"]);
  const wsFramesRejected = counter("presence_ws_frames_rejected_total", "WebSocket messages refused, by reason.", ["reason"]);
  const wsCloses = counter("presence_ws_closes_total", "WebSocket connections closed, by close code.", ["code"]);
  for (const type of WS_FRAME_TYPES) wsFramesReceived.inc({ type }, 0);
  const udpDatagrams = counter("presence_udp_datagrams_total", "UDP heartbeat datagrams received, by result (accepted, or why dropped).", ["result"]);
  for (const result of UDP_RESULTS) udpDatagrams.inc({ result }, 0);
  for (const reason of WS_REJECT_REASONS) wsFramesRejected.inc({ reason }, 0);
  const loopErrors = counter("presence_loop_errors_total", "Errors caught in background loops, by loop.", ["loop"]);
  for (const loop of LOOPS) loopErrors.inc({ loop }, 0);
  const redisErrors = counter("presence_redis_errors_total", "Failed Redis calls, by kind.", ["kind"]);
  for (const kind of ["timeout", "connection", "oom", "readonly", "cluster", "crossslot", "noscript", "subscriber", "reassert", "other"]) redisErrors.inc({ kind }, 0);

  return {
    registry,
    backends: createBackendMetrics(registry),
    rpcDuration,
    streamDuration,
    sessions,
    rooms,
    watchers,
    heartbeats: counter("presence_heartbeats_total", "Heartbeats received."),
    heartbeatsMissed: counter("presence_heartbeats_missed_total", "Sessions that expired instead of leaving."),
    ...createLatencyMetrics(registers),
    eventsPublished,
    eventsDelivered,
    fanoutOverflows: counter("presence_fanout_queue_overflows_total", "Watcher queues that overflowed and were reset."),
    resyncs,
    coalesced,
    authFailures,
    loopErrors,
    rejections,
    redisCommandDuration: new Histogram({
      name: "presence_redis_command_duration_seconds",
      help: "Duration of Redis calls (scripts and commands).",
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
      registers,
    }),
    redisErrors,
    scriptReloads: counter("presence_redis_script_reloads_total", "Scripts loaded again after NOSCRIPT (SCRIPT FLUSH or restart), by script.", ["script"]),
    subscriberReconnects: counter("presence_subscriber_reconnects_total", "Pub/sub connection re-established; watchers of its rooms resync."),
    pubsubProbeTimeouts: counter("presence_pubsub_probe_timeouts_total", "Pub/sub probes whose message never arrived although Redis took it (a starved subscriber: restarted on the second in a row)."),
    reassertedSessions: counter("presence_reasserted_sessions_total", "Live sessions re-created after Redis lost its data."),
    revivedSessions: counter("presence_revived_sessions_total", "Sessions that expired while this node could not write to Redis, refreshed back after the outage."),
    reapedSessions: counter("presence_reaped_sessions_total", "Expired sessions reaped by this node."),
    wsConnections: new Gauge({ name: "presence_ws_connections", help: "Open WebSocket connections.", registers }),
    wsFramesReceived,
    udpDatagrams,
    wsFramesSent: counter("presence_ws_frames_sent_total", "WebSocket frames handed to the WebSocket engine (a publish counts once per subscriber)."),
    wsFramesDropped: counter("presence_ws_frames_dropped_total", "WebSocket sends refused by the engine (socket over its cap); the socket resyncs."),
    wsFramesRejected,
    wsCloses,
    wsSlowConsumerResyncs: counter("presence_ws_slow_consumer_resyncs_total", "WebSocket watches that missed a delivery (socket over its cap) and get a snapshot when it drains."),
    wsBufferedBytes: new Gauge({
      name: "presence_ws_buffered_bytes",
      help: "Largest send buffer of any WebSocket connection (bytes), at scrape time.",
      registers,
      collect() {
        guarded(() => sources?.wsMaxBufferedBytes && this.set(sources.wsMaxBufferedBytes()));
      },
    }),
    ready: new Gauge({ name: "presence_ready", help: "1 while the last readiness probe passed (store write, subscriber round trip, not draining), else 0.", registers }),
    wsHandlerErrors: counter("presence_ws_handler_errors_total", "Exceptions caught in WebSocket handlers, by handler.", ["handler"]),
    ...live,
    ...createAccessMetrics(registers),
    history: createHistoryMetrics(registers),
    bindGauges(next) {
      sources = next;
    },
  };
}

function guarded(read: () => unknown): void {
  try {
    read();
  } catch {
    // Keep the previous value: a failing source must not break the whole scrape.
  }
}
