import type { Clock } from "../../../src/core/clock.js";
import type { BackoffOptions } from "./backoff.js";
import type { FrameScheduler } from "./cursor-helper.js";
import { PresenceClientError } from "./errors.js";
import { createConnectPresenceTransport } from "./transport-connect.js";
import { createWebSocketPresenceTransport, type WebSocketConstructor } from "./transport-websocket.js";
import type { PresenceTransport, TokenSource } from "./transport.js";
import type { VisibilityOptions } from "./visibility.js";

/** Options of `createPresenceClient`. Every timing has a default; tests shrink them. */
export interface PresenceClientOptions {
  /** Default: from the URL's scheme, `ws:`/`wss:` the WebSocket bridge, `http:`/`https:` Connect. */
  transport?: "websocket" | "connect" | undefined;
  /** WebSocket: the bridge URL (`wss://host:8081/ws`). Connect: the RPC base URL (`https://host:8080`). */
  url: string;
  /** Bearer JWT, or a function returning a fresh one (called at every (re)connect). None: anonymous. */
  token?: TokenSource | undefined;
  /** WebSocket constructor (default: the global one, looked up at the first connect; Node 20 has none: pass `ws`). */
  webSocket?: WebSocketConstructor | undefined;
  /** WebSocket: send the token as subprotocol `bearer.<jwt>` (default) or `?token=`. */
  tokenVia?: "protocol" | "query" | undefined;
  /** fetch for the Connect transport (default: the global one). */
  fetch?: typeof globalThis.fetch | undefined;
  /** Connect: heartbeat interval (default: the lease's, 30 s). */
  heartbeatIntervalMs?: number | undefined;
  reconnect?: BackoffOptions | undefined;
  /** Page-visibility rules; `false` turns them off. */
  visibility?: VisibilityOptions | false | undefined;
  typing?: { idleMs?: number | undefined; refreshMs?: number | undefined } | undefined;
  /**
   * Input activity (browsers): keyboard, pointer, wheel and touch events on the page send an
   * activity signal (a Heartbeat with ACTIVE) at most once per `activitySignalMs` (default 30 s),
   * so the server does not make the user away by silence while they use the page (server-side
   * away, PRESENCE_AWAY_AFTER_MS). `false` turns it off (call `client.signalActivity()` yourself).
   */
  trackInput?: boolean | undefined;
  activitySignalMs?: number | undefined;
  /** Minimum time between two typed-presence updates sent for one room (later calls are merged). Default 100 ms. */
  presenceIntervalMs?: number | undefined;
  /**
   * Largest broadcast payload sent (serialized bytes); a larger one is refused here with
   * `MESSAGE_TOO_LARGE` before anything is sent. Default 4,096, the server's default
   * PRESENCE_BROADCAST_MAX_BYTES (the server's own limit still applies).
   */
  broadcastMaxBytes?: number | undefined;
  /** Frame scheduler for cursor updates (default: requestAnimationFrame, else 16 ms). */
  frameScheduler?: FrameScheduler | undefined;
  /** Anonymous viewers: an id kept by the client so several tabs count once (default: kept in localStorage). */
  anonymousId?: string | undefined;
  /** Deadline of requests and of opening a connection. Default 10,000 ms. */
  requestTimeoutMs?: number | undefined;
  /** Treat the connection as lost after this long without any message while watching. Default 90,000 ms; 0 = never. */
  staleAfterMs?: number | undefined;
  clock?: Clock | undefined;
  /** @private A transport to use instead of the built-in ones (tests). */
  transportImpl?: PresenceTransport | undefined;
}

export const DEFAULT_HEARTBEAT_MS = 30_000;
export const DEFAULT_STALE_MS = 90_000;
/** The server's default PRESENCE_BROADCAST_MAX_BYTES (src/config/backend-spec.ts). */
export const DEFAULT_BROADCAST_MAX_BYTES = 4_096;

/** The transport the options name, else the one the URL's scheme implies. */
export function transportOf(o: Pick<PresenceClientOptions, "transport" | "url">): "websocket" | "connect" {
  if (o.transport) return o.transport;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(o.url)?.[1]?.toLowerCase();
  if (scheme === "ws" || scheme === "wss") return "websocket";
  if (scheme === "http" || scheme === "https") return "connect";
  throw new Error(`createPresenceClient: url "${o.url}" starts with neither ws(s):// (the WebSocket bridge) nor http(s):// (Connect); pass \`transport\``);
}

/** The transport the options ask for. */
export function makeTransport(o: PresenceClientOptions, clock: Clock): PresenceTransport {
  if (o.transportImpl) return o.transportImpl;
  if (transportOf(o) === "connect") {
    return createConnectPresenceTransport({ baseUrl: o.url, token: o.token, fetch: o.fetch, requestTimeoutMs: o.requestTimeoutMs });
  }
  return createWebSocketPresenceTransport({
    url: o.url,
    token: o.token,
    webSocket: o.webSocket,
    tokenVia: o.tokenVia,
    clock,
    connectTimeoutMs: o.requestTimeoutMs,
    requestTimeoutMs: o.requestTimeoutMs,
  });
}

/** Anything thrown, as a PresenceClientError (unknown failures are worth a retry). */
export function asClientError(e: unknown): PresenceClientError {
  if (e instanceof PresenceClientError) return e;
  return new PresenceClientError("unknown", e instanceof Error ? e.message : String(e), undefined, { cause: e });
}

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A random id of [A-Za-z0-9_-] (request ids, anonymous ids). */
export function randomId(length: number): string {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let s = "";
  for (const b of bytes) s += ID_CHARS[b & 63];
  return s;
}

const ANON_KEY = "presence.anonymousId";

/** The anonymous id to send: the option, else one kept in localStorage, else none (the server picks). */
export function anonymousIdOf(o: PresenceClientOptions): string {
  if (o.anonymousId) return o.anonymousId;
  try {
    const storage = (globalThis as { localStorage?: Storage }).localStorage;
    if (!storage) return "";
    let id = storage.getItem(ANON_KEY);
    if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      id = randomId(22);
      storage.setItem(ANON_KEY, id);
    }
    return id;
  } catch {
    return ""; // storage disabled (privacy mode)
  }
}
