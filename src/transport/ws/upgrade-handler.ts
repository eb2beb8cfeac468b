import { decodeJwt } from "jose";
import type { HttpRequest, HttpResponse, us_socket_context_t } from "uWebSockets.js";
import type { TokenVerifier } from "../../auth/verify-token.js";
import { withOrigin } from "../../core/identity.js";
import { PresenceError } from "../../core/presence-error.js";
import type { ClientAddressOf } from "../http/client-address.js";
import { createWsSession, type WsSession } from "./ws-session.js";

/**
 * Authentication at the WebSocket upgrade (frames.proto): the token comes from the
 * `Authorization: Bearer` header, else from a `bearer.<jwt>` value of `Sec-WebSocket-Protocol`
 * (browsers cannot set headers), else from `?token=`; none means anonymous (if the verifier allows
 * it). Verification is asynchronous, so the handler follows uWS's rules (uws-notes §1, §6): read
 * everything from `req` first, register `onAborted`, and answer later inside `cork`, only if the
 * client is still there. A refusal is HTTP 401 with the reason as text (never the token); a bridge
 * that is draining answers 503.
 */
export interface UpgradeHandlerOptions {
  verify: TokenVerifier;
  /** True once the bridge is shutting down: upgrades are refused with 503. */
  isClosing(): boolean;
  /** A refused credential, by ErrorReason (metrics). */
  onAuthFailure?(reason: string): void;
  /** An unexpected exception (counted; the request gets a 500 if it can still be answered). */
  onError(err: unknown): void;
  /** The client's address from the peer and X-Forwarded-For (trusted proxies); default: the peer. */
  clientAddress?: ClientAddressOf;
  /**
   * Counts the connection against the port's and the address's limits: its release function, or
   * why it is refused (answered 503 when the port is full, 429 when the address is).
   */
  admit?(peer: string): (() => void) | "total" | "per_address";
}

let upgrades = 0;

/** The subprotocol the server answers when the client offers it. */
export const SUBPROTOCOL = "presence.v1";
const BEARER_PREFIX = "bearer.";

/** Milliseconds since the epoch when the (already verified) JWT expires; 0 when there is none. */
function tokenExpiry(authorization: string | undefined): number {
  const token = /^Bearer +(\S+)/i.exec(authorization ?? "")?.[1];
  if (!token) return 0;
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === "number" ? exp * 1000 : 0;
  } catch {
    return 0;
  }
}

/** The uWS `upgrade` handler. Never throws. */
export function createUpgradeHandler(o: UpgradeHandlerOptions) {
  const refuse = (res: HttpResponse, aborted: { value: boolean }, status: string, body: string) => {
    if (aborted.value) return;
    res.cork(() => res.writeStatus(status).writeHeader("content-type", "text/plain; charset=utf-8").end(body));
  };

  return (res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void => {
    const aborted = { value: false };
    try {
      // Everything from `req` is read now: it is invalid after this handler returns.
      const key = req.getHeader("sec-websocket-key");
      const extensions = req.getHeader("sec-websocket-extensions");
      const header = req.getHeader("authorization");
      const offered = req.getHeader("sec-websocket-protocol").split(",").map((p) => p.trim()).filter(Boolean);
      const queryToken = req.getQuery("token") ?? ""; // typed string, undefined when absent
      const forwardedFor = req.getHeader("x-forwarded-for");
      const peer = Buffer.from(res.getRemoteAddressAsText()).toString("latin1");
      const origin = { address: o.clientAddress ? o.clientAddress(peer, forwardedFor) : peer, connection: `ws:${++upgrades}` };
      const admitted = o.admit ? o.admit(peer) : () => {};
      if (admitted === "total") return refuse(res, aborted, "503 Service Unavailable", "too many connections on this port (PRESENCE_WS_MAX_CONNECTIONS)");
      if (admitted === "per_address") return refuse(res, aborted, "429 Too Many Requests", "too many connections from this address (PRESENCE_MAX_CONNECTIONS_PER_ADDRESS)");
      // What the history records of this socket's calls (service/call-origin.ts).
      const callOrigin = { remoteAddr: origin.address, userAgent: req.getHeader("user-agent").slice(0, 256) };
      res.onAborted(() => {
        aborted.value = true;
      });
      if (o.isClosing()) return refuse(res, aborted, "503 Service Unavailable", "draining");
      const bearer = offered.find((p) => p.toLowerCase().startsWith(BEARER_PREFIX));
      const authorization =
        header !== "" ? header : bearer ? `Bearer ${bearer.slice(BEARER_PREFIX.length)}` : queryToken !== "" ? `Bearer ${queryToken}` : undefined;
      // Answer a subprotocol only if the client offered it (browsers fail the handshake otherwise).
      const protocol = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : "";
      o.verify(authorization)
        .then(
          (caller) => {
            if (aborted.value) return admitted();
            if (o.isClosing()) {
              admitted();
              return refuse(res, aborted, "503 Service Unavailable", "draining");
            }
            const state = createWsSession(withOrigin(caller, origin), tokenExpiry(authorization), callOrigin);
            state.releaseConnection = admitted;
            res.cork(() => res.upgrade<WsSession>(state, key, protocol, extensions, context));
          },
          (err: unknown) => {
            admitted();
            const e = err instanceof PresenceError ? err : new PresenceError("TOKEN_INVALID", "token could not be verified");
            if (e.code === "unauthenticated") o.onAuthFailure?.(e.reason);
            refuse(res, aborted, e.code === "unavailable" ? "503 Service Unavailable" : "401 Unauthorized", e.message);
          },
        )
        .catch((err: unknown) => o.onError(err)); // a rejection here would be fatal (unhandled)
    } catch (err) {
      o.onError(err);
      try {
        if (!aborted.value) res.writeStatus("500 Internal Server Error").end();
      } catch {
        // already answered or aborted
      }
    }
  };
}
