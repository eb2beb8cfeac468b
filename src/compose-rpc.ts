import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { BackendFeatures } from "./backend-features.js";
import type { Config } from "./config.js";
import type { Clock } from "./core/clock.js";
import type { FanoutHub } from "./fanout/fanout-hub.js";
import type { AppHistory } from "./history/app-history.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics/registry.js";
import type { AdminService } from "./service/admin-service.js";
import type { PresenceService } from "./service/presence-service.js";
import type { RoomService } from "./service/room-service.js";
import type { ScopeService } from "./service/scope-service.js";
import { adminRoutes } from "./transport/connect/admin-routes.js";
import { CallValues, kRawRequest, type RawRequest } from "./transport/connect/context.js";
import { createGrpcFastPath } from "./transport/connect/grpc-fast-path.js";
import type { HealthRoutes } from "./transport/connect/health-routes.js";
import { historyRoutes } from "./transport/connect/history-routes.js";
import { authInterceptor, metricsInterceptor, originInterceptor } from "./transport/connect/interceptors.js";
import { presenceRoutes } from "./transport/connect/presence-routes.js";
import { registerReflection } from "./transport/connect/reflection-routes.js";
import { requestLogInterceptor } from "./transport/connect/request-log.js";
import { withWireCompat } from "./transport/connect/wire-compat.js";
import type { CallAdmission } from "./transport/http/call-admission.js";
import type { ConnectionLimiter } from "./transport/http/connection-limiter.js";
import { withCors } from "./transport/http/cors.js";
import { withHistoryExport } from "./transport/http/history-export.js";
import { createOnePortServer } from "./transport/http/one-port-server.js";

/**
 * The RPC port of the composition root (app.ts calls this): one HTTP server for Connect, gRPC,
 * gRPC-Web and the plain routes (history export), every call admitted by `admit` (token, client
 * address, request-rate quota) through the same interceptor chain, gRPC served by the fast path.
 */
export interface RpcPortDeps {
  config: Config;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  admit: CallAdmission;
  limiter: ConnectionLimiter;
  /** A warning at most once a minute per kind (compose-access.ts). */
  warnEvery(kind: string, message: string, fields: Record<string, unknown>): void;
  service: PresenceService;
  scopeService: ScopeService;
  roomService: RoomService;
  adminService: AdminService;
  health: HealthRoutes;
  hist: AppHistory;
  backends: BackendFeatures;
  hub: Pick<FanoutHub, "roomWatchers">;
}

export function createRpcPort(d: RpcPortDeps) {
  const { config, metrics } = d;
  // No `shutdownSignal` for connect-node: it adds and removes one abort listener per call on that
  // one signal, and removal walks the whole list, so with 50,000 open watch streams every new call
  // paid ~290 µs (measured by bench:grpc). Streams are ended by the hubs on drain instead, and
  // unary calls finish (or are cut at the shutdown deadline by the RPC server).
  // Outermost first: request ids and logs, then metrics, then auth (both see auth failures).
  const interceptors = [requestLogInterceptor(d.log), metricsInterceptor(metrics), authInterceptor(d.admit), originInterceptor()];
  const contextValues = (req: RawRequest) => new CallValues().set(kRawRequest, req);
  // gRPC calls are served by the fast path over the same routes and interceptors (grpc-fast-path.ts).
  const grpc = createGrpcFastPath({ interceptors, readMaxBytes: config.maxRequestBytes, contextValues });
  // Bidi and client-streaming calls (Track) send their request body for their whole life: exempt
  // from the RPC port's request-body timeout (filled when the routes are registered, just below).
  const streamingRequestPaths = new Set<string>();
  const adapter = connectNodeAdapter({
    // Reflection last: it describes whatever the router serves at that point.
    routes: (router) => {
      const presence = presenceRoutes(d.service, d.scopeService, d.roomService, { broadcast: d.backends.broadcast, roomWatchers: (room) => d.hub.roomWatchers(room) });
      const served = d.backends.register(historyRoutes(d.hist.service)(adminRoutes(d.adminService)(presence(d.health.register(grpc.record(router))))));
      const routes = withWireCompat(config.reflection ? registerReflection(served) : served);
      for (const h of routes.handlers) if (h.method.methodKind === "bidi_streaming" || h.method.methodKind === "client_streaming") streamingRequestPaths.add(h.requestPath);
      return routes;
    },
    interceptors,
    readMaxBytes: config.maxRequestBytes,
    // The watch path fans one message out to many streams: compressing each copy costs CPU per
    // watcher (connect-notes §1.4), and presence messages are small. Unary calls may compress.
    compressMinBytes: config.rpcCompressMinBytes,
    contextValues,
  });
  return createOnePortServer({
    // The export is a plain route beside the Connect handler, admitted exactly like its calls.
    handler: withCors(
      config.corsOrigins,
      withHistoryExport({ history: d.hist.service, admit: d.admit, clock: d.clock, log: d.log, onRejected: (reason) => metrics.rejections.inc({ reason }) }, adapter),
    ),
    // gRPC calls are taken off the HTTP/2 server's stream event, before Node's compat layer.
    onStream: config.grpcFastPath ? (stream, headers) => grpc.handleStream(stream, headers) : undefined,
    ...config.http,
    streamingRequestPaths,
    limiter: d.limiter,
    onRefused: (reason) => metrics.connectionsRefused.inc({ port: "rpc", reason }),
    onAcceptError: (code) => {
      metrics.acceptErrors.inc({ port: "rpc", code: code === "EMFILE" || code === "ENFILE" ? code : "other" });
      d.warnEvery("accept_error", "RPC port: accept failed (out of file descriptors?); accepting pauses and resumes", { code });
    },
    onAcceptPaused: (paused) => metrics.acceptPaused.set({ port: "rpc" }, paused ? 1 : 0),
  });
}
