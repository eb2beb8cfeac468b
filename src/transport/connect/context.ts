import { createContextKey, type ContextKey, type ContextValues } from "@connectrpc/connect";
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

/**
 * The per-call context values of the RPC port (connect's `createContextValues` semantics: a value
 * per key, the key's default when unset), with its methods on the prototype: connect's object
 * literal makes three functions per call, and an open watch stream holds its values.
 */
export class CallValues implements ContextValues {
  [id: symbol]: unknown;
  get<T>(key: ContextKey<T>): T {
    return key.id in this ? (this[key.id] as T) : key.defaultValue;
  }
  set<T>(key: ContextKey<T>, value: T): this {
    this[key.id] = value;
    return this;
  }
  delete(key: ContextKey<unknown>): this {
    delete this[key.id];
    return this;
  }
}
