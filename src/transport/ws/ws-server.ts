import { systemClock } from "../../core/clock.js";
import { draining, limitExceeded } from "../../core/presence-error.js";
import type { Detail } from "../../fanout/fanout-hub.js";
import { CLOSE, closeCodeLabel, closeFor, errorFrameFor } from "./close-codes.js";
import { chargePlainGet, createDemoRoutes, HTTP_ANSWERS } from "./demo-routes.js";
import { createExpiryQueue } from "./expiry-queue.js";
import { createFrameHandler } from "./frame-handler.js";
import { takeFrameToken } from "./frame-rate.js";
import { decodeClientFrame, lazyFrame, type EncodedFrame, type ServerFrameInit } from "./frames.js";
import { createRoomBroadcaster, topicOf, type RoomBroadcaster, type Socket, type SocketIo } from "./room-broadcaster.js";
import { selectWsEngine } from "./select-engine.js";
import { createUpgradeHandler } from "./upgrade-handler.js";
import { createSocketUserWatches } from "./socket-user-watch.js";
import { resolveWsOptions, type WsBridge, type WsBridgeOptions } from "./ws-bridge-options.js";
import { DROPPED, type EngineHandlers } from "./ws-engine.js";
import { addWatch, findWatch, removeWatch, socketLogFields, type SocketWatch, type WsSession } from "./ws-session.js";

export type { WsBridge, WsBridgeOptions } from "./ws-bridge-options.js";

/**
 * The WebSocket bridge (frames.proto) on `/ws`, over one of two engines (`ws-engine.ts`:
 * uWebSockets.js where its binary loads, else the `ws` package; PRESENCE_WS_ENGINE). Everything
 * that makes the bridge's guarantees lives here, the same for both:
 *
 * - message limit: the engine cuts messages over twice `maxMessageBytes` (uWS 1006, ws 1009); one
 *   between the limit and twice it reaches us and is closed with 4503;
 * - idle timeout (validated to 8..960 s first: other values abort uWS) with pings every half of
 *   it, so a peer that vanished without a close frame is closed after at most the idle timeout,
 *   and its session then enters the reconnect grace (design I1: abrupt loss leaves within idle
 *   timeout + grace + one reaper interval);
 * - send-buffer cap (`maxBufferedBytes`): a socket over it misses deliveries, is marked, and gets
 *   fresh snapshots when it drains (uWS publishes skip it silently, uws-notes §2: the room
 *   broadcaster checks the cap before every publish). A socket that stays behind for `stallMs` is
 *   closed with 4001 (checked every `stallMs / 4`, at most every second);
 * - frame rate limit (token bucket, before decoding: 4006), frames in flight per socket, watches
 *   per socket.
 *
 * Authentication happens at the upgrade (`upgrade-handler.ts`); a socket whose token expires is
 * closed with 4003 (one timer for all sockets: `expiry-queue.ts`). Handler errors are counted in
 * `presence_ws_handler_errors_total` and close the socket with 4002; none reaches the engine (on
 * uWS it would kill the process, uws-notes §6.6).
 *
 * Shutdown (`close`): stop listening, close every socket with 4000 "draining" (their sessions are
 * unbound, which starts the reconnect grace, so clients reclaim them on another node), stop the
 * room broadcasters, and resolve once every socket's session cleanup has reached the service.
 */
/** The start of a socket's frame chain when nothing is in flight (shared: no promise per socket). */
const RESOLVED: Promise<void> = Promise.resolve();

/** Creates the bridge (nothing listens until `listen`). Throws on invalid options. */
export function createWsBridge(options: WsBridgeOptions): WsBridge {
  const o = resolveWsOptions(options);
  const maxConnections = options.maxConnections;
  /** Connections counted against the limits: open sockets and upgrades being authenticated. */
  let admitted = 0;
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics;
  const log = options.logger;
  const cap = o.maxBufferedBytes;
  const selected = selectWsEngine(options.engine ?? "auto"); // throws when `uws` is asked for and does not load
  if (selected.warning) log?.warn(selected.warning);

  const sockets = new Set<Socket>();
  /** Sockets that missed deliveries (or a reply): resynced when they drain, closed when stuck. */
  const troubled = new Set<Socket>();
  const broadcasters = new Map<string, RoomBroadcaster>();
  const cleanups = new Set<Promise<void>>();
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

  /** Runs a handler body: an exception thrown into the engine would kill the process (uWS). */
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
    if (result === DROPPED) {
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
      if (watch.subscribed && !ws.getUserData().closed) engine.topics?.unsubscribe(ws, topicOf(watch.room));
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
      topics: engine.topics,
      snapshotPageSize: options.limits.snapshotPageSize,
      cursorTtlMs: options.timings.cursorTtlMs,
      onPublished: (n) => metrics?.wsFramesSent.inc(n),
      onError: (err) => {
        metrics?.loopErrors.inc({ loop: "ws_broadcast" });
        log?.error("websocket broadcast failed", { err });
      },
      onEnded: () => {
        // The room ended: every socket got its `ended` frame; their watches of it are over.
        if (broadcasters.get(room) === b) broadcasters.delete(room);
        for (const ws of b.sockets()) guard("watch_ended", ws, () => {
          b.remove(ws);
          removeWatch(ws.getUserData(), room);
        });
        b.stop();
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

  function prepareWatch(ws: Socket, room: string, detail: Detail, release: () => void): () => void {
    const s = ws.getUserData();
    if (!findWatch(s, room) && s.watches.length >= o.maxWatchesPerSocket) {
      throw limitExceeded("watch.room", o.maxWatchesPerSocket, s.watches.length + 1, "watched rooms per socket", "TOO_MANY_ROOMS");
    }
    if (closing) throw draining();
    return () => {
      if (s.closed) return release();
      unwatch(ws, room); // watching again restarts with a fresh snapshot
      const w: SocketWatch = { room, detail, needsSnapshot: false, subscribed: false, started: false, release };
      addWatch(s, w);
      broadcasterFor(room).add(ws, w);
    };
  }

  const userWatches = createSocketUserWatches<Socket>({
    service: options.service,
    clock,
    send: (ws, frame) => {
      if (ws.getUserData().closed || ws.getBufferedAmount() > cap) return false;
      return sendFrame(ws, lazyFrame(frame));
    },
    backedUp: (ws) => ws.getBufferedAmount() > cap / 2,
    isClosed: (ws) => ws.getUserData().closed,
  });

  const handler = createFrameHandler({
    service: options.service,
    reply,
    prepareWatch,
    unwatch: (ws, room) => unwatch(ws, room),
    sessionLost: (ws) =>
      guard("session_lost", ws, () => {
        if (!ws.getUserData().closed) ws.end(CLOSE.SESSION_ENDED.code, CLOSE.SESSION_ENDED.reason);
      }),
    watchUsers: (ws, userIds) => userWatches.start(ws, ws.getUserData().caller, userIds),
    unwatchUsers: (ws) => userWatches.stop(ws),
    onRejected: (err) => metrics?.rejections.inc({ reason: err.reason }),
    onError: (err) => failed("frame", err, null),
  });

  /** Sockets with an expiring token, closed with 4003 when it expires. */
  const expiry = createExpiryQueue<Socket>({
    clock,
    isGone: (ws) => ws.getUserData().closed,
    expired: (ws) => guard("token_expiry", ws, () => ws.end(CLOSE.TOKEN_EXPIRED.code, CLOSE.TOKEN_EXPIRED.reason)),
  });

  const demo = options.demo ? createDemoRoutes(options.demo) : undefined;
  const handlers: EngineHandlers = {
    upgrade: createUpgradeHandler({
      verify: options.verify,
      isClosing: () => closing !== null,
      onAuthFailure: (reason) => metrics?.authFailures.inc({ reason }),
      clientAddress: options.clientAddress,
      charge: options.chargeRequest,
      admit(peer) {
        if (admitted >= maxConnections || options.acceptPaused?.()) {
          options.onRefused?.(admitted >= maxConnections ? "total" : "accept_paused");
          return "total";
        }
        const release = options.limiter ? options.limiter.admit(peer) : () => {};
        if (release === null) {
          options.onRefused?.("per_address");
          return "per_address";
        }
        admitted++;
        let done = false;
        return () => {
          if (done) return;
          done = true;
          admitted--;
          release();
        };
      },
    }),

    httpGet: async (path, query, peer) => {
      const refused = chargePlainGet(options, peer, (reason) => metrics?.rejections.inc({ reason }));
      if (refused) return refused;
      if (path === o.path) return HTTP_ANSWERS.upgradeRequired;
      try {
        return (await demo?.(path, query)) ?? HTTP_ANSWERS.notFound;
      } catch (err) {
        failed("demo", err, null);
        return HTTP_ANSWERS.internal;
      }
    },

    error: (where, err) => failed(where, err, null),

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

    close: (ws, code, reason) => {
      guard("close", null, () => {
        const s = ws.getUserData();
        if (s.closed) return;
        s.closed = true;
        s.releaseConnection?.();
        sockets.delete(ws);
        troubled.delete(ws);
        if (s.tokenExpiresAtMs > clock.now()) expiry.forget(); // still queued: dropped later
        metrics?.wsConnections.dec();
        metrics?.wsCloses.inc({ code: closeCodeLabel(code) });
        if (code !== CLOSE.NORMAL.code) log?.debug("websocket closed", { ...socketLogFields(s), code, reason });
        for (const w of s.watches) unwatch(ws, w.room);
        userWatches.stop(ws);
        // After the frames in flight: a normal close (1000) ends the session now, any other close
        // only unbinds it (reconnect grace).
        const done = (s.chain ?? RESOLVED).then(() => handler.endSession(s, code === CLOSE.NORMAL.code)).catch((err: unknown) => failed("close", err, null, s));
        s.chain = done;
        cleanups.add(done);
        void done.finally(() => cleanups.delete(done));
      });
    },
  };

  const engine = selected.create(
    { path: o.path, maxPayloadBytes: 2 * o.maxMessageBytes, idleTimeoutSec: o.idleTimeoutSec, maxBufferedBytes: cap, headersTimeoutMs: options.headersTimeoutMs, keepAliveTimeoutMs: options.keepAliveTimeoutMs },
    handlers,
  );

  return {
    engine: engine.name,

    async listen(port, host) {
      return { port: await engine.listen(port, host) };
    },

    close() {
      closing ??= (async () => {
        engine.stopListening();
        for (const ws of [...sockets]) guard("shutdown", null, () => ws.end(CLOSE.DRAINING.code, CLOSE.DRAINING.reason));
        for (const b of [...broadcasters.values()]) b.stop();
        broadcasters.clear();
        maintenance.cancel();
        expiry.stop();
        await Promise.all([...cleanups]);
        await engine.close();
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
