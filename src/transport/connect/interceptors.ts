import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { Health } from "../../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1Alpha } from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { Metrics, RpcProtocol } from "../../metrics/registry.js";
import type { CallAdmission } from "../http/call-admission.js";
import { runWithOrigin } from "../../service/call-origin.js";
import { kCaller, kRawRequest } from "./context.js";
import { observeStream } from "./observe-stream.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * Interceptors, outermost first: `metrics` (so it also sees authentication failures), then `auth`.
 * Auth verifies the bearer token once per call; a watch stream keeps the identity it opened with.
 */

/**
 * Services answered without authentication. Health checks come from probes and load balancers
 * that hold no token, and must work even with anonymous access disabled; they are not charged to
 * any quota either: a probe refused because the traffic it measures used up its address's budget
 * would take a healthy node out of rotation (they are cheap: the readiness monitor's cached state).
 * Reflection (served only when PRESENCE_REFLECTION is on) describes the schema to tools such as
 * grpcurl, which then call the other services with a token: it is admitted as an anonymous caller
 * (no token read) and charged to its address's `requests_per_second` quota like any call.
 */
const UNCHARGED_SERVICES: ReadonlySet<string> = new Set([Health.typeName]);
const PUBLIC_SERVICES: ReadonlySet<string> = new Set([ReflectionV1.typeName, ReflectionV1Alpha.typeName]);

/**
 * Admits each call through the RPC port's one admission (`transport/http/call-admission.ts`, shared
 * with the plain HTTP routes): verifies `Authorization: Bearer …`, stamps the caller with the
 * call's origin (client address and connection), charges the call to the caller's
 * `requests_per_second` quota (QUOTA_EXCEEDED when used up; a stream counts once), and stores the
 * caller in the context.
 */
export function authInterceptor(admit: CallAdmission): Interceptor {
  return (next) => async (req) => {
    if (UNCHARGED_SERVICES.has(req.service.typeName)) return next(req);
    const raw = req.contextValues.get(kRawRequest);
    try {
      const anonymous = PUBLIC_SERVICES.has(req.service.typeName);
      req.contextValues.set(kCaller, await admit(anonymous ? undefined : (req.header.get("authorization") ?? undefined), raw, { anonymous }));
    } catch (e) {
      throw toConnectError(e);
    }
    return next(req);
  };
}

/** The wire protocol of a call, from its content-type (a Connect GET has none). */
export function protocolOf(contentType: string | null): RpcProtocol {
  const ct = (contentType ?? "").toLowerCase();
  if (ct.startsWith("application/grpc-web")) return "grpc_web";
  if (ct.startsWith("application/grpc")) return "grpc";
  return "connect";
}

const reasonOf = (e: ConnectError) => e.findDetails(ErrorInfoSchema)[0]?.reason ?? Code[e.code];

/**
 * Records `presence_rpc_duration_seconds` for unary calls and `presence_stream_duration_seconds`
 * for streams, labelled with method, code and protocol, (finished on both the wrapper's `finally` and the signal, since a `finally` can be
 * skipped by a stalled HTTP/2 write: connect-notes §1 and §8), and counts rejections by reason.
 */
export function metricsInterceptor(metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const t0 = performance.now();
    const method = req.method.name;
    const protocol = protocolOf(req.header.get("content-type"));
    let res;
    try {
      res = await next(req);
    } catch (e) {
      const ce = ConnectError.from(e);
      countRejection(metrics, ce);
      (req.stream ? metrics.streamDuration : metrics.rpcDuration).observe({ method, code: Code[ce.code] ?? "unknown", protocol }, (performance.now() - t0) / 1000);
      throw e;
    }
    if (!res.stream) {
      metrics.rpcDuration.observe({ method, code: "OK", protocol }, (performance.now() - t0) / 1000);
      return res;
    }
    const observer = new StreamMetrics(metrics, method, protocol, t0, req.signal);
    req.signal.addEventListener("abort", observer, { once: true });
    return { ...res, message: observeStream(res.message, observer) };
  };
}

function countRejection(metrics: Metrics, e: ConnectError): void {
  if (e.code !== Code.Canceled && e.code !== Code.Internal && e.code !== Code.Unavailable) metrics.rejections.inc({ reason: reasonOf(e) });
}

/**
 * One open stream's duration metric: the stream observer and the signal's abort listener
 * (`handleEvent`) in one object, so an open watch stream holds no closures for it.
 */
class StreamMetrics {
  private done = false;
  private code = "OK";
  constructor(
    private readonly metrics: Metrics,
    private readonly method: string,
    private readonly protocol: RpcProtocol,
    private readonly t0: number,
    private readonly signal: AbortSignal,
  ) {}
  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.signal.removeEventListener("abort", this);
    this.metrics.streamDuration.observe({ method: this.method, code: this.code, protocol: this.protocol }, (performance.now() - this.t0) / 1000);
  }
  /** The call's signal aborted (the client went away, or a deadline). */
  handleEvent(): void {
    if (!this.done) this.code = Code[ConnectError.from(this.signal.reason).code] ?? "unknown";
    this.finish();
  }
  onError(e: unknown): unknown {
    const ce = ConnectError.from(e);
    this.code = Code[ce.code] ?? "unknown";
    countRejection(this.metrics, ce);
    return e;
  }
  onEnd(): void {
    this.finish();
  }
}

/**
 * Runs the call with its origin (the client's address and User-Agent) as the current call origin,
 * so the activity log records where a join or a leave came from (service/call-origin.ts).
 */
export function originInterceptor(): Interceptor {
  return (next) => (req) => {
    const raw = req.contextValues.get(kRawRequest);
    // The client's address as the quotas see it (behind trusted proxies: from X-Forwarded-For).
    const remoteAddr = req.contextValues.get(kCaller).origin?.address ?? raw?.socket?.remoteAddress ?? "";
    const origin = { remoteAddr, userAgent: (req.header.get("user-agent") ?? "").slice(0, 256) };
    // (A no-op, apart from reading two headers, while nothing records origins.)
    return runWithOrigin(origin, () => next(req));
  };
}
