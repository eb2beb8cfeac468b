import { createContextKey } from "@connectrpc/connect";
import { ANONYMOUS, type Caller } from "../../core/identity.js";
import type { Logger } from "../../logger.js";
import type { RawHttpRequest } from "../http/call-admission.js";

/** The authenticated caller, set by the auth interceptor. */
export const kCaller = createContextKey<Caller>(ANONYMOUS, { description: "authenticated caller" });

/** A raw Node request of either protocol, or a raw HTTP/2 stream of the gRPC fast path. */
export type RawRequest = RawHttpRequest;

/** The raw Node request, so a stalled stream can be reset (connect-notes §1), and the client's address read. */
export const kRawRequest = createContextKey<RawRequest | undefined>(undefined, {
  description: "raw node request",
});

/** The call's logger (fields `reqId`, `method`), set by the request-log interceptor. */
export const kLog = createContextKey<Logger | undefined>(undefined, { description: "per-call logger" });

/** The call's request id (echoed as `x-request-id`), set by the request-log interceptor. */
export const kRequestId = createContextKey<string>("", { description: "request id" });
