/**
 * Real clients of the PresenceService for integration tests, one factory per client kind, all
 * taking `(baseUrl, token?)`:
 *
 * - `connectClient`: connect-node, Connect protocol, over HTTP/1.1 (default) or HTTP/2 (h2c);
 * - `grpcWebClient`: connect-node, gRPC-Web, over HTTP/1.1 (default) or HTTP/2;
 * - `grpcJsClient`: a real `@grpc/grpc-js` generic client built with `makeGenericClientConstructor`
 *   from the protobuf-es service descriptor (connect-notes §8), with promise wrappers for unary
 *   calls and an async iterable for WatchPresence.
 *
 * All of them return the same shape (`PresenceClient`): the unary methods and `watchPresence` of a
 * connect `Client`, plus `close()`, which releases the client's own connections (HTTP/1.1 agent,
 * HTTP/2 session or grpc-js channel). `rpcErrorOf` reads code, message, ErrorInfo and BadRequest
 * from an error of any client (`grpc-status-details-bin` is decoded for grpc-js).
 */
import { create, createRegistry, fromBinary, toBinary, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as http from "node:http";
import { BadRequestSchema, ErrorInfoSchema, type BadRequest, type ErrorInfo } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { PresenceService, type WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";

type Methods = (typeof PresenceService)["method"];
type UnaryName = { [K in keyof Methods]: Methods[K]["methodKind"] extends "unary" ? K : never }[keyof Methods];
type In<K extends keyof Methods> = MessageInitShape<Methods[K]["input"]>;
type Out<K extends keyof Methods> = MessageShape<Methods[K]["output"]>;

/** Per-call options every client kind understands. */
export interface CallOpts {
  signal?: AbortSignal;
}

/** The common shape of every client kind. */
export type PresenceClient = { [K in UnaryName]: (req: In<K>, opts?: CallOpts) => Promise<Out<K>> } & {
  watchPresence(req: In<"watchPresence">, opts?: CallOpts): AsyncIterable<WatchPresenceResponse>;
  /** Which client this is, for test names. */
  readonly kind: string;
  /** Closes the client's connections. Idempotent. */
  close(): void;
};

export type HttpVersion = "1.1" | "2";

const bearer = (token: string | undefined): Interceptor[] =>
  token === undefined
    ? []
    : [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ];

/** connect-node transports with connections the test owns, closed by `close()`. */
function connectTransportOptions(baseUrl: string, httpVersion: HttpVersion, localAddress?: string) {
  if (httpVersion === "2") {
    const sessionManager = new Http2SessionManager(baseUrl, {}, localAddress ? ({ localAddress } as never) : undefined); // any net.connect option
    return { options: { httpVersion, sessionManager } as const, close: () => sessionManager.abort() };
  }
  const agent = new http.Agent({ keepAlive: true, localAddress });
  return { options: { httpVersion, nodeOptions: { agent } } as const, close: () => agent.destroy() };
}
/** connect-node, Connect protocol (binary), over HTTP/1.1 or h2c; `localAddress`: the source address of its connections (127.0.0.2 is another caller). */
export function connectClient(baseUrl: string, token?: string, opts: { httpVersion?: HttpVersion; useHttpGet?: boolean; localAddress?: string } = {}): PresenceClient {
  const httpVersion = opts.httpVersion ?? "1.1";
  const t = connectTransportOptions(baseUrl, httpVersion, opts.localAddress);
  const transport = createConnectTransport({ baseUrl, ...t.options, interceptors: bearer(token), useHttpGet: opts.useHttpGet ?? false });
  return { ...createClient(PresenceService, transport), kind: `connect-h${httpVersion === "2" ? "2" : "1"}`, close: t.close };
}

/** connect-node, gRPC-Web protocol (binary), over HTTP/1.1 or h2c. */
export function grpcWebClient(baseUrl: string, token?: string, opts: { httpVersion?: HttpVersion } = {}): PresenceClient {
  const httpVersion = opts.httpVersion ?? "1.1";
  const t = connectTransportOptions(baseUrl, httpVersion);
  const transport = createGrpcWebTransport({ baseUrl, ...t.options, interceptors: bearer(token) });
  return { ...createClient(PresenceService, transport), kind: `grpc-web-h${httpVersion === "2" ? "2" : "1"}`, close: t.close };
}

/** A grpc-js service definition for a protobuf-es service descriptor (connect-notes §8). */
function grpcJsDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<Record<string, unknown>, Record<string, unknown>>> = {};
  for (const m of service.methods as DescMethod[]) {
    def[m.localName] = {
      path: `/${service.typeName}/${m.name}`,
      originalName: m.localName,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: (msg: Record<string, unknown>) => Buffer.from(toBinary(m.input, create(m.input, msg))),
      requestDeserialize: (b: Buffer) => fromBinary(m.input, b),
      responseSerialize: (msg: Record<string, unknown>) => Buffer.from(toBinary(m.output, create(m.output, msg))),
      responseDeserialize: (b: Buffer) => fromBinary(m.output, b),
    };
  }
  return def;
}

const GrpcJsPresenceClient = grpc.makeGenericClientConstructor(grpcJsDefinition(PresenceService), PresenceService.typeName);

/**
 * A raw grpc-js generic client (h2c, insecure) for any protobuf-es service, methods by local name
 * (`check`, `watch`): for services without a typed wrapper here, such as grpc.health.v1.Health.
 */
export function grpcJsServiceClient(service: DescService, baseUrl: string): grpc.Client & Record<string, Function> {
  const Ctor = grpc.makeGenericClientConstructor(grpcJsDefinition(service), service.typeName);
  return new Ctor(new URL(baseUrl).host, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
}

/**
 * A real grpc-js client (h2c, insecure), with the bearer token as call metadata. grpc-js shares one
 * connection between clients with equal `channelOptions`; `{ "grpc.use_local_subchannel_pool": 1 }`
 * gives a client its own.
 */
export function grpcJsClient(baseUrl: string, token?: string, opts: { channelOptions?: grpc.ChannelOptions } = {}): PresenceClient & { readonly raw: grpc.Client } {
  const url = new URL(baseUrl);
  const raw = new GrpcJsPresenceClient(url.host, grpc.credentials.createInsecure(), opts.channelOptions) as grpc.Client & Record<string, Function>;
  const metadata = () => {
    const md = new grpc.Metadata();
    if (token !== undefined) md.set("authorization", `Bearer ${token}`);
    return md;
  };
  const client: Record<string, unknown> = {
    kind: "grpc-js",
    raw,
    close: () => raw.close(),
    watchPresence: (req: In<"watchPresence">, opts: CallOpts = {}) => grpcJsStream(raw, req, metadata(), opts.signal),
  };
  for (const m of PresenceService.methods as DescMethod[]) {
    if (m.methodKind !== "unary") continue;
    client[m.localName] = (req: object, opts: CallOpts = {}) =>
      new Promise((resolve, reject) => {
        const call = raw[m.localName]!(req, metadata(), {}, (err: grpc.ServiceError | null, res: object) => (err ? reject(err) : resolve(res))) as grpc.ClientUnaryCall;
        opts.signal?.addEventListener("abort", () => call.cancel(), { once: true });
      });
  }
  return client as unknown as PresenceClient & { readonly raw: grpc.Client };
}

/** WatchPresence over grpc-js as an async iterable; ending the loop or aborting cancels the call. */
async function* grpcJsStream(raw: grpc.Client & Record<string, Function>, req: object, md: grpc.Metadata, signal?: AbortSignal): AsyncGenerator<WatchPresenceResponse> {
  const call = raw["watchPresence"]!(req, md, {}) as grpc.ClientReadableStream<WatchPresenceResponse>;
  const cancel = () => {
    call.on("error", () => {}); // the CANCELLED status that follows is expected
    call.cancel();
  };
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    for await (const m of call) yield m as WatchPresenceResponse;
  } finally {
    signal?.removeEventListener("abort", cancel);
    cancel();
  }
}

/** An RPC error of any client kind, normalised. `code` is the gRPC status number (Connect's Code). */
export interface RpcError {
  code: number;
  message: string;
  errorInfo?: ErrorInfo;
  badRequest?: BadRequest;
}

const detailsRegistry = createRegistry(ErrorInfoSchema, BadRequestSchema);

/** What a `grpc-status-details-bin` value holds: the google.rpc.Status and its known details. */
export interface StatusDetails {
  code?: number;
  message?: string;
  errorInfo?: ErrorInfo;
  badRequest?: BadRequest;
}

/** Decodes a grpc-js error's `grpc-status-details-bin` trailer into its ErrorInfo and BadRequest. */
export function decodeGrpcStatusDetails(metadata: grpc.Metadata): StatusDetails {
  const bin = metadata.get("grpc-status-details-bin")[0];
  return bin === undefined ? {} : decodeStatusDetailsBin(bin);
}

/** Decodes a `grpc-status-details-bin` value (raw bytes, or base64 as sent in HTTP trailers). */
export function decodeStatusDetailsBin(bin: string | Uint8Array): StatusDetails {
  const status = fromBinary(StatusSchema, typeof bin === "string" ? Buffer.from(bin, "base64") : bin);
  const out: StatusDetails = { code: status.code, message: status.message };
  for (const any of status.details) {
    const msg = anyUnpack(any, detailsRegistry);
    if (msg?.$typeName === "google.rpc.ErrorInfo") out.errorInfo = msg as ErrorInfo;
    if (msg?.$typeName === "google.rpc.BadRequest") out.badRequest = msg as BadRequest;
  }
  return out;
}

const isGrpcJsError = (e: unknown): e is grpc.ServiceError =>
  e instanceof Error && typeof (e as grpc.ServiceError).code === "number" && (e as grpc.ServiceError).metadata instanceof grpc.Metadata;

/** Normalises an error thrown by any client kind. */
export function rpcErrorOf(e: unknown): RpcError {
  if (isGrpcJsError(e)) {
    const d = decodeGrpcStatusDetails(e.metadata);
    return { code: e.code, message: e.details, errorInfo: d.errorInfo, badRequest: d.badRequest };
  }
  const ce = ConnectError.from(e);
  return { code: ce.code, message: ce.rawMessage, errorInfo: ce.findDetails(ErrorInfoSchema)[0], badRequest: ce.findDetails(BadRequestSchema)[0] };
}

/** Awaits `p` and returns its normalised error; fails if it resolves. */
export async function expectRpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    return rpcErrorOf(e);
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/**
 * A running watch: collects every message of a WatchPresence stream in `messages`, lets a test
 * wait for a condition, and stops the stream with `stop()` (which waits for the reader to end).
 */
export interface WatchHandle {
  readonly messages: WatchPresenceResponse[];
  /** The error that ended the stream, if any (after `stop()`, a cancel is not recorded). */
  readonly error: unknown;
  /** Resolves with the first message index `i >= from` for which `pred` is true. */
  waitFor(pred: (m: WatchPresenceResponse) => boolean, opts?: { from?: number; timeoutMs?: number }): Promise<WatchPresenceResponse>;
  stop(): Promise<void>;
}

export function startWatch(client: PresenceClient, req: In<"watchPresence">): WatchHandle {
  const ac = new AbortController();
  const messages: WatchPresenceResponse[] = [];
  let error: unknown;
  let ended = false;
  let wake = () => {};
  const done = (async () => {
    try {
      for await (const m of client.watchPresence(req, { signal: ac.signal })) {
        messages.push(m);
        wake();
      }
    } catch (e) {
      if (!ac.signal.aborted) error = e;
    } finally {
      ended = true;
      wake();
    }
  })();
  return {
    messages,
    get error() {
      return error;
    },
    async waitFor(pred, opts = {}) {
      const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
      for (;;) {
        const found = messages.slice(opts.from ?? 0).find(pred);
        if (found) return found;
        if (ended) throw new Error(`watch ended without a matching message (error: ${String(error)}); got ${messages.map((m) => m.message.case).join(",")}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for a watch message; got ${messages.map((m) => m.message.case).join(",")}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    },
    async stop() {
      ac.abort();
      await done;
    },
  };
}
