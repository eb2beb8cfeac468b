import type { WsSession } from "./ws-session.js";

/**
 * The port between the WebSocket bridge (`ws-server.ts`: sessions, broadcasts, limits, close
 * codes) and the library that speaks the WebSocket protocol. Two engines implement it:
 *
 * - `uws` (`engine-uws.ts`): uWebSockets.js, a native addon; the fast one, used wherever its
 *   binary loads (Node 20 here; any Node for which a `uWebSockets.js` build is installed);
 * - `ws` (`engine-ws.ts`): the `ws` package on node:http, pure JavaScript, runs on every Node.
 *
 * `selectWsEngine` (`select-engine.ts`) picks one (PRESENCE_WS_ENGINE). Both give the bridge the
 * same guarantees: the handlers below are called with the same meaning, sends report the same
 * three outcomes, a socket over its send-buffer cap refuses sends, and `end` runs the `close`
 * handler before it returns.
 */

/** `send` outcomes (uWS's numbers): handed to the kernel, queued in the send buffer, refused. */
export const SENT = 1;
export const BUFFERED = 0;
export const DROPPED = 2;

/**
 * One open socket as the bridge sees it. The method names are uWS's, so a uWS socket is one as is
 * (no wrapper object per connection); the ws engine wraps its sockets.
 */
export interface BridgeSocket {
  /** The socket's state (given when the upgrade was accepted); still readable after the close. */
  getUserData(): WsSession;
  /**
   * Sends one message: `SENT`, `BUFFERED`, or `DROPPED` when the send buffer was already over the
   * engine's cap (nothing is sent: a gap the bridge repairs with a snapshot). Never call it after
   * the `close` handler ran.
   */
  send(message: Uint8Array | string, isBinary: boolean): number;
  /** Bytes waiting in the socket's send buffer. */
  getBufferedAmount(): number;
  /** Sends a close frame; the `close` handler runs (with this code) before `end` returns. */
  end(code: number, reason: string): void;
}

/** What an engine is told about the bridge's endpoint (validated by the bridge first). */
export interface EngineSettings {
  /** URL path of the WebSocket endpoint. */
  path: string;
  /** Messages over this are cut by the engine (uWS: 1006, ws: 1009); the bridge checks the real limit. */
  maxPayloadBytes: number;
  /** A socket with no inbound traffic (pongs count) for this long is closed; pings every half of it. */
  idleTimeoutSec: number;
  /** Per-socket send-buffer cap: sends beyond it are `DROPPED`. */
  maxBufferedBytes: number;
  /**
   * Time for a new connection to send its complete HTTP request head (the upgrade), and how long an
   * idle HTTP keep-alive connection is kept (PRESENCE_HTTP_HEADERS_TIMEOUT_MS, …_KEEPALIVE_TIMEOUT_MS;
   * slowloris). The ws engine applies them; uWS has its own fixed 10 s HTTP timeout.
   */
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** ws engine: a socket the bridge closed is cut when the peer does not answer the close frame within this (uWS: its own). */
  closeTimeoutMs: number;
}

/** The headers and query parameter an upgrade is authenticated with. */
export interface UpgradeRequest {
  /** `Authorization` header ("" when absent). */
  authorization: string;
  /** `Sec-WebSocket-Protocol` values offered by the client. */
  protocols: string[];
  /** `?token=` query parameter ("" when absent). */
  queryToken: string;
  /** The client's address as the socket sees it ("" when unknown; no proxy header is read here). */
  remoteAddress: string;
  /** `User-Agent` header ("" when absent). */
  userAgent: string;
  /** `X-Forwarded-For` header ("" when absent): believed only from PRESENCE_TRUSTED_PROXIES. */
  forwardedFor: string;
}

/** Accept with this socket state (and subprotocol, "" for none), or refuse with an HTTP answer. */
export type UpgradeDecision = { accept: true; state: WsSession; protocol: string } | { accept: false; status: string; body: string };

/** Who sent a plain HTTP request: the peer address and the X-Forwarded-For header ("" when absent). */
export interface HttpPeer {
  remoteAddress: string;
  forwardedFor: string;
}

/** An HTTP answer (status line text such as "200 OK"). */
export interface HttpAnswer {
  status: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** The bridge's side: every engine calls these (and never lets them throw into the library). */
export interface EngineHandlers {
  /** Decides an upgrade (never rejects). */
  upgrade(req: UpgradeRequest): Promise<UpgradeDecision>;
  open(ws: BridgeSocket): void;
  /** One message; `data` is only valid during the call (copy what is kept). */
  message(ws: BridgeSocket, data: ArrayBuffer | Uint8Array, isBinary: boolean): void;
  /** The socket's send buffer went down after backpressure. */
  drain(ws: BridgeSocket): void;
  /** The socket closed (by either side, or the connection was lost: 1006). Called once per socket. */
  close(ws: BridgeSocket, code: number, reason: string): void;
  /**
   * A plain HTTP GET on the bridge's port (path without the query, raw query string, and the peer
   * as for an upgrade: its address and X-Forwarded-For, for the caller's quota).
   */
  httpGet(path: string, query: string, peer: HttpPeer): Promise<HttpAnswer>;
  /** An unexpected exception inside the engine's own code (counted and logged). */
  error(where: string, err: unknown): void;
}

/** Publish/subscribe on topics, where the engine has it natively (uWS); the bridge falls back to sends. */
export interface EngineTopics {
  /** Sends `bytes` (binary) to every subscriber of `topic` whose send buffer is not over its cap. */
  publish(topic: string, bytes: Uint8Array): void;
  subscribe(ws: BridgeSocket, topic: string): void;
  unsubscribe(ws: BridgeSocket, topic: string): void;
}

export type WsEngineName = "uws" | "ws";

/** PRESENCE_WS_ENGINE values: `auto` picks uWS where its binary loads, else ws (select-engine.ts). */
export const WS_ENGINE_CHOICES = ["auto", "uws", "ws"] as const;
export type WsEngineChoice = (typeof WS_ENGINE_CHOICES)[number];

export interface WsEngine {
  readonly name: WsEngineName;
  /** Native topics, or undefined: room broadcasts are sent to each socket (encoded once). */
  readonly topics: EngineTopics | undefined;
  /** Binds the port (0 = any free port) and resolves with the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting connections (open sockets stay). */
  stopListening(): void;
  /** Releases everything once the bridge has ended every socket (connections still open are cut). */
  close(): Promise<void>;
}

export type WsEngineFactory = (settings: EngineSettings, handlers: EngineHandlers) => WsEngine;
