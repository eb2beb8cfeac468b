import type { TokenVerifier } from "../../auth/verify-token.js";
import type { Clock } from "../../core/clock.js";
import type { Caller } from "../../core/identity.js";
import type { RoomEndedInfo } from "../../core/presence-event.js";
import type { Limits, Timings } from "../../core/options.js";
import type { FanoutHub } from "../../fanout/fanout-hub.js";
import type { Logger } from "../../logger.js";
import type { Metrics } from "../../metrics/registry.js";
import type { PresenceService } from "../../service/presence-service.js";
import type { ClientAddressOf } from "../http/client-address.js";
import type { ConnectionLimiter } from "../http/connection-limiter.js";
import type { DemoRoutesOptions } from "./demo-routes.js";
import type { BroadcastSender } from "./frame-handler.js";
import type { WsEngineChoice, WsEngineName } from "./ws-engine.js";

/** Options of the WebSocket bridge (`ws-server.ts`); every limit comes from the configuration (src/config/ws-spec.ts). */
export interface WsBridgeOptions {
  service: PresenceService;
  /** `broadcast` frames: PresenceService.Broadcast through the same service path as the RPC. */
  broadcast: BroadcastSender;
  hub: FanoutHub;
  verify: TokenVerifier;
  limits: Pick<Limits, "maxRoomNameBytes" | "snapshotPageSize">;
  timings: Pick<Timings, "cursorTtlMs" | "nodeRefreshMs">;
  clock?: Clock;
  metrics?: Metrics;
  logger?: Logger;
  /** WebSocket engine: `auto` (uWS where it loads, else ws), `uws` or `ws` (select-engine.ts). Default `auto`. */
  engine?: WsEngineChoice;
  /** Message limit in bytes (PRESENCE_MAX_REQUEST_BYTES): larger frames close with 4503 (over twice it, the engine cuts them: uWS 1006, ws 1009). */
  maxMessageBytes: number;
  /**
   * The per-socket limits of `Config.ws` (meaning, defaults and bounds: src/config/ws-spec.ts;
   * `loadConfig` enforces the bounds, among them uWS's idle timeout range 8..960 s).
   */
  idleTimeoutSec: number;
  maxBufferedBytes: number;
  stallMs: number;
  maxWatchesPerSocket: number;
  maxPendingFrames: number;
  maxFramesPerSec: number;
  frameBurst: number;
  closeTimeoutMs: number;
  /** URL path of the WebSocket endpoint. Default `/ws`. */
  path?: string;
  /** Serve the demo page (`GET /`, `/app.js`) and its token endpoint on this port (`demo-routes.ts`). */
  demo?: DemoRoutesOptions;
  /** The client's address for quotas (trusted proxies' X-Forwarded-For); default: the peer address. */
  clientAddress?: ClientAddressOf;
  /** Per-address connection counting shared with the RPC port (PRESENCE_MAX_CONNECTIONS_PER_ADDRESS). */
  limiter?: ConnectionLimiter;
  /** Open and upgrading connections on this port (PRESENCE_WS_MAX_CONNECTIONS); more are refused with 503. */
  maxConnections: number;
  /** True while the process is short of file descriptors: upgrades are refused with 503. */
  acceptPaused?: () => boolean;
  /** HTTP request-head deadline and keep-alive idle time (PRESENCE_HTTP_HEADERS_TIMEOUT_MS, …_KEEPALIVE_TIMEOUT_MS; ws engine; uWS: fixed 10 s). */
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /**
   * Charges one request to the caller's `requests_per_second` quota (AccessGuard.chargeRequest):
   * each upgrade (after its token is verified) and each plain GET on this port (the demo page and
   * its token route, as the anonymous caller of the client's address). Throws QUOTA_EXCEEDED:
   * answered 429. Frames on an open socket have their own per-socket rate (maxFramesPerSec).
   */
  chargeRequest?: (caller: Caller) => void;
  /**
   * The end of `room` when it was ended recently (inside its tombstone), else null. Asked when a
   * node refresh finds a socket's session gone: EndRoom ends a session with its last room, and the
   * refresh may come before the room's `ended` message; the socket then gets `room_ended` and stays
   * open instead of closing with 4005. Without it, such a socket is closed with 4005.
   */
  endedRoom?: (room: string) => Promise<RoomEndedInfo | null>;
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

export type ResolvedWsOptions = Required<Pick<WsBridgeOptions, "maxMessageBytes" | "idleTimeoutSec" | "maxBufferedBytes" | "stallMs" | "maxWatchesPerSocket" | "maxPendingFrames" | "maxFramesPerSec" | "frameBurst" | "closeTimeoutMs" | "path">>;

/** The path filled in (`/ws`) and checked; the limits are taken as configured (loadConfig checked their bounds). */
export function resolveWsOptions(options: WsBridgeOptions): ResolvedWsOptions {
  const path = options.path ?? "/ws";
  if (!path.startsWith("/")) throw new Error(`ws bridge: path must start with "/" (got ${JSON.stringify(path)})`);
  return { ...options, path };
}
