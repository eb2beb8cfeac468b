import { decodeJwt } from "jose";
import type { TokenVerifier } from "../../auth/verify-token.js";
import { PresenceError } from "../../core/presence-error.js";
import type { UpgradeDecision, UpgradeRequest } from "./ws-engine.js";
import { createWsSession } from "./ws-session.js";

/**
 * Authentication at the WebSocket upgrade (frames.proto), the same for every engine: the token
 * comes from the `Authorization: Bearer` header, else from a `bearer.<jwt>` value of
 * `Sec-WebSocket-Protocol` (browsers cannot set headers), else from `?token=`; none means
 * anonymous (if the verifier allows it). A refusal is HTTP 401 with the reason as text (never the
 * token); a bridge that is draining answers 503. The engines read the request before anything
 * asynchronous happens and answer only if the client is still there (uws-notes §1, §6).
 */
export interface UpgradeHandlerOptions {
  verify: TokenVerifier;
  /** True once the bridge is shutting down: upgrades are refused with 503. */
  isClosing(): boolean;
  /** A refused credential, by ErrorReason (metrics). */
  onAuthFailure?(reason: string): void;
}

/** The subprotocol the server answers when the client offers it. */
export const SUBPROTOCOL = "presence.v1";
const BEARER_PREFIX = "bearer.";

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
    const bearer = req.protocols.find((p) => p.toLowerCase().startsWith(BEARER_PREFIX));
    const authorization =
      req.authorization !== "" ? req.authorization : bearer ? `Bearer ${bearer.slice(BEARER_PREFIX.length)}` : req.queryToken !== "" ? `Bearer ${req.queryToken}` : undefined;
    try {
      const caller = await o.verify(authorization);
      if (o.isClosing()) return DRAINING;
      const origin = { remoteAddr: req.remoteAddress, userAgent: req.userAgent.slice(0, 256) };
      return { accept: true, state: createWsSession(caller, tokenExpiry(authorization), origin), protocol: pickSubprotocol(req.protocols) };
    } catch (err) {
      const e = err instanceof PresenceError ? err : new PresenceError("TOKEN_INVALID", "token could not be verified");
      o.onAuthFailure?.(e.reason);
      return { accept: false, status: "401 Unauthorized", body: e.message };
    }
  };
}
