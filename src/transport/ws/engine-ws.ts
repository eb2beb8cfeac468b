import * as http from "node:http";
import type { Socket as NetSocket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import { pickSubprotocol } from "./upgrade-handler.js";
import { BUFFERED, DROPPED, SENT, type BridgeSocket, type EngineHandlers, type EngineSettings, type HttpAnswer, type WsEngine } from "./ws-engine.js";
import type { WsSession } from "./ws-session.js";

/**
 * The `ws` engine: the `ws` package on a node:http server, pure JavaScript (with `bufferutil`
 * when it is installed), for every Node version. It gives the bridge what uWS gives it natively:
 *
 * - send-buffer cap: `send` on a socket whose buffer (kernel hand-off queue plus ws's own) is
 *   over `maxBufferedBytes` is refused (`DROPPED`), like uWS's `maxBackpressure`;
 * - one write per socket per event-loop turn: a socket is corked at its first send of a turn and
 *   uncorked with all others at the end of it (as uWS does), so a burst of room broadcasts costs
 *   one syscall per socket, not one per frame;
 * - `drain`: the TCP socket's drain event, hooked the first time a send is refused;
 * - idle timeout: one timer for all sockets ticks every half of it; a socket that sent nothing
 *   (not even a pong) since the previous tick is cut (1006), the others are pinged: a silent peer
 *   is closed after between half and all of the idle timeout, as on uWS;
 * - `end(code, reason)` sends the close frame and runs the bridge's `close` handler at once; the
 *   TCP connection is cut if the peer does not answer the close within `closeTimeoutMs`;
 * - messages over `maxPayloadBytes` are refused by ws (close 1009), invalid UTF-8 in a text
 *   message with 1007 (uWS cuts both: 1006);
 * - no topics: the bridge sends each room broadcast, encoded once, to each socket in sync.
 *
 * Upgrades are authenticated before ws completes the handshake (401/503 answered on the raw
 * socket); plain GETs go to the bridge's HTTP routes; anything else is 404.
 */
/** ws's WebSocket with the one field the engine needs to find its bridge socket from ws's events. */
class EngineWebSocket extends WebSocket {
  bridge: WsEngineSocket | null = null;
}

class WsEngineSocket implements BridgeSocket {
  /** Inbound traffic since the last idle tick. */
  alive = true;
  /** The bridge's close handler has run (by `end`, or the connection closed). */
  reported = false;
  drainHooked = false;
  constructor(
    readonly ws: EngineWebSocket,
    readonly raw: NetSocket,
    readonly data: WsSession,
    readonly engine: EngineState,
  ) {}

  getUserData(): WsSession {
    return this.data;
  }

  send(message: Uint8Array | string, isBinary: boolean): number {
    if (this.ws.readyState !== WebSocket.OPEN) return DROPPED;
    if (this.ws.bufferedAmount > this.engine.cap) {
      this.hookDrain();
      return DROPPED;
    }
    this.engine.corkForTurn(this.raw);
    this.ws.send(message, { binary: isBinary, compress: false });
    return this.ws.bufferedAmount === 0 ? SENT : BUFFERED;
  }

  getBufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  end(code: number, reason: string): void {
    if (this.reported) return;
    this.ws.close(code, reason);
    this.engine.report(this, code, reason);
  }

  private hookDrain() {
    if (this.drainHooked) return;
    this.drainHooked = true;
    this.raw.on("drain", () => {
      if (!this.reported) this.engine.guard("drain", () => this.engine.h.drain(this));
    });
  }
}

interface EngineState {
  readonly h: EngineHandlers;
  readonly cap: number;
  /** Corks the socket until the end of this event-loop turn (once per turn). */
  corkForTurn(raw: NetSocket): void;
  guard(where: string, fn: () => void): void;
  report(s: WsEngineSocket, code: number, reason: string): void;
}

function writeAnswer(res: http.ServerResponse, a: HttpAnswer) {
  res.writeHead(Number(a.status.slice(0, 3)), a.status.slice(4), a.headers);
  res.end(a.body);
}

/** Refuses an upgrade on the raw socket (the HTTP answer ws would write, with our body). */
function refuse(socket: Duplex, status: string, body: string) {
  if (socket.destroyed) return;
  const bytes = Buffer.from(body);
  socket.end(
    `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${bytes.length}\r\n\r\n${body}`,
  );
}

// Shared listeners (no closure per socket): `this` is the EngineWebSocket.
function onMessage(this: WebSocket, data: Buffer, isBinary: boolean) {
  const s = (this as EngineWebSocket).bridge;
  if (!s || s.reported) return;
  s.alive = true;
  s.engine.guard("message", () => s.engine.h.message(s, data, isBinary));
}
function onPong(this: WebSocket) {
  const s = (this as EngineWebSocket).bridge;
  if (s) s.alive = true;
}
function onClose(this: WebSocket, code: number, reason: Buffer) {
  const s = (this as EngineWebSocket).bridge;
  if (s) s.engine.report(s, code, reason.toString("utf8"));
}
function onError() {
  // Protocol errors (oversized message 1009, invalid UTF-8 1007, bad frame 1002): ws closes the
  // socket itself and `close` follows. A listener must exist, or the error would be thrown.
}

export function createWsEngine(settings: EngineSettings, h: EngineHandlers): WsEngine {
  const sockets = new Set<WsEngineSocket>();
  /** Sockets corked in this turn, uncorked together by one setImmediate. */
  let corked: NetSocket[] = [];
  const uncorkAll = () => {
    const now = corked;
    corked = [];
    for (const raw of now) if (!raw.destroyed) raw.uncork();
  };
  const state: EngineState = {
    h,
    cap: settings.maxBufferedBytes,
    corkForTurn(raw) {
      if (raw.writableCorked > 0) return; // corked already in this turn
      raw.cork();
      if (corked.push(raw) === 1) setImmediate(uncorkAll);
    },
    guard(where, fn) {
      try {
        fn();
      } catch (err) {
        h.error(where, err);
      }
    },
    report(s, code, reason) {
      if (s.reported) return;
      s.reported = true;
      sockets.delete(s);
      state.guard("close", () => h.close(s, code, reason));
    },
  };

  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: settings.maxPayloadBytes,
    closeTimeout: settings.closeTimeoutMs,
    WebSocket: EngineWebSocket,
    handleProtocols: (offered) => pickSubprotocol(offered) || false,
  } as ConstructorParameters<typeof WebSocketServer>[0]);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://bridge");
    if (req.method !== "GET") return writeAnswer(res, { status: "404 Not Found", headers: {}, body: "" });
    h.httpGet(url.pathname, url.search.slice(1), { remoteAddress: req.socket.remoteAddress ?? "", forwardedFor: [req.headers["x-forwarded-for"] ?? ""].flat().join(",") })
      .then((a) => {
        if (!res.destroyed) writeAnswer(res, a);
      })
      .catch((err: unknown) => {
        h.error("http", err);
        if (!res.headersSent) res.destroy();
      });
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  // node refuses a header timeout above the request timeout.
  if (server.requestTimeout > 0 && server.requestTimeout < settings.headersTimeoutMs) server.requestTimeout = settings.headersTimeoutMs;
  server.headersTimeout = settings.headersTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;

  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const onSocketError = () => socket.destroy();
    socket.on("error", onSocketError);
    try {
      const url = new URL(req.url ?? "/", "http://bridge");
      if (url.pathname !== settings.path) return refuse(socket, "404 Not Found", "");
      const header = req.headers["sec-websocket-protocol"];
      const protocols = (header ?? "").split(",").map((p) => p.trim()).filter(Boolean);
      h.upgrade({
        authorization: req.headers.authorization ?? "",
        protocols,
        queryToken: url.searchParams.get("token") ?? "",
        remoteAddress: req.socket.remoteAddress ?? "",
        userAgent: req.headers["user-agent"] ?? "",
        forwardedFor: [req.headers["x-forwarded-for"] ?? ""].flat().join(","),
      })
        .then((d) => {
          if (socket.destroyed) return d.accept ? d.state.releaseConnection?.() : undefined; // never opened: give its connection back
          if (!d.accept) return refuse(socket, d.status, d.body);
          socket.removeListener("error", onSocketError); // ws adds its own
          wss.handleUpgrade(req, socket, head, (client) => {
            const ws = client as EngineWebSocket;
            const s = new WsEngineSocket(ws, socket as NetSocket, d.state, state);
            ws.bridge = s;
            ws.on("message", onMessage);
            ws.on("pong", onPong);
            ws.on("close", onClose);
            ws.on("error", onError);
            sockets.add(s);
            state.guard("open", () => h.open(s));
          });
        })
        .catch((err: unknown) => {
          h.error("upgrade", err);
          refuse(socket, "500 Internal Server Error", "internal error");
        });
    } catch (err) {
      h.error("upgrade", err);
      refuse(socket, "500 Internal Server Error", "internal error");
    }
  });

  // Idle timeout: one tick every half of it for all sockets.
  const idle = setInterval(() => {
    for (const s of [...sockets]) {
      state.guard("idle", () => {
        if (!s.alive) return s.ws.terminate(); // close handler follows with 1006
        s.alive = false;
        s.ws.ping();
      });
    }
  }, (settings.idleTimeoutSec * 1000) / 2);
  idle.unref();

  return {
    name: "ws",
    topics: undefined,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const failed = (err: Error) => reject(new Error(`ws bridge: cannot listen on ${host}:${port}: ${err.message}`));
        server.once("error", failed);
        server.listen(port, host, () => {
          server.removeListener("error", failed);
          const addr = server.address();
          resolve(typeof addr === "object" && addr ? addr.port : port);
        });
      });
    },
    stopListening() {
      if (server.listening) server.close();
      server.closeIdleConnections();
    },
    async close() {
      this.stopListening();
      clearInterval(idle);
      server.closeAllConnections();
      // Sockets the bridge ended wait for the peer's close frame (at most closeTimeoutMs); cut the rest.
      for (const s of [...sockets]) s.ws.terminate();
    },
  };
}
