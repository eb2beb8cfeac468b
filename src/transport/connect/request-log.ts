import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { randomFillSync } from "node:crypto";
import { pooledRandomBytes, uuidV4 } from "../../core/ids.js";
import type { Logger } from "../../logger.js";
import { kLog, kRequestId } from "./context.js";
import { observeStream } from "./observe-stream.js";

/**
 * Request ids and per-call logs for the RPC port (the outermost interceptor, so it also sees
 * authentication failures).
 *
 * - The id is the request's `x-request-id` when it is well formed (1–128 characters of
 *   `A-Z a-z 0-9 . _ : -`, so it is safe in a log line and a header), else a fresh UUID. It goes
 *   back in the `x-request-id` response header (on errors: the error metadata, which Connect sends
 *   as headers and gRPC as trailers) and into the context (`kRequestId`), with a child logger
 *   carrying `reqId`, `service` and `method` (`kLog`) for handlers.
 * - A failed call is logged once, with its code and message: internal, unknown and data loss at
 *   error level (with the cause, serialised by pino); everything else at debug: client mistakes,
 *   cancellations, and `unavailable` too (a Redis outage or a drain fails every call at once: the
 *   readiness monitor logs the outage once at warn and the metrics count the calls). Every call is
 *   logged at debug when it finishes (code, duration), streams when they end.
 * - Request and response messages are never logged, so tokens, session ids and resume secrets
 *   cannot leak from here; the `authorization` header is never read.
 */
export const REQUEST_ID_HEADER = "x-request-id";
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;
const randomBytes = pooledRandomBytes((into) => randomFillSync(into));

/** A fresh request id: a random UUID, as one flat string (an open stream keeps its id: core/ids.ts uuidV4). */
export const newRequestId = (): string => uuidV4(randomBytes(16));

/** The id to use for a request: the client's when well formed, else a new one. */
export function requestIdFor(header: string | null, newId: () => string = newRequestId): string {
  return header !== null && WELL_FORMED.test(header) ? header : newId();
}

export function requestLogInterceptor(log: Logger, newId: () => string = newRequestId): Interceptor {
  return (next) => async (req) => {
    const reqId = requestIdFor(req.header.get(REQUEST_ID_HEADER), newId);
    const callLog = log.child({ reqId, service: req.service.typeName, method: req.method.name });
    req.contextValues.set(kRequestId, reqId);
    req.contextValues.set(kLog, callLog);
    const t0 = performance.now();
    const ms = () => Math.round((performance.now() - t0) * 10) / 10;
    const failed = (e: unknown): ConnectError => {
      const ce = ConnectError.from(e);
      logFailure(callLog, ce, ms());
      return ce;
    };

    let res;
    try {
      res = await next(req);
    } catch (e) {
      const ce = failed(e);
      ce.metadata.set(REQUEST_ID_HEADER, reqId);
      throw ce;
    }
    res.header.set(REQUEST_ID_HEADER, reqId);
    if (!res.stream) {
      callLog.debug("rpc finished", { code: "ok", ms: ms() });
      return res;
    }
    return { ...res, message: observeStream(res.message, new StreamLog(req, callLog, t0)) };
  };
}

/** How a stream ends, in the call's log: one object per open stream (closures would be several). */
class StreamLog {
  constructor(
    private readonly req: { readonly signal: AbortSignal },
    private readonly log: Logger,
    private readonly t0: number,
  ) {}
  private ms(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }
  onError(e: unknown): ConnectError {
    const ce = ConnectError.from(e);
    logFailure(this.log, ce, this.ms());
    return ce;
  }
  onEnd(threw: boolean): void {
    if (threw) return;
    // Ended normally, or by the client going away (the stream is returned early).
    const signal = this.req.signal;
    const code = signal.aborted ? (Code[ConnectError.from(signal.reason).code] ?? "unknown") : "ok";
    this.log.debug("stream ended", { code, ms: this.ms() });
  }
}

const SERVER_FAULTS = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

function logFailure(log: Logger, e: ConnectError, ms: number): void {
  const fields = { code: Code[e.code] ?? String(e.code), ms, error: e.rawMessage };
  if (SERVER_FAULTS.has(e.code)) log.error("rpc failed", { ...fields, err: e.cause instanceof Error ? e.cause : e });
  else log.debug("rpc failed", fields);
}
