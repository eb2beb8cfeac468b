import type * as UWS from "uWebSockets.js";
import type { HttpResponse, TemplatedApp, WebSocket as UWebSocket, us_listen_socket } from "uWebSockets.js";
import type { EngineHandlers, EngineSettings, HttpAnswer, WsEngine } from "./ws-engine.js";
import type { WsSession } from "./ws-session.js";

/**
 * The uWebSockets.js engine: one `App` serving the WebSocket route and the bridge's HTTP GETs.
 * A uWS socket is a `BridgeSocket` as it is (same method names), so no object is added per
 * connection. The module is passed in (loaded by `select-engine.ts`), never imported here, so the
 * server starts on a Node for which no uWS binary exists.
 *
 * Behaviour options are set on purpose (uws-notes §1, §6.7): `maxPayloadLength` as the bridge
 * asks (larger messages are cut, 1006); `idleTimeout` (8..960 s, validated by the bridge: other
 * values abort the process) with automatic pings every half of it; `maxBackpressure` is the
 * send-buffer cap with `closeOnBackpressureLimit` off (sends over it return 2, publishes skip the
 * socket silently: the bridge checks the cap before every publish, uws-notes §2); no compression.
 *
 * uWS's rules for handlers (uws-notes §6): an exception thrown out of one kills the process, so
 * every handler body is guarded; an upgrade or HTTP answer given after an `await` registers
 * `onAborted` first and is written inside `cork`, only if the client is still there.
 */
type Uws = typeof UWS;

export function createUwsEngine(uWS: Uws, settings: EngineSettings, h: EngineHandlers): WsEngine {
  const app: TemplatedApp = uWS.App();
  let listenSocket: us_listen_socket | null = null;

  const guard = (where: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      h.error(where, err);
    }
  };

  /** Writes an answer later (after an await): only if the request was not aborted. */
  const respond = (res: HttpResponse, aborted: { value: boolean }, a: HttpAnswer) => {
    if (aborted.value) return;
    res.cork(() => {
      res.writeStatus(a.status);
      for (const [k, v] of Object.entries(a.headers)) res.writeHeader(k, v);
      res.end(a.body);
    });
  };

  app.ws<WsSession>(settings.path, {
    maxPayloadLength: settings.maxPayloadBytes,
    idleTimeout: settings.idleTimeoutSec,
    sendPingsAutomatically: true,
    maxBackpressure: settings.maxBufferedBytes,
    closeOnBackpressureLimit: 0,
    maxLifetime: 0,
    compression: uWS.DISABLED,

    upgrade: (res, req, context) => {
      const aborted = { value: false };
      try {
        // Everything from `req` is read now: it is invalid after this handler returns.
        const key = req.getHeader("sec-websocket-key");
        const extensions = req.getHeader("sec-websocket-extensions");
        const authorization = req.getHeader("authorization");
        const protocols = req.getHeader("sec-websocket-protocol").split(",").map((p) => p.trim()).filter(Boolean);
        const queryToken = req.getQuery("token") ?? ""; // typed string, undefined when absent
        const userAgent = req.getHeader("user-agent");
        const forwardedFor = req.getHeader("x-forwarded-for");
        const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
        res.onAborted(() => {
          aborted.value = true;
        });
        h.upgrade({ authorization, protocols, queryToken, remoteAddress, userAgent, forwardedFor })
          .then((d) => {
            if (aborted.value) return d.accept ? d.state.releaseConnection?.() : undefined; // never opened: give its connection back
            if (!d.accept) return respond(res, aborted, { status: d.status, headers: { "content-type": "text/plain; charset=utf-8" }, body: d.body });
            // Not inside res.cork(): uWS's cork() after an asynchronous upgrade can read the adopted
            // socket's memory as HTTP state and close the new WebSocket right after `open` (1006, no
            // error; fixed upstream in uNetworking/uWebSockets#1929, not in the v20.30 build we load).
            // Seen here as ~1 in 100 fresh sockets closed before their first frame.
            res.upgrade<WsSession>(d.state, key, d.protocol, extensions, context);
          })
          .catch((err: unknown) => h.error("upgrade", err)); // a rejection here would be fatal (unhandled)
      } catch (err) {
        h.error("upgrade", err);
        try {
          if (!aborted.value) res.writeStatus("500 Internal Server Error").end();
        } catch {
          // already answered or aborted
        }
      }
    },
    open: (ws) => guard("open", () => h.open(ws)),
    message: (ws, message, isBinary) => guard("message", () => h.message(ws, message, isBinary)),
    drain: (ws) => guard("drain", () => h.drain(ws)),
    close: (ws, code, message) => guard("close", () => h.close(ws, code, Buffer.from(message).toString("utf8"))),
  });

  app.get("/*", (res, req) => {
    const aborted = { value: false };
    try {
      const path = req.getUrl();
      const query = req.getQuery() ?? "";
      const peer = { remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(), forwardedFor: req.getHeader("x-forwarded-for") };
      res.onAborted(() => {
        aborted.value = true;
      });
      h.httpGet(path, query, peer)
        .then((a) => respond(res, aborted, a))
        .catch((err: unknown) => h.error("http", err));
    } catch (err) {
      h.error("http", err);
    }
  });
  app.any("/*", (res) => {
    res.writeStatus("404 Not Found").end();
  });

  return {
    name: "uws",
    topics: {
      publish: (topic, bytes) => void app.publish(topic, bytes, true),
      subscribe: (ws, topic) => void (ws as UWebSocket<WsSession>).subscribe(topic),
      unsubscribe: (ws, topic) => void (ws as UWebSocket<WsSession>).unsubscribe(topic),
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        app.listen(host, port, (ls) => {
          if (!ls) {
            reject(new Error(`ws bridge: cannot listen on ${host}:${port} (EADDRINUSE or not permitted)`));
            return;
          }
          listenSocket = ls;
          resolve(uWS.us_socket_local_port(ls));
        });
      });
    },
    stopListening() {
      if (listenSocket) uWS.us_listen_socket_close(listenSocket);
      listenSocket = null;
    },
    async close() {
      this.stopListening();
    },
  };
}

