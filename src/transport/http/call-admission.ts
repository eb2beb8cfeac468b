import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { TokenVerifier } from "../../auth/verify-token.js";
import { ANONYMOUS, withOrigin, type Caller, type CallerOrigin } from "../../core/identity.js";
import { PresenceError } from "../../core/presence-error.js";
import type { AccessGuard } from "../../service/access-guard.js";
import type { ClientAddressOf } from "./client-address.js";

/**
 * The admission of one call on the RPC port, the same for every route there: the Connect, gRPC
 * and gRPC-Web services (through the Connect auth interceptor) and the plain HTTP routes beside
 * them (`GET /v1/history/export`). It verifies `Authorization: Bearer …` (none: anonymous, if the
 * verifier allows it), stamps the caller with the call's origin (the client's address behind
 * trusted proxies, and the connection: anonymous quotas count per address, request ids are scoped
 * per connection), and charges the call to the caller's `requests_per_second` quota through the
 * AccessGuard (QUOTA_EXCEEDED when used up; a stream counts once). Rights are checked afterwards by
 * the service the call reaches, with this caller.
 *
 * `anonymous`: a public route (reflection) admits the caller as anonymous without reading a token
 * (it works with anonymous access off), and still charges its address's quota.
 *
 * Rejects with the PresenceError to answer; an `unauthenticated` one is reported to
 * `onAuthFailure` (metrics) first.
 */
export type CallAdmission = (authorization: string | undefined, raw: RawHttpRequest | undefined, o?: { anonymous?: boolean }) => Promise<Caller>;

/**
 * A raw Node request of either protocol (what the admission reads: its socket and X-Forwarded-For),
 * or an HTTP/2 stream taken before Node's compat layer (the gRPC fast path).
 */
export type RawHttpRequest = http.IncomingMessage | http2.Http2ServerRequest | RawHttp2Stream;

/** An HTTP/2 stream served without compat objects: the stream, its request headers and the connection's peer. */
export interface RawHttp2Stream {
  readonly stream: http2.ServerHttp2Stream;
  readonly headers: http2.IncomingHttpHeaders;
  readonly socket: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined };
}

export interface CallAdmissionOptions {
  verify: TokenVerifier;
  access: AccessGuard;
  clientAddress: ClientAddressOf;
  /** A refused credential, by ErrorReason (`presence_auth_failures_total`). */
  onAuthFailure?: (reason: string) => void;
}

export function createCallAdmission(o: CallAdmissionOptions): CallAdmission {
  return async (authorization, raw, how) => {
    try {
      const caller = withOrigin(how?.anonymous ? ANONYMOUS : await o.verify(authorization), originOf(raw, o.clientAddress));
      o.access.chargeRequest(caller);
      return caller;
    } catch (e) {
      if (e instanceof PresenceError && e.code === "unauthenticated") o.onAuthFailure?.(e.reason);
      throw e;
    }
  };
}

/** The client address and connection of a raw request (`rpc:<peer address>:<peer port>`: unique per open connection). */
export function originOf(raw: RawHttpRequest | undefined, clientAddress: ClientAddressOf): CallerOrigin {
  const socket = raw?.socket;
  const xff = raw?.headers["x-forwarded-for"];
  return {
    address: clientAddress(socket?.remoteAddress, Array.isArray(xff) ? xff.join(",") : xff),
    connection: `rpc:${socket?.remoteAddress ?? ""}:${socket?.remotePort ?? 0}`,
  };
}
