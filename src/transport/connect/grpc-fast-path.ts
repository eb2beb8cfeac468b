import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type ContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { parseTimeout } from "@connectrpc/connect/protocol-grpc";
import type * as http2 from "node:http2";
import type * as net from "node:net";
import type { RawHttp2Stream, RawHttpRequest } from "../http/call-admission.js";
import { GrpcCall, kCall, type MethodImpl, type MethodSpec } from "./grpc-call.js";
import { DECOMPRESSORS, type Decompressor } from "./grpc-envelopes.js";

/**
 * The gRPC protocol's fast path on the RPC port (issue 16 item 1). connect-node serves gRPC,
 * gRPC-Web and Connect through one pipeline whose per-call cost (an async-generator chain, three
 * AbortControllers and DOMExceptions, WHATWG Headers) made a unary gRPC call cost 6–7× a bare
 * grpc-js server's CPU. Requests with `content-type: application/grpc` or `application/grpc+proto`
 * over HTTP/2 (every gRPC client: grpc-js, grpcio, grpc-go, buf curl --protocol grpc) are served
 * here instead, per stream, on the same port and the same HTTP/2 connection as everything else;
 * gRPC-Web, Connect, `application/grpc+json` and unknown paths still go to connect-node. The
 * one-port server hands each stream over from its `stream` event (`onStream`), before Node's compat
 * layer: a gRPC call makes no Http2ServerRequest/Response (11% of a Heartbeat's CPU before).
 *
 * It is an adapter, not a second server: `record(router)` wraps the Connect router the routes are
 * registered on, so each method's implementation and the interceptor list (request ids and logs,
 * metrics with `protocol="grpc"`, authentication, `chargeRequest`, the call origin) are the very
 * ones connect-node runs. What it implements itself is the wire: envelopes (grpc-envelopes.ts),
 * `grpc-encoding` gzip/deflate requests, `grpc-timeout` deadlines, statuses in trailers with
 * `grpc-status-details-bin` (grpc-call.ts). The one-port server's limits apply unchanged: HTTP/2
 * settings, PINGs, idle and slow-client timeouts, GOAWAY on drain (watch streams end with
 * DRAINING from the hubs, as on every protocol); `readMaxBytes` bounds each message.
 *
 * Why not @grpc/grpc-js's Server behind the same port (createConnectionInjector, routing each
 * connection by its first request): measured and rejected, see bench/README.md ("gRPC path").
 */
export interface GrpcFastPathOptions {
  /** The interceptors connect-node runs, outermost first. */
  interceptors: Interceptor[];
  /** Largest request message, after decompression (PRESENCE_MAX_REQUEST_BYTES). */
  readMaxBytes: number;
  /** The per-call context values connect-node's adapter makes (`contextValues` option), from the call's raw request. */
  contextValues: (req: RawHttpRequest) => ContextValues;
}

export interface GrpcFastPath {
  /** Wraps a router so that every service registered through it is also served here. */
  record(router: ConnectRouter): ConnectRouter;
  /**
   * Serves an HTTP/2 stream when it is a gRPC call of a recorded method (true), else leaves it
   * (false). The one-port server calls it from its `stream` event, before Node's compat layer
   * (`onStream`): a gRPC call makes no Http2ServerRequest/Response.
   */
  handleStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /** Paths served (`/package.Service/Method`). */
  paths(): string[];
}

export function createGrpcFastPath(o: GrpcFastPathOptions): GrpcFastPath {
  const methods = new Map<string, MethodSpec>();

  function add(service: DescService, method: DescMethod, impl: MethodImpl): void {
    methods.set(`/${service.typeName}/${method.name}`, { service, method, impl, next: applyInterceptors(invoker(service, method, impl), o.interceptors) });
  }

  return {
    record(router) {
      const recording: ConnectRouter = {
        get handlers() {
          return router.handlers;
        },
        service(service, implementation, options) {
          router.service(service, implementation, options);
          const impl = implementation as Record<string, MethodImpl | undefined>;
          for (const method of service.methods) {
            const fn = impl[method.localName];
            add(service, method, typeof fn === "function" ? fn.bind(implementation) : unimplemented(service, method));
          }
          return recording;
        },
        rpc(method, impl, options) {
          router.rpc(method, impl, options);
          add(method.parent, method, impl as MethodImpl);
          return recording;
        },
      };
      return recording;
    },

    handleStream(stream, h) {
      const ct = h["content-type"];
      if ((ct !== "application/grpc" && ct !== "application/grpc+proto") || h[":method"] !== "POST") return false;
      const spec = methods.get(h[":path"] ?? "");
      if (spec === undefined) return false;
      const raw = h["grpc-encoding"];
      const encoding = typeof raw === "string" ? raw : undefined;
      const decompress: Decompressor | undefined = encoding === undefined || encoding === "identity" ? undefined : DECOMPRESSORS[encoding];
      const timeout = parseTimeout(typeof h["grpc-timeout"] === "string" ? h["grpc-timeout"] : null, Number.MAX_SAFE_INTEGER);
      const values = o.contextValues(new StreamRequest(stream, h, peerOf(stream.session)));
      const call = new GrpcCall(spec, stream, h, { readMaxBytes: o.readMaxBytes, decompress, deadlineMs: timeout.error ? undefined : timeout.timeoutMs, values });
      if (timeout.error) call.fail(timeout.error);
      else if (encoding !== undefined && encoding !== "identity" && decompress === undefined) {
        call.fail(new ConnectError(`grpc-encoding: "${encoding}" is not supported (supported: identity, gzip, deflate)`, Code.Unimplemented));
      } else void call.run();
      return true;
    },

    paths: () => [...methods.keys()],
  };
}

type AnyFn = MethodSpec["next"];

/** Wraps `next` in the interceptors, outermost first (as connect does). */
function applyInterceptors(next: AnyFn, interceptors: Interceptor[]): AnyFn {
  return interceptors.reduceRight<AnyFn>((inner, interceptor) => interceptor(inner as never) as AnyFn, next);
}

/** The raw request of a fast-path call (`kRawRequest`): what the admission, the origin and stream resets read. */
class StreamRequest implements RawHttp2Stream {
  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly headers: http2.IncomingHttpHeaders,
    readonly socket: Peer,
  ) {}
}

type Peer = RawHttp2Stream["socket"];
const NO_PEER: Peer = {};
/** The peer of each HTTP/2 connection, read once (through the session's socket proxy) and shared by its calls. */
const peers = new WeakMap<http2.Http2Session, Peer>();

function peerOf(session: http2.Http2Session | undefined): Peer {
  if (session === undefined) return NO_PEER;
  let peer = peers.get(session);
  if (peer === undefined) {
    const socket = session.socket as net.Socket | undefined;
    peer = { remoteAddress: socket?.remoteAddress, remotePort: socket?.remotePort };
    peers.set(session, peer);
  }
  return peer;
}

/** The innermost function of the interceptor chain: calls the implementation with the call's context. */
function invoker(service: DescService, method: DescMethod, impl: MethodImpl): AnyFn {
  return invokerOf(service, method, impl) as unknown as AnyFn;
}

function invokerOf(service: DescService, method: DescMethod, impl: MethodImpl) {
  const common = (call: GrpcCall) => ({ service, method, header: call.responseHeader, trailer: call.responseTrailer });
  const callOf = (req: object) => (req as { [kCall]: GrpcCall })[kCall];
  switch (method.methodKind) {
    case "unary":
      return async (req: { message: unknown }) => {
        const call = callOf(req);
        return { stream: false, ...common(call), message: await impl(req.message, call as HandlerContext) };
      };
    case "server_streaming":
      return async (req: { message: unknown }) => {
        const call = callOf(req);
        let input: unknown;
        for await (const m of req.message as AsyncIterable<unknown>) input = m;
        return { stream: true, ...common(call), message: impl(input, call as HandlerContext) as AsyncIterable<unknown> };
      };
    case "client_streaming":
      return async (req: { message: unknown }) => {
        const call = callOf(req);
        const result = await impl(req.message, call as HandlerContext);
        return { stream: true, ...common(call), message: once(result) };
      };
    case "bidi_streaming":
      return async (req: { message: unknown }) => {
        const call = callOf(req);
        return { stream: true, ...common(call), message: impl(req.message, call as HandlerContext) as AsyncIterable<unknown> };
      };
  }
}

async function* once(value: unknown): AsyncGenerator<unknown> {
  yield value;
}

function unimplemented(service: DescService, method: DescMethod): MethodImpl {
  return () => {
    throw new ConnectError(`${service.typeName}.${method.name} is not implemented`, Code.Unimplemented);
  };
}
