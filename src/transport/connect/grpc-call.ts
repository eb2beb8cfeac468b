import { create, fromBinary, isMessage, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext, type StreamRequest, type StreamResponse, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import * as http2 from "node:http2";
import { invalidArgument } from "../../core/presence-error.js";
import { ACCEPT_ENCODING, encodeGrpcMessage, envelope, EnvelopeReader, type Decompressor } from "./grpc-envelopes.js";
import { LiteHeaders } from "./lite-headers.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * One gRPC call of the fast path (grpc-fast-path.ts): reads the request envelopes from the HTTP/2
 * stream, runs the SAME interceptors and the SAME method implementation the Connect router serves
 * (so rights, quotas, request ids, logs, metrics and error mapping are those of every other
 * protocol), and writes the answer: headers, one envelope per message, then the status in
 * trailers (headers first even for an error before any message). Errors become gRPC
 * statuses the way connect's gRPC handler makes them (`setTrailerStatus`: grpc-status,
 * grpc-message percent-encoded per the gRPC spec, grpc-status-details-bin with ErrorInfo/BadRequest).
 *
 * Per call it costs one context object and the interceptors' own work: no AbortController unless
 * something reads `signal` (streams do; unary handlers do not), no WHATWG Headers (LiteHeaders),
 * no async-generator pipeline for unary calls. Cancellation: the client resetting the stream, or
 * the `grpc-timeout` deadline passing, aborts the call's signal (reason `canceled` or
 * `deadline_exceeded`, prebuilt: no DOMException) and ends a streaming implementation.
 */
export type MethodImpl = (input: unknown, ctx: HandlerContext) => unknown;

/** A method of a service registered on the router: its descriptor and implementation. */
export interface MethodSpec {
  method: DescMethod;
  service: DescService;
  impl: MethodImpl;
  /** `applyInterceptors(invoke, interceptors)`, built once per method. */
  next: (req: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>;
}

/** The per-call context, found by the innermost function through the request object. */
export const kCall = Symbol("grpc fast path call");

const CANCELED = () => new ConnectError("the client cancelled the call", Code.Canceled);
const DEADLINE = () => new ConnectError("the call's deadline (grpc-timeout) passed", Code.DeadlineExceeded);

export interface CallSettings {
  readMaxBytes: number;
  decompress: Decompressor | undefined;
  deadlineMs: number | undefined;
  values: ContextValues;
}

/** The HandlerContext of one call; `signal` is made on first use. */
export class GrpcCall implements HandlerContext {
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly responseHeader = new LiteHeaders();
  readonly responseTrailer = new LiteHeaders();
  readonly service: DescService;
  readonly method: DescMethod;
  readonly requestHeader: LiteHeaders;
  readonly values: ContextValues;
  private controller: AbortController | undefined;
  private reason: ConnectError | undefined;
  private readonly deadlineAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Set once the status is sent (or the stream is gone): nothing is written after it. */
  private done = false;
  private headersSent = false;
  /** Ends a streaming implementation early (set while one runs). */
  private stop: (() => void) | undefined;

  constructor(
    private readonly spec: MethodSpec,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly settings: CallSettings,
  ) {
    this.service = spec.service;
    this.method = spec.method;
    this.requestHeader = LiteHeaders.fromHttp2(headers);
    this.values = settings.values;
    if (settings.deadlineMs !== undefined) {
      this.deadlineAt = Date.now() + settings.deadlineMs;
      this.timer = setTimeout(() => this.fail(DEADLINE()), settings.deadlineMs);
    }
    // 'close' comes once per stream: `on`, not `once` (no once-wrapper kept by every open stream).
    stream.on("close", () => {
      if (this.done) return;
      this.done = true;
      this.abort(CANCELED());
    });
  }

  /** Made when read (an open stream need not hold it). */
  get url(): string {
    return `http://${this.headers[":authority"] ?? "localhost"}${this.headers[":path"] ?? ""}`;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  readonly timeoutMs = (): number | undefined => (this.deadlineAt === undefined ? undefined : this.deadlineAt - Date.now());

  private abort(reason: ConnectError): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    clearTimeout(this.timer);
    this.controller?.abort(reason);
    this.stop?.();
  }

  /** Runs the call; never rejects (every failure becomes the call's status). */
  async run(): Promise<void> {
    try {
      const kind = this.method.methodKind;
      if (kind === "unary" || kind === "server_streaming") {
        const input = this.parse(await this.readSingle());
        if (this.done) return;
        if (kind === "unary") return this.finishUnary((await this.spec.next(new CallRequest(this, false, input) as never)) as UnaryResponse);
        this.pump((await this.spec.next(new CallRequest(this, true, new Single(input)) as never)) as StreamResponse);
        return;
      }
      this.pump((await this.spec.next(new CallRequest(this, true, this.readMany()) as never)) as StreamResponse);
    } catch (e) {
      this.fail(e);
    }
  }

  private parse(bytes: Buffer): unknown {
    try {
      return fromBinary(this.method.input, bytes);
    } catch (e) {
      throw toConnectError(invalidArgument("request", `must be a valid protobuf message (${(e as Error).message})`));
    }
  }

  /** The one request message of a unary or server-streaming call. */
  private readSingle(): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const reader = new EnvelopeReader(this.settings.readMaxBytes, this.settings.decompress);
      let message: Buffer | undefined;
      let failed = false;
      const stream = this.stream;
      const onData = (chunk: Buffer) => {
        try {
          for (const m of reader.push(chunk)) {
            if (message !== undefined) throw new ConnectError(`protocol error: received extra input message for ${this.method.methodKind === "unary" ? "unary" : "server-streaming"} method`, Code.Unimplemented);
            message = m;
          }
        } catch (e) {
          failed = true;
          stream.off("data", onData);
          stream.off("end", onEnd);
          reject(e);
        }
      };
      const onEnd = () => {
        if (failed) return;
        stream.off("data", onData);
        try {
          reader.end();
          if (message === undefined) throw new ConnectError(`protocol error: missing input message for ${this.method.methodKind === "unary" ? "unary" : "server-streaming"} method`, Code.Unimplemented);
          resolve(message);
        } catch (e) {
          reject(e);
        }
      };
      // A stream reset before its end never settles this: `done` is set, and it goes with the stream.
      stream.on("data", onData);
      stream.once("end", onEnd);
    });
  }

  /** The request messages of a client- or bidi-streaming call, read as the implementation pulls them. */
  private async *readMany(): AsyncGenerator<unknown> {
    const reader = new EnvelopeReader(this.settings.readMaxBytes, this.settings.decompress);
    const queue: Buffer[] = [];
    let ended = false;
    let error: unknown;
    let wake: (() => void) | undefined;
    const stream = this.stream;
    const onData = (chunk: Buffer) => {
      try {
        for (const m of reader.push(chunk)) queue.push(m);
      } catch (e) {
        error ??= e;
      }
      if (queue.length >= 16) stream.pause(); // flow control: the client waits while we are behind
      wake?.();
    };
    const onEnd = () => {
      ended = true;
      try {
        reader.end();
      } catch (e) {
        error ??= e;
      }
      wake?.();
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
    try {
      for (;;) {
        if (error !== undefined) throw error;
        const next = queue.shift();
        if (next !== undefined) {
          if (queue.length < 4) stream.resume();
          yield this.parse(next);
          continue;
        }
        if (ended || this.done) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
    }
  }

  private encode(message: unknown): Buffer {
    const out = this.method.output;
    return envelope(toBinary(out, isMessage(message, out) ? message : create(out, message as never)));
  }

  private respondHeaders(header: LiteHeaders): void {
    this.headersSent = true;
    const h: Record<string, string> = { ":status": "200", "content-type": "application/grpc+proto", "grpc-accept-encoding": ACCEPT_ENCODING };
    if (header.size > 0) header.toHttp2(h);
    this.stream.respond(h, { waitForTrailers: true });
  }

  private finishUnary(res: UnaryResponse): void {
    if (this.done || this.stream.destroyed) return;
    const bytes = this.encode(res.message);
    this.done = true;
    clearTimeout(this.timer);
    this.respondHeaders(res.header as LiteHeaders);
    const trailer = res.trailer as LiteHeaders;
    this.stream.once("wantTrailers", () => this.stream.sendTrailers(trailer.size > 0 ? trailer.toHttp2({ "grpc-status": "0" }) : { "grpc-status": "0" }));
    this.stream.end(bytes);
  }

  /**
   * Writes a streamed response as the implementation yields it. Callback-driven rather than an
   * async loop, so that an open, idle stream holds no suspended async frames (issue 16 item 5:
   * memory per idle WatchPresence stream).
   */
  private pump(res: StreamResponse): void {
    const it = res.message[Symbol.asyncIterator]();
    this.stop = () => void it.return?.(undefined)?.catch(() => {});
    if (this.done) return this.stop();
    const step = (): void => {
      it.next().then(
        (r) => {
          if (this.done || this.stream.destroyed) return;
          if (r.done === true) return this.complete(res);
          if (!this.headersSent) this.respondHeaders(res.header as LiteHeaders);
          if (this.stream.write(this.encode(r.value))) step();
          else this.whenDrained(step);
        },
        (e: unknown) => this.fail(e),
      );
    };
    step();
  }

  private complete(res: StreamResponse): void {
    this.stop = undefined;
    this.done = true;
    clearTimeout(this.timer);
    this.endWith(res.header as LiteHeaders, (res.trailer as LiteHeaders).toHttp2({ "grpc-status": "0" }));
  }

  /**
   * Headers (if not sent yet), then `trailer`, then the end of the stream. Never a trailers-only
   * answer: a trailers-only error answer to a refused stream, while the client opened hundreds at
   * once, made the next stream on that connection fail with REFUSED_STREAM (abuse-quotas.test.ts).
   */
  private endWith(header: LiteHeaders, trailer: Record<string, string>): void {
    if (!this.headersSent) this.respondHeaders(header);
    this.stream.once("wantTrailers", () => this.stream.sendTrailers(trailer));
    this.stream.end();
  }

  /** Calls `then` once the stream can take more, or is gone (a reset stream never drains: connect-notes §1). */
  private whenDrained(then: () => void): void {
    const done = () => {
      this.stream.off("drain", done);
      this.stream.off("close", done);
      then();
    };
    this.stream.once("drain", done);
    this.stream.once("close", done);
  }

  /** Ends the call with an error status (once; nothing if the stream is gone). */
  fail(err: unknown): void {
    const ce = err instanceof ConnectError ? err : toConnectError(err);
    this.abort(ce);
    if (this.done) return;
    this.done = true;
    if (this.stream.destroyed || this.stream.closed) return;
    const status = setTrailerStatus(new LiteHeaders(), ce) as LiteHeaders;
    status.set("grpc-message", encodeGrpcMessage(ce.rawMessage));
    try {
      this.endWith(this.responseHeader, status.toHttp2());
    } catch {
      // The stream went away while answering: nothing to tell anyone.
    }
  }
}

/**
 * The request the interceptors see (connect's UnaryRequest / StreamRequest shape); a class, so its
 * `signal` getter (the call's lazily made signal) is on the prototype.
 */
class CallRequest {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly requestMethod = "POST";
  readonly header: LiteHeaders;
  readonly contextValues: ContextValues;
  readonly [kCall]: GrpcCall;
  constructor(
    call: GrpcCall,
    readonly stream: boolean,
    readonly message: unknown,
  ) {
    this.service = call.service;
    this.method = call.method;
    this.header = call.requestHeader;
    this.contextValues = call.values;
    this[kCall] = call;
  }
  get signal(): AbortSignal {
    return this[kCall].signal;
  }
  get url(): string {
    return this[kCall].url;
  }
}

/** The single request message of a server-streaming call, as the one-item iterable connect hands over. */
class Single implements AsyncIterable<unknown> {
  constructor(private readonly message: unknown) {}
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    let taken = false;
    return { next: async () => (taken ? { done: true, value: undefined } : ((taken = true), { done: false, value: this.message })) };
  }
}
