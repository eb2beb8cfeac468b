import { fromBinary } from "@bufbuild/protobuf";
import { createSocket, type Socket } from "node:dgram";
import { HeartbeatDatagramBodySchema, HeartbeatDatagramSchema } from "../../../gen/presence/v1/udp_pb.js";
import type { HeartbeatKeys } from "../../auth/heartbeat-keys.js";
import type { Clock } from "../../core/clock.js";
import type { DatagramGate } from "../../core/datagram-gate.js";
import { PresenceError } from "../../core/presence-error.js";
import type { Activity } from "../../core/presence-event.js";
import { activityFromPb } from "../wire.js";
import type { UDP_RESULTS } from "../../metrics/registry.js";

/**
 * The UDP heartbeat endpoint (udp.proto; off unless PRESENCE_UDP_PORT is set): node:dgram on the
 * configured host and port. Translation only: every datagram is checked in the cheapest order
 * (size, decoding, MAC, then the pure per-session gate) before the one store call, `refresh`, which
 * refreshes the session exactly like a Heartbeat RPC. Nothing is ever answered; every datagram is
 * counted by its result. A handler never throws (a datagram cannot crash the process), and a
 * socket error is counted and logged, never fatal after the bind.
 */
/** What happened to a datagram (label `result` of `presence_udp_datagrams_total`). */
export type UdpResult = (typeof UDP_RESULTS)[number];

export interface UdpHeartbeatServerOptions {
  keys: HeartbeatKeys;
  gate: DatagramGate;
  clock: Clock;
  /** Refreshes a session like Heartbeat (no owner check: the MAC proved the key). Throws PresenceErrors. */
  refresh(sessionId: string, activity: Activity | undefined): Promise<void>;
  /** PRESENCE_UDP_MAX_DATAGRAM_BYTES (default 512). */
  maxDatagramBytes: number;
  /** Every datagram's result (metrics). */
  onResult?(result: UdpResult): void;
  /** A socket error or a refresh failure that is not a PresenceError (logged). */
  onError?(err: unknown): void;
}

export interface UdpHeartbeatServer {
  /** Binds `host:port` (port 0 = any free port); resolves with the bound port. */
  listen(port: number, host: string): Promise<{ port: number }>;
  close(): Promise<void>;
  /** Resolves when every refresh started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
}

export function createUdpHeartbeatServer(o: UdpHeartbeatServerOptions): UdpHeartbeatServer {
  let socket: Socket | null = null;
  const inflight = new Set<Promise<void>>();
  const count = (r: UdpResult) => o.onResult?.(r);

  /** The checks that need no store; returns the verified body or the reason to drop. */
  function check(msg: Buffer): { sessionId: string; activity: Activity | undefined } | UdpResult {
    if (msg.byteLength > o.maxDatagramBytes) return "oversize";
    let body: Uint8Array;
    let mac: Uint8Array;
    let sessionId: string;
    let timestampMs: number;
    let activity: Activity | undefined;
    try {
      const d = fromBinary(HeartbeatDatagramSchema, new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
      body = d.body;
      mac = d.mac;
      if (mac.byteLength !== 32 || body.byteLength === 0) return "malformed";
      const b = fromBinary(HeartbeatDatagramBodySchema, body);
      if (b.sessionId === "" || b.sessionId.length > 128) return "malformed";
      sessionId = b.sessionId;
      timestampMs = Number(b.timestampMs);
      activity = activityFromPb(b.activity);
    } catch {
      return "malformed";
    }
    if (!o.keys.verify(sessionId, body, mac)) return "bad_mac";
    const verdict = o.gate.check(sessionId, timestampMs, o.clock.now());
    if (verdict !== "accepted") return verdict;
    return { sessionId, activity };
  }

  function onMessage(msg: Buffer) {
    let checked: ReturnType<typeof check>;
    try {
      checked = check(msg);
    } catch (err) {
      o.onError?.(err);
      return count("malformed");
    }
    if (typeof checked === "string") return count(checked);
    const { sessionId, activity } = checked;
    const p = o
      .refresh(sessionId, activity)
      .then(
        () => count("accepted"),
        (err: unknown) => {
          o.gate.forget(sessionId); // nothing was refreshed: a retry need not wait the interval
          if (err instanceof PresenceError && err.reason === "SESSION_NOT_FOUND") return count("session_not_found");
          if (!(err instanceof PresenceError)) o.onError?.(err);
          count("unavailable");
        },
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const s = createSocket({ type: host.includes(":") ? "udp6" : "udp4", reuseAddr: false });
        const fail = (err: Error) => {
          s.close();
          reject(new Error(`udp heartbeats: cannot listen on ${host}:${port}: ${err.message}`));
        };
        s.once("error", fail);
        s.bind(port, host, () => {
          s.off("error", fail);
          s.on("error", (err) => o.onError?.(err));
          s.on("message", onMessage);
          socket = s;
          resolve({ port: s.address().port });
        });
      });
    },
    async close() {
      const s = socket;
      socket = null;
      if (s) await new Promise<void>((r) => s.close(() => r()));
      await Promise.allSettled([...inflight]);
    },
    async idle() {
      await Promise.allSettled([...inflight]);
    },
  };
}
