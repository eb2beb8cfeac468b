/**
 * One TCP port for HTTP/1.1 and cleartext HTTP/2 (h2c), serving one request handler.
 *
 * Cleartext `http2.createServer` does not accept HTTP/1.1 (`allowHTTP1` only works with TLS), so
 * each accepted socket is sniffed: once at least 3 bytes have arrived, a socket that starts with
 * `PRI` (the HTTP/2 connection preface) goes to an `http2` server, anything else to an `http`
 * server; both share the handler (connect-notes §0, design §9).
 *
 * Timing. A socket that does not send 3 bytes within `sniffTimeoutMs` is destroyed. The HTTP/1.1
 * server is told it is listening so that its header (`headersTimeoutMs`) and request
 * (`requestTimeoutMs`) timeouts are enforced; neither cuts a long response stream. Every HTTP/2
 * session is pinged every `pingIntervalMs` and destroyed, with all its streams, when an ack does
 * not arrive within `pingTimeoutMs`: this is how a silently dead peer is noticed (defaults:
 * docs/configuration.md).
 * The h2 idle `timeout` stays 0, because PINGs do not reset it and it would kill quiet watch streams
 * (connect-notes §3).
 *
 * Abuse (issue 11). At most `maxConnections` connections (PRESENCE_RPC_MAX_CONNECTIONS; more are
 * accepted and closed at once by node:net) and, through `limiter`, at most
 * PRESENCE_MAX_CONNECTIONS_PER_ADDRESS per client address across both ports. A new connection must
 * present a complete first request within `headersTimeoutMs` and at most `maxHalfOpen` may be
 * waiting (`slow-client-guard.ts`); idle HTTP/2 connections are closed after `idleTimeoutMs`. An
 * accept that fails (EMFILE, ENFILE: out of file descriptors) is counted and pauses accepting for
 * `acceptPauseMs` (new connections are closed at once meanwhile), then accepting resumes.
 *
 * Shutdown. `close(deadlineMs)` stops accepting at once, destroys sockets still being sniffed,
 * sends GOAWAY to every HTTP/2 session (streams in flight may finish, no new ones start), ends idle
 * HTTP/1.1 sockets and marks busy ones `Connection: close` so they end after their response. At
 * the deadline every remaining socket is destroyed. It resolves once no socket is left. Ending
 * long-lived RPC streams with a proper status before the deadline is the caller's job (for
 * example connect-node's `shutdownSignal`).
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { ConnectionLimiter } from "./connection-limiter.js";
import { withDrainOnClose } from "./drain-on-close.js";
import { createSlowClientGuard, type SlowClientCut } from "./slow-client-guard.js";

/** A request of either protocol. */
export type OnePortRequest = http.IncomingMessage | http2.Http2ServerRequest;

/** The response matching {@link OnePortRequest}: `http.ServerResponse` for HTTP/1.1, else HTTP/2's. */
export type OnePortResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * A request handler for both protocols; `connectNodeAdapter(...)` returns one. (Narrow `res`
 * before calling `write`: the two classes' overloads cannot be called through the union.)
 */
export type OnePortHandler = (req: OnePortRequest, res: OnePortResponse) => void;

/**
 * Options of {@link createOnePortServer}; durations in milliseconds. Every number is required: the
 * values and their defaults come from the configuration (`config.http`, CONNECTION_SPEC).
 */
export interface OnePortServerOptions {
  /** Serves every request, HTTP/1.1 and HTTP/2, that `onStream` did not take. Wrapped with {@link withDrainOnClose}. */
  handler: OnePortHandler;
  /**
   * Takes HTTP/2 streams before Node's compat layer: called with each new stream and its headers;
   * `true` means the stream is served here (no Http2ServerRequest/Response is made, `handler` is
   * not called), `false` hands it on to `handler`. The gRPC fast path uses it. Such streams keep
   * every limit of the port (connection caps, slow-client guard, request-body timeout, PINGs,
   * GOAWAY on close); only the compat objects and {@link withDrainOnClose} are left out.
   */
  onStream?: OnePortStreamHandler;
  /** A socket that has not sent 3 bytes by then is destroyed. */
  sniffTimeoutMs: number;
  /** Server PING interval per HTTP/2 session. */
  pingIntervalMs: number;
  /** A PING not acknowledged within this destroys its session. */
  pingTimeoutMs: number;
  /** Time to receive a complete first request head (HTTP/1.1) or first stream (HTTP/2), and each later HTTP/1.1 request head. */
  headersTimeoutMs: number;
  /** Time to receive a whole request body (HTTP/1.1: node's requestTimeout; HTTP/2: per stream). */
  requestTimeoutMs: number;
  /**
   * Request paths whose request body is a stream of messages for the call's whole life (bidi and
   * client-streaming RPCs, e.g. BackendService.Track): `requestTimeoutMs` does not apply to them
   * (it would cut every such stream after that long); their handler bounds the wait for the first
   * message itself. Read at each request, so the set may be filled after the server is made.
   */
  streamingRequestPaths?: ReadonlySet<string>;
  /** HTTP/1.1: idle time of a keep-alive socket between requests. */
  keepAliveTimeoutMs: number;
  /** HTTP/1.1: how often header/request timeouts are checked. */
  timeoutCheckIntervalMs: number;
  /** HTTP/2 concurrent streams per connection. */
  maxConcurrentStreams: number;
  /** Open connections on this port; more are closed at once. */
  maxConnections: number;
  /** Connections that have not completed a first request; a new one pushes out the oldest. */
  maxHalfOpen: number;
  /** An HTTP/2 connection without open streams this long is closed (GOAWAY). */
  idleTimeoutMs: number;
  /** How long accepting stays paused after an accept error (EMFILE). */
  acceptPauseMs: number;
  /** Per-address counting shared with the other port; none: no per-address limit. */
  limiter?: ConnectionLimiter;
  /** A connection refused or cut before it served a request (metrics). */
  onRefused?: (reason: ConnectionRefusal) => void;
  /** A failed accept (metrics, logs): EMFILE, ENFILE, … */
  onAcceptError?: (code: string) => void;
  /** Accepting paused (after an accept error) or resumed. */
  onAcceptPaused?: (paused: boolean) => void;
}

/** See {@link OnePortServerOptions.onStream}. */
export type OnePortStreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

/** Why a connection was refused or cut early (label `reason` of presence_connections_refused_total). */
export type ConnectionRefusal = "per_address" | "total" | "accept_paused" | SlowClientCut;

/** A started-or-not one-port server. */
export interface OnePortServer {
  /** Binds and resolves with the bound port (useful with port 0). Rejects on bind errors. */
  listen(port: number, host: string): Promise<{ port: number }>;
  /**
   * Graceful shutdown as described at the top of the module; idempotent (later calls return the
   * first call's promise). Resolves when every socket is closed; never rejects.
   */
  close(deadlineMs: number): Promise<void>;
  /** Open TCP connections, of either protocol or still being sniffed. */
  connections(): number;
  /** Connections that have not completed a first request yet. */
  halfOpen(): number;
  /** Pauses accepting (new connections are closed at once) or resumes it (the descriptor watchdog). */
  setAcceptPaused(paused: boolean): void;
  /** Open connections by protocol (metrics): HTTP/2 sessions, and HTTP/1.1 sockets (neither h2 nor being sniffed). */
  connectionsByProtocol(): { http1: number; http2: number };
}

/** HTTP/2 preface starts with these bytes; 3 are enough to tell it from any HTTP/1.1 method. */
const H2_PREFACE_HEAD = Buffer.from("PRI", "latin1");

/** Creates the server (not yet listening). Throws on option values out of range. */
export function createOnePortServer(options: OnePortServerOptions): OnePortServer {
  const sniffTimeoutMs = positive("sniffTimeoutMs", options.sniffTimeoutMs);
  const pingIntervalMs = positive("pingIntervalMs", options.pingIntervalMs);
  const pingTimeoutMs = positive("pingTimeoutMs", options.pingTimeoutMs);
  const headersTimeoutMs = positive("headersTimeoutMs", options.headersTimeoutMs);
  const timeoutCheckIntervalMs = positive("timeoutCheckIntervalMs", options.timeoutCheckIntervalMs);
  const maxConnections = positive("maxConnections", options.maxConnections);
  const acceptPauseMs = positive("acceptPauseMs", options.acceptPauseMs);
  const guard = createSlowClientGuard({
    headersTimeoutMs,
    headersGraceMs: timeoutCheckIntervalMs + 100,
    requestTimeoutMs: positive("requestTimeoutMs", options.requestTimeoutMs),
    idleTimeoutMs: positive("idleTimeoutMs", options.idleTimeoutMs),
    maxHalfOpen: positive("maxHalfOpen", options.maxHalfOpen),
    onCut: (why) => options.onRefused?.(why),
  });
  const handler = withDrainOnClose(options.handler);

  const sockets = new Set<net.Socket>();
  const sniffing = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/1.1 responses in flight, with their socket (a finished response no longer has one). */
  const h1Busy = new Map<http.ServerResponse, net.Socket>();
  let closing = false;
  let closed: Promise<void> | undefined;
  let onSocketClosed = () => {};

  const h1 = http.createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: nonNegative("requestTimeoutMs", options.requestTimeoutMs),
      keepAliveTimeout: nonNegative("keepAliveTimeoutMs", options.keepAliveTimeoutMs),
      connectionsCheckingInterval: timeoutCheckIntervalMs,
    },
    (req, res) => {
      guard.progressed(req.socket);
      if (closing) {
        res.setHeader("connection", "close");
      } else {
        h1Busy.set(res, req.socket);
        res.once("close", () => h1Busy.delete(res));
      }
      handler(req, res);
    },
  );
  h1.timeout = 0;

  // No request listener on the listening server: Node's compat layer would make an
  // Http2ServerRequest and an Http2ServerResponse for every stream (both fire, 'stream' and
  // 'request'). Streams go through `onStream` first; the ones it leaves are emitted on `compat`, a
  // server that never listens, whose 'stream' event builds the compat objects and calls `handler`
  // exactly as the listening server would have (node's onServerStream: CONNECT, Expect, 'request').
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: positive("maxConcurrentStreams", options.maxConcurrentStreams) }, maxSessionMemory: 64 });
  h2.setTimeout(0);
  const compat = http2.createServer({}, handler);
  const onStream = options.onStream;
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    if (!options.streamingRequestPaths?.has(headers[":path"] ?? "")) guard.watchStream(stream);
    if (onStream !== undefined) {
      // A session destroyed with an error (a client's GOAWAY with an error code, a protocol error)
      // destroys its streams with that error: without a listener that is an uncaught exception,
      // which would end the process. Compat streams get node's own no-op listener; the streams
      // `onStream` takes get this one (their end is seen through 'close').
      stream.on("error", ignoreStreamError);
      if (onStream(stream, headers)) return;
    }
    compat.emit("stream", stream, headers, flags, rawHeaders);
  });
  /** The socket being handed to the HTTP/2 server (it emits 'session' synchronously for it). */
  let handingOver: net.Socket | undefined;
  h2.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    if (handingOver) guard.watchSession(session, handingOver);
    const stopPings = startPings(session, pingIntervalMs, pingTimeoutMs);
    session.once("close", () => {
      stopPings();
      sessions.delete(session);
    });
    if (closing) session.close();
  });

  const tcp = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000 }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    if (acceptPaused) {
      options.onRefused?.("accept_paused");
      socket.destroy();
      return;
    }
    const release = options.limiter ? options.limiter.admit(socket.remoteAddress ?? "") : () => {};
    if (release === null) {
      options.onRefused?.("per_address");
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => {
      release();
      sockets.delete(socket);
      onSocketClosed();
    });
    guard.accepted(socket);
    sniff(socket);
  });
  tcp.maxConnections = maxConnections;
  /** While paused, new connections are closed at once (their descriptor freed). */
  let acceptPaused = false;
  /** Paused after an accept error, and/or because the process is short of descriptors (fd-watchdog.ts). */
  const pausedBy = { error: false, fds: false };
  const applyPause = () => {
    const paused = pausedBy.error || pausedBy.fds;
    if (paused === acceptPaused) return;
    acceptPaused = paused;
    options.onAcceptPaused?.(paused);
  };
  // node:net closes connections over maxConnections at once and says so.
  tcp.on("drop", () => options.onRefused?.("total"));

  function sniff(socket: net.Socket): void {
    sniffing.add(socket);
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => socket.destroy(), sniffTimeoutMs);
    const ignoreError = () => {}; // ECONNRESET while sniffing: 'close' follows and cleans up.
    const done = () => {
      clearTimeout(timer);
      sniffing.delete(socket);
      socket.off("readable", onReadable);
      socket.off("error", ignoreError);
      socket.off("close", done);
    };
    function onReadable(): void {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        length += chunk.length;
      }
      if (length < H2_PREFACE_HEAD.length) return; // 1–2 bytes so far: wait for more
      done();
      const head = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
      socket.unshift(head); // the chosen server reads these bytes again
      const isH2 = head.subarray(0, H2_PREFACE_HEAD.length).equals(H2_PREFACE_HEAD);
      if (!isH2) return void h1.emit("connection", socket);
      handingOver = socket;
      try {
        h2.emit("connection", socket);
      } finally {
        handingOver = undefined;
      }
    }
    socket.on("readable", onReadable);
    socket.on("error", ignoreError);
    socket.once("close", done);
  }

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        tcp.once("error", onError);
        tcp.listen(port, host, () => {
          tcp.off("error", onError);
          // After binding, 'error' only reports a failed accept (EMFILE, ENFILE: out of file
          // descriptors; libuv has already refused the pending peers). It must not crash the
          // process: it is counted, and accepting pauses (new connections are closed at once, which
          // frees their descriptor) until descriptors are back, then resumes.
          tcp.on("error", (err: NodeJS.ErrnoException) => {
            const code = err.code ?? "other";
            options.onAcceptError?.(code);
            if (pausedBy.error || closing) return;
            pausedBy.error = true;
            applyPause();
            const resume = setTimeout(() => {
              pausedBy.error = false;
              applyPause();
            }, acceptPauseMs);
            resume.unref();
          });
          // Starts http's connection tracking: header/request timeouts and closeIdleConnections().
          h1.emit("listening");
          resolve({ port: (tcp.address() as net.AddressInfo).port });
        });
      });
    },

    close(deadlineMs) {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        const deadline = setTimeout(() => {
          for (const session of sessions) session.destroy();
          for (const socket of sockets) socket.destroy();
        }, Math.max(0, deadlineMs));
        // net calls back once the port is closed and its count of accepted sockets is 0; a
        // socket's own 'close' event (which updates `sockets`) comes a little later.
        let portClosed = false;
        const settle = () => {
          if (!portClosed || sockets.size > 0) return;
          clearTimeout(deadline);
          resolve();
        };
        onSocketClosed = settle;
        tcp.close(() => {
          portClosed = true;
          settle();
        });
        guard.stop();
        for (const socket of sniffing) socket.destroy();
        for (const session of sessions) session.close(); // GOAWAY; open streams may finish
        h1.close(); // ends idle keep-alive sockets, stops the timeout checker; never bound itself
        for (const [res, socket] of h1Busy) {
          if (!res.headersSent) res.setHeader("connection", "close");
          else res.once("finish", () => socket.end());
        }
      });
      return closed;
    },

    connections: () => sockets.size,
    halfOpen: () => guard.halfOpen(),
    setAcceptPaused(paused) {
      pausedBy.fds = paused;
      if (!closing) applyPause();
    },
    connectionsByProtocol: () => ({ http1: Math.max(0, sockets.size - sniffing.size - sessions.size), http2: sessions.size }),
  };
}

function ignoreStreamError(): void {}

/** Pings `session` every interval; destroys it when an ack is late. Returns the stop function. */
function startPings(session: http2.ServerHttp2Session, intervalMs: number, timeoutMs: number): () => void {
  const interval = setInterval(() => {
    if (session.destroyed) return;
    const timeout = setTimeout(() => session.destroy(), timeoutMs);
    timeout.unref();
    try {
      // The callback also runs (with an error) if the session goes away first.
      if (!session.ping(() => clearTimeout(timeout))) clearTimeout(timeout);
    } catch {
      clearTimeout(timeout); // too many outstanding pings, or the session is closing
    }
  }, intervalMs);
  interval.unref();
  return () => clearInterval(interval);
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name}: must be a number > 0 (got ${value})`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name}: must be a number >= 0 (got ${value})`);
  return value;
}
