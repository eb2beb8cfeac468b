import { decodeJwt } from "jose";
import type { TokenVerifier } from "../../auth/verify-token.js";
import { withOrigin, type Caller } from "../../core/identity.js";
import { PresenceError } from "../../core/presence-error.js";
import type { ClientAddressOf } from "../http/client-address.js";
import type { UpgradeDecision, UpgradeRequest } from "./ws-engine.js";
import { createWsSession } from "./ws-session.js";

/**
 * Authentication at the WebSocket upgrade (frames.proto), the same for every engine: the token
 * comes from the `Authorization: Bearer` header, else from a `bearer.<jwt>` value of
 * `Sec-WebSocket-Protocol` (browsers cannot set headers), else from `?token=`; none means
 * anonymous (if the verifier allows it). The verified caller's upgrade is charged to its
 * `requests_per_second` quota like a Connect call (429 past it). A refusal is HTTP 401 with the
 * reason as text (never the token); a bridge that is draining answers 503. The engines read the request before anything
 * asynchronous happens and answer only if the client is still there (uws-notes §1, §6).
 */
export interface UpgradeHandlerOptions {
  verify: TokenVerifier;
  /** True once the bridge is shutting down: upgrades are refused with 503. */
  isClosing(): boolean;
  /** A refused credential, by ErrorReason (metrics). */
  onAuthFailure?(reason: string): void;
  /** The client's address from the peer and X-Forwarded-For (trusted proxies); default: the peer. */
  clientAddress?: ClientAddressOf;
  /**
   * Counts the connection against the port's and the address's limits (before the token is
   * verified): its release function, or why it is refused (503 when the port is full or the process
   * is short of descriptors, 429 when the address is).
   */
  admit?(address: string): (() => void) | "total" | "per_address";
  /** Charges the upgrade to the verified caller's request quota (throws QUOTA_EXCEEDED: 429). */
  charge?(caller: Caller): void;
}

let upgrades = 0;

/** The subprotocol the server answers when the client offers it. */
export const SUBPROTOCOL = "presence.v1";
const BEARER_PREFIX = "bearer.";

/** The HTTP status of a refused upgrade by error code (else 401: the credential). */
const REFUSAL_STATUS: Partial<Record<PresenceError["code"], string>> = { unavailable: "503 Service Unavailable", resource_exhausted: "429 Too Many Requests" };

const DRAINING: UpgradeDecision = { accept: false, status: "503 Service Unavailable", body: "draining" };

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

/** The subprotocol to answer: ours when offered, else none (browsers fail the handshake on any other). */
export const pickSubprotocol = (offered: Iterable<string>): string => ([...offered].includes(SUBPROTOCOL) ? SUBPROTOCOL : "");

/** Decides upgrades. The returned function never rejects. */
export function createUpgradeHandler(o: UpgradeHandlerOptions): (req: UpgradeRequest) => Promise<UpgradeDecision> {
  return async (req) => {
    if (o.isClosing()) return DRAINING;
    const address = o.clientAddress ? o.clientAddress(req.remoteAddress, req.forwardedFor) : req.remoteAddress;
    const admitted = o.admit ? o.admit(req.remoteAddress) : () => {};
    if (admitted === "total") return { accept: false, status: "503 Service Unavailable", body: "too many connections on this port (PRESENCE_WS_MAX_CONNECTIONS), or the server is short of file descriptors" };
    if (admitted === "per_address") return { accept: false, status: "429 Too Many Requests", body: "too many connections from this address (PRESENCE_MAX_CONNECTIONS_PER_ADDRESS)" };
    const bearer = req.protocols.find((p) => p.toLowerCase().startsWith(BEARER_PREFIX));
    const authorization =
      req.authorization !== "" ? req.authorization : bearer ? `Bearer ${bearer.slice(BEARER_PREFIX.length)}` : req.queryToken !== "" ? `Bearer ${req.queryToken}` : undefined;
    try {
      const caller = await o.verify(authorization);
      if (o.isClosing()) {
        admitted();
        return DRAINING;
      }
      // Quotas and request-id scope (Caller.origin), and what the history records (CallOrigin).
      const origin = { address, connection: `ws:${++upgrades}` };
      const stamped = withOrigin(caller, origin);
      o.charge?.(stamped);
      const state = createWsSession(stamped, tokenExpiry(authorization), { remoteAddr: address, userAgent: req.userAgent.slice(0, 256) });
      state.releaseConnection = admitted;
      return { accept: true, state, protocol: pickSubprotocol(req.protocols) };
    } catch (err) {
      admitted();
      const e = err instanceof PresenceError ? err : new PresenceError("TOKEN_INVALID", "token could not be verified");
      if (e.code === "unauthenticated") o.onAuthFailure?.(e.reason);
      return { accept: false, status: REFUSAL_STATUS[e.code] ?? "401 Unauthorized", body: e.message };
    }
  };
}
