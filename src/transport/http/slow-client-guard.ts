/**
 * Slow clients cannot hold the RPC port (issue 11, slowloris): every accepted connection must
 * present a complete first request (HTTP/1.1: its request head; HTTP/2: a first stream) within
 * `headersTimeoutMs` (PRESENCE_HTTP_HEADERS_TIMEOUT_MS, 10 s), else it is destroyed; at most
 * `maxHalfOpen` connections (PRESENCE_MAX_HALF_OPEN_CONNECTIONS, 1,000) may be in that state, and a
 * new one pushes out the oldest, so a flood of trickling sockets cannot lock real clients out.
 * HTTP/2 connections without an open stream for `idleTimeoutMs` (PRESENCE_HTTP_IDLE_TIMEOUT_MS,
 * 5 min) are closed with GOAWAY (clients reconnect on their next call), and an HTTP/2 request whose
 * body has not arrived within `requestTimeoutMs` is cancelled. HTTP/1.1 request bodies and
 * keep-alive idling are bounded by node:http's own `requestTimeout` and `keepAliveTimeout`.
 * Responses (watch streams) are never cut by these timeouts.
 */
import * as http2 from "node:http2";
import type * as net from "node:net";

export type SlowClientCut = "half_open" | "headers_timeout" | "idle_timeout";

export interface SlowClientGuardOptions {
  headersTimeoutMs: number;
  /**
   * Extra time before this guard cuts, so that node:http's own header timeout (which answers 408)
   * normally ends an HTTP/1.1 connection first; such a close is counted as `headers_timeout` too.
   */
  headersGraceMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  maxHalfOpen: number;
  /** A connection cut by this guard (metrics). */
  onCut?: (why: SlowClientCut) => void;
}

export interface SlowClientGuard {
  /** A new connection: its first-request deadline starts; over the cap, the oldest waiting one is cut. */
  accepted(socket: net.Socket): void;
  /** The connection completed a first request head or stream: no longer half-open. Idempotent. */
  progressed(socket: net.Socket): void;
  /** Closes an HTTP/2 session idle (no open stream) for `idleTimeoutMs`; marks its socket progressed at its first stream. */
  watchSession(session: http2.ServerHttp2Session, socket: net.Socket): void;
  /** Cancels an HTTP/2 stream whose request body is not complete within `requestTimeoutMs`. */
  watchStream(stream: http2.ServerHttp2Stream): void;
  /** Connections still waiting for their first request. */
  halfOpen(): number;
  /** Clears every timer (shutdown). */
  stop(): void;
}

export function createSlowClientGuard(o: SlowClientGuardOptions): SlowClientGuard {
  /** Half-open sockets in arrival order (a Map keeps insertion order: the first is the oldest). */
  const waiting = new Map<net.Socket, NodeJS.Timeout>();
  const grace = o.headersGraceMs;
  const sessions = new Set<NodeJS.Timeout>();
  /**
   * HTTP/2 sockets' sessions: once node:http2 owns a socket's handle, destroying the socket object
   * does not close the connection; the session must be destroyed.
   */
  const sessionOf = new WeakMap<net.Socket, http2.ServerHttp2Session>();

  function cut(socket: net.Socket, why: SlowClientCut) {
    const t = waiting.get(socket);
    if (t) clearTimeout(t);
    waiting.delete(socket);
    o.onCut?.(why);
    const session = sessionOf.get(socket);
    if (session) session.destroy();
    else socket.destroy();
  }

  const guard: SlowClientGuard = {
    accepted(socket) {
      while (waiting.size >= o.maxHalfOpen) cut(waiting.keys().next().value!, "half_open");
      const t = setTimeout(() => cut(socket, "headers_timeout"), o.headersTimeoutMs + grace);
      t.unref();
      waiting.set(socket, t);
      const since = performance.now();
      socket.once("close", () => {
        // Closed while still waiting, after the header timeout: node:http's 408 (or the peer giving up late).
        if (waiting.has(socket) && performance.now() - since >= o.headersTimeoutMs) o.onCut?.("headers_timeout");
        guard.progressed(socket);
      });
    },

    progressed(socket) {
      const t = waiting.get(socket);
      if (t === undefined) return;
      clearTimeout(t);
      waiting.delete(socket);
    },

    watchSession(session, socket) {
      sessionOf.set(socket, session);
      let open = 0;
      let idle: NodeJS.Timeout | undefined;
      const arm = () => {
        idle = setTimeout(() => {
          sessions.delete(idle!);
          o.onCut?.("idle_timeout");
          session.close(); // GOAWAY: streams in flight (none) finish, the client reconnects when it needs to
        }, o.idleTimeoutMs);
        idle.unref();
        sessions.add(idle);
      };
      const disarm = () => {
        if (idle === undefined) return;
        clearTimeout(idle);
        sessions.delete(idle);
        idle = undefined;
      };
      // One listener per session, added with `on` to each stream ('close' comes once per stream):
      // an open watch stream then holds no closure and no once-wrapper of this guard.
      const onStreamClose = () => {
        if (--open === 0 && !session.closed && !session.destroyed) arm();
      };
      session.on("stream", (stream: http2.ServerHttp2Stream) => {
        guard.progressed(socket);
        open++;
        disarm();
        stream.on("close", onStreamClose);
      });
      session.once("close", disarm);
      arm();
    },

    watchStream(stream) {
      if (stream.readableEnded || stream.endAfterHeaders) return;
      const t = setTimeout(() => {
        if (!stream.readableEnded && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      }, o.requestTimeoutMs);
      t.unref();
      const done = () => {
        clearTimeout(t);
        stream.off("end", done);
        stream.off("close", done);
      };
      stream.once("end", done);
      stream.once("close", done);
    },

    halfOpen: () => waiting.size,

    stop() {
      for (const t of waiting.values()) clearTimeout(t);
      waiting.clear();
      for (const t of sessions) clearTimeout(t);
      sessions.clear();
    },
  };
  return guard;
}
