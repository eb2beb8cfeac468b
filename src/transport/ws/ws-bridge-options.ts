import type { TokenVerifier } from "../../auth/verify-token.js";
import type { Clock } from "../../core/clock.js";
import type { Limits, Timings } from "../../core/options.js";
import type { FanoutHub } from "../../fanout/fanout-hub.js";
import type { Logger } from "../../logger.js";
import type { Metrics } from "../../metrics/registry.js";
import type { PresenceService } from "../../service/presence-service.js";
import type { ClientAddressOf } from "../http/client-address.js";
import type { ConnectionLimiter } from "../http/connection-limiter.js";
import type { DemoRoutesOptions } from "./demo-routes.js";
import type { WsEngineChoice, WsEngineName } from "./ws-engine.js";

/** Options of the WebSocket bridge (`ws-server.ts`); every limit has a default and bounds. */
export interface WsBridgeOptions {
  service: PresenceService;
  hub: FanoutHub;
  verify: TokenVerifier;
  limits: Pick<Limits, "maxRoomNameBytes" | "snapshotPageSize">;
  timings: Pick<Timings, "cursorTtlMs">;
  clock?: Clock;
  metrics?: Metrics;
  logger?: Logger;
  /** WebSocket engine: `auto` (uWS where it loads, else ws), `uws` or `ws` (select-engine.ts). Default `auto`. */
  engine?: WsEngineChoice;
  /** Message limit in bytes: larger frames close with 4503 (over twice it, the engine cuts them: uWS 1006, ws 1009). Default 65,536. */
  maxMessageBytes?: number;
  /** Idle timeout (s), 8..960. Default 30. */
  idleTimeoutSec?: number;
  /** Per-socket send-buffer cap (bytes): sends over it are refused and resynced later. Default 262,144. */
  maxBufferedBytes?: number;
  /** A socket behind (over its cap) for this long is closed with 4001. Default 30,000. */
  stallMs?: number;
  /** Rooms one socket may watch. Default 16. */
  maxWatchesPerSocket?: number;
  /** Frames of one socket received and not yet answered; more are refused with an ErrorFrame. Default 256. */
  maxPendingFrames?: number;
  /** Frames per second one socket may send on average (token bucket); over it: close 4006. Default 250. */
  maxFramesPerSec?: number;
  /** Frames one socket may send at once above the average rate (the bucket's size). Default 500. */
  frameBurst?: number;
  /** URL path of the WebSocket endpoint. Default `/ws`. */
  path?: string;
  /** Serve the demo page (`GET /`, `/app.js`) and its token endpoint on this port (`demo-routes.ts`). */
  demo?: DemoRoutesOptions;
  /** The client's address for quotas (trusted proxies' X-Forwarded-For); default: the peer address. */
  clientAddress?: ClientAddressOf;
  /** Per-address connection counting shared with the RPC port (PRESENCE_MAX_CONNECTIONS_PER_ADDRESS). */
  limiter?: ConnectionLimiter;
  /** Open and upgrading connections on this port (PRESENCE_WS_MAX_CONNECTIONS); more are refused with 503. Default 200,000. */
  maxConnections?: number;
  /** True while the process is short of file descriptors: upgrades are refused with 503. */
  acceptPaused?: () => boolean;
  /** HTTP request-head deadline and keep-alive idle time (ws engine; uWS: fixed 10 s). Default: node's. */
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** An upgrade refused for the limits above (metrics). */
  onRefused?: (reason: "total" | "per_address" | "accept_paused") => void;
}

export interface WsBridge {
  /** The engine in use (`uws` or `ws`). */
  readonly engine: WsEngineName;
  /** Binds the port (0 = any free port) and resolves with the bound port. */
  listen(port: number, host: string): Promise<{ port: number }>;
  /** Graceful shutdown: every socket closes with 4000 "draining". Idempotent. */
  close(): Promise<void>;
  /** Open sockets. */
  connectionCount(): number;
  /** The largest send buffer of any open socket (bytes). */
  maxBufferedBytes(): number;
  /** Open sockets that carry a session (joined and not ended). */
  sessionCount(): number;
  /** Rooms watched by open sockets, by detail (one per socket and room). */
  watchCount(): { full: number; counts: number };
}

export type ResolvedWsOptions = Required<Pick<WsBridgeOptions, "maxMessageBytes" | "idleTimeoutSec" | "maxBufferedBytes" | "stallMs" | "maxWatchesPerSocket" | "maxPendingFrames" | "maxFramesPerSec" | "frameBurst" | "path">>;

/** Defaults filled in, and options refused that uWS would turn into a process abort or an unbounded resource. */
export function resolveWsOptions(options: WsBridgeOptions): ResolvedWsOptions {
  const o: ResolvedWsOptions = {
    maxMessageBytes: options.maxMessageBytes ?? 65_536,
    idleTimeoutSec: options.idleTimeoutSec ?? 30,
    maxBufferedBytes: options.maxBufferedBytes ?? 262_144,
    stallMs: options.stallMs ?? 30_000,
    maxWatchesPerSocket: options.maxWatchesPerSocket ?? 16,
    maxPendingFrames: options.maxPendingFrames ?? 256,
    maxFramesPerSec: options.maxFramesPerSec ?? 250,
    frameBurst: options.frameBurst ?? 500,
    path: options.path ?? "/ws",
  };
  const check = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`ws bridge: ${name} must be an integer from ${min} to ${max} (got ${v})`);
  };
  check("idleTimeoutSec", o.idleTimeoutSec, 8, 960);
  check("maxMessageBytes", o.maxMessageBytes, 1, 1 << 30);
  check("maxBufferedBytes", o.maxBufferedBytes, 1, 1 << 30);
  check("stallMs", o.stallMs, 1, 86_400_000);
  check("maxWatchesPerSocket", o.maxWatchesPerSocket, 1, 1_000_000);
  check("maxPendingFrames", o.maxPendingFrames, 1, 1_000_000);
  check("maxFramesPerSec", o.maxFramesPerSec, 1, 1_000_000);
  check("frameBurst", o.frameBurst, 1, 1_000_000);
  if (!o.path.startsWith("/")) throw new Error(`ws bridge: path must start with "/" (got ${JSON.stringify(o.path)})`);
  return o;
}
