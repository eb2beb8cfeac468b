/**
 * The operations metrics of issue 7, on the one registry made by `createMetrics` (registry.ts):
 * scrape-time gauges (connections by transport, sessions bound to this node's transports, rooms
 * with local watchers, the Redis subscriber's state) and the latency histograms of the hot path
 * (heartbeat lag, fan-out latency) with the dropped-delivery counter.
 *
 * Fan-out latency is measured from the event's commit time, stamped by the store (Redis `TIME`
 * inside the committing script with the Redis store), to the moment the hub hands the event to a
 * stream or to the WebSocket broadcaster, on this node's clock. It therefore includes pub/sub
 * transit and the hub's flush, and it is only as exact as the agreement between the nodes' clocks
 * and Redis' clock (NTP keeps them within a millisecond or so; a skewed node shows a shifted
 * histogram, and negative differences are counted as 0).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { GaugeSources } from "./registry.js";

/** How an RPC arrived (label `protocol`), from its content-type: one connect-node handler serves all three. */
export const RPC_PROTOCOLS = ["connect", "grpc", "grpc_web"] as const;
export type RpcProtocol = (typeof RPC_PROTOCOLS)[number];

/** Transports of watchers and deliveries (label `transport`): Connect-node streams (gRPC, gRPC-Web, Connect) or the WebSocket bridge. */
export const WATCH_TRANSPORTS = ["connect", "ws"] as const;
export type WatchTransport = (typeof WATCH_TRANSPORTS)[number];

/** Open client connections by transport (label `transport` of `presence_connections`). */
export const CONNECTION_TRANSPORTS = ["ws", "http2", "http1"] as const;
export type ConnectionTransport = (typeof CONNECTION_TRANSPORTS)[number];

/** Sessions kept alive by a transport of this node (label `binding` of `presence_bound_sessions`). */
export const SESSION_BINDINGS = ["ws", "stream"] as const;
export type SessionBinding = (typeof SESSION_BINDINGS)[number];

/**
 * Why a delivery did not reach a watcher (label `reason` of `presence_deliveries_dropped_total`):
 * `queue_overflow` (hub queue full), `send_dropped` (the WebSocket engine refused a direct send), `over_cap` (a
 * socket over its buffered-bytes cap skipped a broadcast). Each is followed by a snapshot (resync).
 */
export const DROP_REASONS = ["queue_overflow", "send_dropped", "over_cap"] as const;
export type DropReason = (typeof DROP_REASONS)[number];

type Registers = Registry[];

/** Heartbeat lag buckets (s): tests heartbeat every 0.1 s, production every 30 s with a 60 s TTL. */
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120];
/** Fan-out latency buckets (s): 0.5 ms to 5 s. */
const FANOUT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** `presence_heartbeat_lag_seconds`, `presence_fanout_latency_seconds{transport}`, `presence_deliveries_dropped_total{transport,reason}`. */
export function createLatencyMetrics(registers: Registers) {
  const fanoutLatency = new Histogram<"transport">({
    name: "presence_fanout_latency_seconds",
    help: "Membership event commit time (store clock) to hand-off to a watch stream or the WebSocket broadcaster, by transport.",
    labelNames: ["transport"],
    buckets: FANOUT_BUCKETS,
    registers,
  });
  const deliveriesDropped = new Counter<"transport" | "reason">({
    name: "presence_deliveries_dropped_total",
    help: "Deliveries that did not reach a watcher (the watcher resyncs with a snapshot), by transport and reason.",
    labelNames: ["transport", "reason"],
    registers,
  });
  for (const transport of WATCH_TRANSPORTS) fanoutLatency.zero({ transport });
  deliveriesDropped.inc({ transport: "connect", reason: "queue_overflow" }, 0);
  for (const reason of DROP_REASONS) deliveriesDropped.inc({ transport: "ws", reason }, 0);
  return {
    heartbeatLag: new Histogram({
      name: "presence_heartbeat_lag_seconds",
      help: "Time since the same session's previous heartbeat or refresh, at each Heartbeat (measured by the store, whichever node it reached).",
      buckets: LAG_BUCKETS,
      registers,
    }),
    fanoutLatency,
    deliveriesDropped,
  };
}

/** The gauges read from {@link GaugeSources} at every scrape; a throwing source keeps the last value. */
export function createLiveGauges(registers: Registers, sources: () => GaugeSources | undefined) {
  const read = <T>(pick: (s: GaugeSources) => (() => T) | undefined, apply: (value: T) => void) => {
    try {
      const fn = ((s) => s && pick(s))(sources());
      if (fn) apply(fn());
    } catch {
      // Keep the previous value: a failing source must not break the whole scrape.
    }
  };
  return {
    connections: new Gauge<"transport">({
      name: "presence_connections",
      help: "Open client connections by transport: ws (WebSocket bridge), http2 and http1 (RPC port).",
      labelNames: ["transport"],
      registers,
      collect() {
        read((s) => s.connections, (byTransport) => {
          for (const transport of CONNECTION_TRANSPORTS) this.set({ transport }, byTransport[transport] ?? 0);
        });
      },
    }),
    boundSessions: new Gauge<"binding">({
      name: "presence_bound_sessions",
      help: "Sessions kept alive by a transport of this node: a WebSocket (ws) or a watch stream (stream). Heartbeat sessions belong to no node.",
      labelNames: ["binding"],
      registers,
      collect() {
        read((s) => s.boundSessions, (byBinding) => {
          for (const binding of SESSION_BINDINGS) this.set({ binding }, byBinding[binding] ?? 0);
        });
      },
    }),
    watchedRooms: new Gauge({
      name: "presence_watched_rooms",
      help: "Rooms this node follows in the store (one subscription each): watched by a client, or joined by a WebSocket member socket (to learn their end).",
      registers,
      collect() {
        read((s) => s.watchedRooms, (n) => this.set(n));
      },
    }),
    subscriberUp: new Gauge({
      name: "presence_redis_subscriber_up",
      help: "1 while the store's pub/sub subscriber is connected, else 0 (always 1 with the embedded memory store).",
      registers,
      collect() {
        this.set(1);
        read((s) => s.subscriberUp, (up) => this.set(up ? 1 : 0));
      },
    }),
  };
}
