import uWS from "uWebSockets.js";
import type { TemplatedApp, us_listen_socket } from "uWebSockets.js";
import type { TokenVerifier } from "../../auth/verify-token.js";
import { systemClock, type Clock } from "../../core/clock.js";
import type { Limits, Timings } from "../../core/options.js";
import { draining, limitExceeded } from "../../core/presence-error.js";
import { parseRoomName } from "../../core/room-name.js";
import type { Detail, FanoutHub } from "../../fanout/fanout-hub.js";
import type { Logger } from "../../logger.js";
import type { Metrics } from "../../metrics/registry.js";
import type { PresenceService } from "../../service/presence-service.js";
import { CLOSE, closeCodeLabel, closeFor, errorFrameFor } from "./close-codes.js";
import { registerDemoRoutes, type DemoRoutesOptions } from "./demo-routes.js";
import { createFrameHandler } from "./frame-handler.js";
import { takeFrameToken } from "./frame-rate.js";
import { decodeClientFrame, lazyFrame, type EncodedFrame, type ServerFrameInit } from "./frames.js";
import { createRoomBroadcaster, topicOf, type RoomBroadcaster, type Socket, type SocketIo } from "./room-broadcaster.js";
import { createExpiryQueue } from "./expiry-queue.js";
import { createUpgradeHandler } from "./upgrade-handler.js";
import { addWatch, findWatch, removeWatch, socketLogFields, type SocketWatch, type WsSession } from "./ws-session.js";

/**
 * The WebSocket bridge (frames.proto): a uWebSockets.js App serving `/ws`.
 *
 * Behaviour options are set on purpose (uws-notes §1, §6.7): `maxPayloadLength` is twice the
 * message limit, so a frame between the limit and twice it reaches us and is closed with 4503,
 * and a larger one is cut by uWS (1006); `idleTimeout` (bounded to 8..960 s by the config spec:
 * other values abort the process) with automatic pings every half of it, so a peer that vanished without a
 * close frame is closed after at most the idle timeout, and its session then enters the reconnect
 * grace (design I1: abrupt loss leaves within idle timeout + grace + one reaper interval);
 * `maxBackpressure` is the per-socket buffered-bytes cap with `closeOnBackpressureLimit` off: a
 * socket over it misses deliveries, is marked, and gets fresh snapshots when it drains. A socket
 * that stays behind for `stallMs` is closed with 4001 (checked every `stallMs / 4`, at most every
 * second).
 *
 * Authentication happens at the upgrade (`upgrade-handler.ts`); a socket whose token expires is
 * closed with 4003 (one timer for all sockets: `expiry-queue.ts`).
 *
 * Every uWS handler body runs inside try/catch (an exception there kills the process, uws-notes
 * §6.6); errors are counted in `presence_ws_handler_errors_total` and close the socket with 4002.
 *
 * Shutdown (`close`): stop listening, close every socket with 4000 "draining" (their sessions are
 * unbound, which starts the reconnect grace, so clients reclaim them on another node), stop the
 * room broadcasters, and resolve once every socket's session cleanup has reached the service.
 */
export interface WsBridgeOptions {
  service: PresenceService;
  hub: FanoutHub;
  verify: TokenVerifier;
  limits: Pick<Limits, "maxRoomNameBytes" | "snapshotPageSize">;
  timings: Pick<Timings, "cursorTtlMs">;
  clock?: Clock;
  metrics?: Metrics;
  logger?: Logger;
  /** Message limit in bytes (PRESENCE_MAX_REQUEST_BYTES): larger frames close with 4503 (over twice it, 1006). */
  maxMessageBytes: number;
  /** The per-socket limits of `Config.ws` (meaning, defaults and bounds: src/config/ws-spec.ts; validated there). */
  idleTimeoutSec: number;
  maxBufferedBytes: number;
  stallMs: number;
  maxWatchesPerSocket: number;
  maxPendingFrames: number;
  maxFramesPerSec: number;
  frameBurst: number;
  /** URL path of the WebSocket endpoint. Default `/ws`. */
  path?: string;
  /** Serve the demo page (`GET /`, `/app.js`) and its token endpoint on this port (`demo-routes.ts`). */
  demo?: DemoRoutesOptions;
}

export interface WsBridge {
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

/** The start of a socket's frame chain when nothing is in flight (shared: no promise per socket). */
const RESOLVED: Promise<void> = Promise.resolve();

/** Creates the bridge (nothing listens until `listen`). Takes its limits as `loadConfig` validated them. */
export function createWsBridge(options: WsBridgeOptions): WsBridge {
  if (typeof uWS.SSLApp !== "function") throw new Error("uWebSockets.js native addon not loaded (JS fallback active): use Node 20");
  const o = options;
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics;
  const log = options.logger;
  const cap = o.maxBufferedBytes;
  const path = options.path ?? "/ws";

  const app: TemplatedApp = uWS.App();
  const sockets = new Set<Socket>();
  /** Sockets that missed deliveries (or a reply): resynced when they drain, closed when stuck. */
  const troubled = new Set<Socket>();
  const broadcasters = new Map<string, RoomBroadcaster>();
  const cleanups = new Set<Promise<void>>();
  let listenSocket: us_listen_socket | null = null;
  let closing: Promise<void> | null = null;

  function failed(handler: string, err: unknown, ws: Socket | null, s?: WsSession) {
    metrics?.wsHandlerErrors.inc({ handler });
    log?.error("websocket handler failed", { handler, ...socketLogFields(s ?? (ws ? ws.getUserData() : undefined)), err });
    if (ws && !ws.getUserData().closed) {
      try {
        const close = closeFor(err); // 4002 for anything but a PresenceError
        ws.end(close.code, close.reason);
      } catch {
        // already gone
      }
    }
  }

  /** Runs a handler body: an exception thrown out of a uWS handler would kill the process. */
  function guard(handler: string, ws: Socket | null, fn: () => void) {
    try {
      fn();
    } catch (err) {
      failed(handler, err, ws);
    }
  }

  function sendFrame(ws: Socket, frame: EncodedFrame): boolean {
    const s = ws.getUserData();
    if (s.closed) return false;
    const result = s.json ? ws.send(frame.json(), false) : ws.send(frame.binary(), true);
    if (result === 2) {
      metrics?.wsFramesDropped.inc();
      metrics?.deliveriesDropped.inc({ transport: "ws", reason: "send_dropped" });
      return false;
    }
    metrics?.wsFramesSent.inc();
    return true;
  }

  function markTroubled(ws: Socket) {
    const s = ws.getUserData();
    if (s.overCapSince === 0) s.overCapSince = clock.now();
    troubled.add(ws);
  }

  const io: SocketIo = {
    send: sendFrame,
    overCap(ws) {
      if (ws.getBufferedAmount() <= cap) return false;
      metrics?.deliveriesDropped.inc({ transport: "ws", reason: "over_cap" });
      return true;
    },
    behind(ws, watch) {
      if (!watch.needsSnapshot) metrics?.wsSlowConsumerResyncs.inc();
      watch.needsSnapshot = true;
      if (watch.subscribed && !ws.getUserData().closed) ws.unsubscribe(topicOf(watch.room));
      watch.subscribed = false;
      markTroubled(ws);
    },
  };

  function reply(ws: Socket, frame: ServerFrameInit) {
    if (ws.getUserData().closed) return;
    if (!sendFrame(ws, lazyFrame(frame))) markTroubled(ws); // a lost answer: the stall check applies
  }

  /** The socket drained: owed snapshots are sent now, and it is subscribed again in the same tick. */
  function catchUp(ws: Socket) {
    const s = ws.getUserData();
    troubled.delete(ws);
    s.overCapSince = 0;
    for (const w of s.watches) if (w.needsSnapshot) broadcasters.get(w.room)?.resync(ws, w);
  }

  function maintain() {
    const now = clock.now();
    for (const ws of [...troubled]) {
      guard("maintenance", ws, () => {
        const s = ws.getUserData();
        if (s.closed) {
          troubled.delete(ws);
          return;
        }
        if (ws.getBufferedAmount() <= cap / 2) catchUp(ws);
        else if (now - s.overCapSince >= o.stallMs) ws.end(CLOSE.SLOW_CONSUMER.code, CLOSE.SLOW_CONSUMER.reason);
      });
    }
  }
  const maintenance = clock.setInterval(() => maintain(), Math.min(1_000, Math.max(25, Math.floor(o.stallMs / 4))));

  function broadcasterFor(room: string): RoomBroadcaster {
    const existing = broadcasters.get(room);
    if (existing) return existing;
    const b: RoomBroadcaster = createRoomBroadcaster({
      room,
      hub: options.hub,
      clock,
      io,
      publish: (topic, bytes) => app.publish(topic, bytes, true),
      snapshotPageSize: options.limits.snapshotPageSize,
      cursorTtlMs: options.timings.cursorTtlMs,
      onPublished: (n) => metrics?.wsFramesSent.inc(n),
      onError: (err) => {
        metrics?.loopErrors.inc({ loop: "ws_broadcast" });
        log?.error("websocket broadcast failed", { err });
      },
      onFailed: (err) => {
        // The room's hub watch ended (store down, process full): tell its sockets, forget the room.
        if (broadcasters.get(room) === b) broadcasters.delete(room);
        for (const ws of b.sockets()) {
          guard("watch_failed", ws, () => {
            b.remove(ws);
            removeWatch(ws.getUserData(), room);
            reply(ws, { requestId: 0, frame: { case: "error", value: errorFrameFor(err, { room }) } });
          });
        }
        b.stop();
      },
    });
    broadcasters.set(room, b);
    return b;
  }

  function unwatch(ws: Socket, room: string) {
    const s = ws.getUserData();
    if (!removeWatch(s, room)) return;
    const b = broadcasters.get(room);
    if (!b) return;
    b.remove(ws);
    if (b.size() === 0) {
      b.stop();
      broadcasters.delete(room);
    }
  }

  function prepareWatch(ws: Socket, value: string, detail: Detail): () => void {
    const s = ws.getUserData();
    const room = parseRoomName(value, options.limits.maxRoomNameBytes);
    if (!findWatch(s, room) && s.watches.length >= o.maxWatchesPerSocket) {
      throw limitExceeded("watch.room", o.maxWatchesPerSocket, s.watches.length + 1, "watched rooms per socket", "TOO_MANY_ROOMS");
    }
    if (closing) throw draining();
    return () => {
      if (s.closed) return;
      unwatch(ws, room); // watching again restarts with a fresh snapshot
      const w: SocketWatch = { room, detail, needsSnapshot: false, subscribed: false, started: false };
      addWatch(s, w);
      broadcasterFor(room).add(ws, w);
    };
  }

  const handler = createFrameHandler({
    service: options.service,
    reply,
    prepareWatch,
    unwatch: (ws, room) => unwatch(ws, room),
    sessionLost: (ws) =>
      guard("session_lost", ws, () => {
        if (!ws.getUserData().closed) ws.end(CLOSE.SESSION_ENDED.code, CLOSE.SESSION_ENDED.reason);
      }),
    onRejected: (err) => metrics?.rejections.inc({ reason: err.reason }),
    onError: (err) => failed("frame", err, null),
  });

  /** Sockets with an expiring token, closed with 4003 when it expires. */
  const expiry = createExpiryQueue<Socket>({
    clock,
    isGone: (ws) => ws.getUserData().closed,
    expired: (ws) => guard("token_expiry", ws, () => ws.end(CLOSE.TOKEN_EXPIRED.code, CLOSE.TOKEN_EXPIRED.reason)),
  });

  app.ws<WsSession>(path, {
    maxPayloadLength: 2 * o.maxMessageBytes,
    idleTimeout: o.idleTimeoutSec,
    sendPingsAutomatically: true,
    maxBackpressure: cap,
    closeOnBackpressureLimit: 0,
    maxLifetime: 0,
    compression: uWS.DISABLED,

    upgrade: createUpgradeHandler({
      verify: options.verify,
      isClosing: () => closing !== null,
      onAuthFailure: (reason) => metrics?.authFailures.inc({ reason }),
      onError: (err) => failed("upgrade", err, null),
    }),

    open: (ws) => {
      guard("open", ws, () => {
        sockets.add(ws);
        metrics?.wsConnections.inc();
        const fresh = ws.getUserData();
        fresh.frameTokens = o.frameBurst;
        fresh.frameTokensAtMs = clock.now();
        if (closing) return ws.end(CLOSE.DRAINING.code, CLOSE.DRAINING.reason);
        const expiresAt = ws.getUserData().tokenExpiresAtMs;
        if (expiresAt > 0) expiry.add(ws, expiresAt);
      });
    },

    message: (ws, message, isBinary) => {
      guard("message", ws, () => {
        const s = ws.getUserData();
        if (!takeFrameToken(s, clock.now(), o.maxFramesPerSec, o.frameBurst)) {
          metrics?.wsFramesRejected.inc({ reason: "rate_limited" });
          ws.end(CLOSE.RATE_LIMITED.code, CLOSE.RATE_LIMITED.reason);
          return;
        }
        const d = decodeClientFrame(message, isBinary, o.maxMessageBytes); // copies the bytes now
        if (!d.ok) {
          metrics?.wsFramesRejected.inc({ reason: d.rejection });
          ws.end(d.close.code, d.close.reason);
          return;
        }
        s.json ??= d.json;
        metrics?.wsFramesReceived.inc({ type: d.frame.frame.case });
        if (s.pendingFrames >= o.maxPendingFrames) {
          metrics?.wsFramesRejected.inc({ reason: "too_many_pending" });
          const err = limitExceeded("frames", o.maxPendingFrames, s.pendingFrames + 1, "frames in flight per socket", "RATE_LIMITED");
          reply(ws, { requestId: d.frame.requestId, frame: { case: "error", value: errorFrameFor(err) } });
          return;
        }
        s.pendingFrames++;
        const p: Promise<void> = (s.chain ?? RESOLVED)
          .then(() => handler.handle(ws, d.frame))
          .catch((err: unknown) => failed("frame", err, null, s))
          .finally(() => {
            // The last frame in flight is done: an idle socket keeps no promise.
            if (--s.pendingFrames === 0 && s.chain === p) s.chain = null;
          });
        s.chain = p;
      });
    },

    drain: (ws) => {
      guard("drain", ws, () => {
        if (troubled.has(ws) && ws.getBufferedAmount() <= cap / 2) catchUp(ws);
      });
    },

    close: (ws, code, message) => {
      guard("close", null, () => {
        const s = ws.getUserData();
        if (s.closed) return;
        s.closed = true;
        sockets.delete(ws);
        troubled.delete(ws);
        if (s.tokenExpiresAtMs > clock.now()) expiry.forget(); // still queued: dropped later
        metrics?.wsConnections.dec();
        metrics?.wsCloses.inc({ code: closeCodeLabel(code) });
        if (code !== CLOSE.NORMAL.code) log?.debug("websocket closed", { ...socketLogFields(s), code, reason: Buffer.from(message).toString("utf8") });
        for (const w of s.watches) unwatch(ws, w.room);
        // After the frames in flight: a normal close (1000) ends the session now, any other close
        // only unbinds it (reconnect grace).
        const done = (s.chain ?? RESOLVED).then(() => handler.endSession(s, code === CLOSE.NORMAL.code)).catch((err: unknown) => failed("close", err, null, s));
        s.chain = done;
        cleanups.add(done);
        void done.finally(() => cleanups.delete(done));
      });
    },
  });

  app.get(path, (res) => {
    res.writeStatus("426 Upgrade Required").writeHeader("content-type", "text/plain; charset=utf-8").end("WebSocket endpoint: upgrade required");
  });
  if (options.demo) registerDemoRoutes(app, { onError: (err) => failed("demo", err, null), ...options.demo });
  app.any("/*", (res) => {
    res.writeStatus("404 Not Found").end();
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        app.listen(host, port, (ls) => {
          if (!ls) {
            reject(new Error(`ws bridge: cannot listen on ${host}:${port} (EADDRINUSE or not permitted)`));
            return;
          }
          listenSocket = ls;
          resolve({ port: uWS.us_socket_local_port(ls) });
        });
      });
    },

    close() {
      closing ??= (async () => {
        if (listenSocket) uWS.us_listen_socket_close(listenSocket);
        listenSocket = null;
        for (const ws of [...sockets]) guard("shutdown", null, () => ws.end(CLOSE.DRAINING.code, CLOSE.DRAINING.reason));
        for (const b of [...broadcasters.values()]) b.stop();
        broadcasters.clear();
        maintenance.cancel();
        expiry.stop();
        await Promise.all([...cleanups]);
      })();
      return closing;
    },

    connectionCount: () => sockets.size,

    sessionCount() {
      let n = 0;
      for (const ws of sockets) if (ws.getUserData().session) n++;
      return n;
    },

    watchCount() {
      const c = { full: 0, counts: 0 };
      for (const ws of sockets) for (const w of ws.getUserData().watches) c[w.detail]++;
      return c;
    },

    maxBufferedBytes() {
      let max = 0;
      for (const ws of sockets) max = Math.max(max, ws.getBufferedAmount());
      return max;
    },
  };
}
