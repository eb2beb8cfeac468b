import { systemClock } from "../../core/clock.js";
import { limitExceeded } from "../../core/presence-error.js";
import { CLOSE, closeCodeLabel, closeFor, errorFrameFor } from "./close-codes.js";
import { createConnectionAdmission } from "./connection-admission.js";
import { chargePlainGet, createDemoRoutes, HTTP_ANSWERS } from "./demo-routes.js";
import { createExpiryQueue } from "./expiry-queue.js";
import { createFrameHandler } from "./frame-handler.js";
import { takeFrameToken } from "../../core/frame-rate.js";
import { decodeClientFrame, lazyFrame } from "./frames.js";
import type { Socket } from "./room-broadcaster.js";
import { createRoomMembers } from "./room-members.js";
import { createRoomWatches } from "./room-watches.js";
import { selectWsEngine } from "./select-engine.js";
import { createSocketOutput } from "./socket-output.js";
import { createSocketUserWatches } from "./socket-user-watch.js";
import { createUpgradeHandler } from "./upgrade-handler.js";
import { resolveWsOptions, type WsBridge, type WsBridgeOptions } from "./ws-bridge-options.js";
import type { EngineHandlers } from "./ws-engine.js";
import { socketLogFields, type WsSession } from "./ws-session.js";

export type { WsBridge, WsBridgeOptions } from "./ws-bridge-options.js";

/**
 * The WebSocket bridge (frames.proto) on `/ws`, over one of two engines (`ws-engine.ts`:
 * uWebSockets.js where its binary loads, else the `ws` package; PRESENCE_WS_ENGINE). Everything
 * that makes the bridge's guarantees is engine-neutral, the same for both; this file composes it:
 *
 * - message limit: the engine cuts messages over twice `maxMessageBytes` (uWS 1006, ws 1009); one
 *   between the limit and twice it reaches us and is closed with 4503;
 * - idle timeout (validated to 8..960 s first: other values abort uWS) with pings every half of
 *   it, so a peer that vanished without a close frame is closed after at most the idle timeout,
 *   and its session then enters the reconnect grace (design I1: abrupt loss leaves within idle
 *   timeout + grace + one reaper interval);
 * - send-buffer cap (`maxBufferedBytes`): a socket over it misses deliveries, is marked, and gets
 *   fresh snapshots when it drains; a socket that stays behind for `stallMs` is closed with 4001
 *   (`socket-output.ts`);
 * - frame rate limit (token bucket, before decoding: 4006) and frames in flight per socket (here),
 *   watches per socket and one room broadcaster per watched room (`room-watches.ts`), connections
 *   per port and per address (`connection-admission.ts`).
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
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics;
  const log = options.logger;
  const cap = o.maxBufferedBytes;
  const selected = selectWsEngine(options.engine ?? "auto"); // throws when `uws` is asked for and does not load
  if (selected.warning) log?.warn(selected.warning);

  const sockets = new Set<Socket>();
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

  const output = createSocketOutput({
    clock,
    metrics,
    maxBufferedBytes: cap,
    stallMs: o.stallMs,
    topics: () => engine.topics,
    resync: (ws, w) => rooms.resync(ws, w),
    guard,
  });
  const { reply } = output;

  const rooms = createRoomWatches({
    hub: options.hub,
    clock,
    io: output.io,
    topics: () => engine.topics,
    snapshotPageSize: options.limits.snapshotPageSize,
    cursorTtlMs: options.timings.cursorTtlMs,
    maxWatchesPerSocket: o.maxWatchesPerSocket,
    isClosing: () => closing !== null,
    reply,
    guard,
    metrics,
    logger: log,
    onRoomEnded: (room, ended) => members.roomEnded(room, ended),
    onUnwatched: (room) => members.unwatched(room),
  });

  const members = createRoomMembers({
    hub: options.hub,
    clock,
    watched: (room) => rooms.watched(room),
    reply,
    ended: (ws, room) => handler.roomEnded(ws, room),
    guard,
    retryMs: options.timings.nodeRefreshMs,
  });

  const userWatches = createSocketUserWatches<Socket>({
    service: options.service,
    clock,
    send: (ws, frame) => {
      if (ws.getUserData().closed || ws.getBufferedAmount() > cap) return false;
      return output.send(ws, lazyFrame(frame));
    },
    backedUp: (ws) => ws.getBufferedAmount() > cap / 2,
    isClosed: (ws) => ws.getUserData().closed,
  });

  const handler = createFrameHandler({
    service: options.service,
    broadcast: options.broadcast,
    reply,
    cachedViewsAbove: options.limits.snapshotPageSize,
    prepareWatch: rooms.prepareWatch,
    unwatch: (ws, room) => rooms.unwatch(ws, room),
    sessionLost: (ws) => void sessionLost(ws),
    watchUsers: (ws, userIds) => userWatches.start(ws, ws.getUserData().caller, userIds),
    unwatchUsers: (ws) => userWatches.stop(ws),
    joinedRoom: (ws, room) => members.joined(ws, room),
    leftRoom: (ws, room) => members.left(ws, room),
    onRejected: (err) => metrics?.rejections.inc({ reason: err.reason }),
    onError: (err) => failed("frame", err, null),
  });

  /**
   * A node refresh found the socket's session gone. When its rooms were ended (EndRoom ends a
   * session with its last room; the refresh may come before the room's `ended` message reaches
   * this node), their `room_ended` is sent now (once: the later message finds no members) and the
   * socket stays open without a session; otherwise (kicked, reaped) it closes with 4005.
   */
  async function sessionLost(ws: Socket): Promise<void> {
    const s = ws.getUserData();
    const grant = s.session;
    if (s.closed || grant === null) return;
    const rooms = [...s.rooms];
    if (options.endedRoom && rooms.length > 0) {
      const ends = await Promise.all(rooms.map((room) => options.endedRoom!(room).catch(() => null)));
      ends.forEach((info, i) => info && members.roomEnded(rooms[i]!, info));
    }
    guard("session_lost", ws, () => {
      const now = ws.getUserData();
      if (!now.closed && now.session === grant) ws.end(CLOSE.SESSION_ENDED.code, CLOSE.SESSION_ENDED.reason);
    });
  }

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
      admit: createConnectionAdmission({ maxConnections: options.maxConnections, acceptPaused: options.acceptPaused, limiter: options.limiter, onRefused: options.onRefused }).admit,
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
      guard("drain", ws, () => output.drained(ws));
    },

    close: (ws, code, reason) => {
      guard("close", null, () => {
        const s = ws.getUserData();
        if (s.closed) return;
        s.closed = true;
        s.releaseConnection?.();
        sockets.delete(ws);
        output.forget(ws);
        if (s.tokenExpiresAtMs > clock.now()) expiry.forget(); // still queued: dropped later
        metrics?.wsConnections.dec();
        metrics?.wsCloses.inc({ code: closeCodeLabel(code) });
        if (code !== CLOSE.NORMAL.code) log?.debug("websocket closed", { ...socketLogFields(s), code, reason });
        for (const room of s.rooms) members.left(ws, room); // first: no end watch for a room it stops watching
        for (const w of s.watches) rooms.unwatch(ws, w.room);
        userWatches.stop(ws);
        // After the frames in flight: a normal close (1000) ends the session now, any other close
        // only unbinds it (reconnect grace).
        const done = (s.chain ?? RESOLVED).then(() => handler.endSession(ws, code === CLOSE.NORMAL.code)).catch((err: unknown) => failed("close", err, null, s));
        s.chain = done;
        cleanups.add(done);
        void done.finally(() => cleanups.delete(done));
      });
    },
  };

  const engine = selected.create(
    { path: o.path, maxPayloadBytes: 2 * o.maxMessageBytes, idleTimeoutSec: o.idleTimeoutSec, maxBufferedBytes: cap, headersTimeoutMs: options.headersTimeoutMs, keepAliveTimeoutMs: options.keepAliveTimeoutMs, closeTimeoutMs: o.closeTimeoutMs },
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
        rooms.stop();
        members.stop();
        output.stop();
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
