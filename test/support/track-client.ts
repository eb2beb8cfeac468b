/**
 * A real Track stream client for tests and benchmarks: connect-node's generated client over gRPC
 * (h2c), requests pushed into the bidirectional stream as they are sent, answers matched to their
 * request by `request_id`. `open()` sends `open` and resolves with `opened` and the reclaimed pages;
 * every other call resolves with its answer (an ItemError answer rejects with the error's
 * message and carries the ItemError as `item`). `abort()` cuts the stream (the server sees an
 * abrupt end), `end()` half-closes it.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  BackendService,
  type ItemError,
  type TrackedPresence,
  type TrackOpened,
  type TrackRequestSchema,
  type TrackResponse,
} from "../../gen/presence/v1/backend_pb.js";

type RequestInit = MessageInitShape<typeof TrackRequestSchema>;

export class TrackItemError extends Error {
  constructor(readonly item: ItemError) {
    super(item.message);
  }
}

export interface TrackClient {
  open(trackerId?: string, trackerSecret?: string): Promise<{ opened: TrackOpened; reclaimed: TrackedPresence[] }>;
  send(message: RequestInit["message"]): Promise<TrackResponse["message"]>;
  /** Messages the server pushed (`lost`, keepalive), in order. */
  readonly pushed: TrackResponse[];
  /** Resolves when the stream ends: null on OK, else the error. */
  readonly ended: Promise<Error | null>;
  abort(): void;
  end(): void;
}

export function trackClient(baseUrl: string, token: string, opts: { httpVersion?: "2" } = {}): TrackClient {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  void opts;
  const client = createClient(BackendService, createGrpcTransport({ baseUrl, interceptors: [bearer] }));
  const queue: RequestInit[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  async function* requests(): AsyncGenerator<RequestInit> {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (closed) return;
      await new Promise<void>((r) => (wake = r));
    }
  }
  const push = (r: RequestInit) => {
    queue.push(r);
    wake?.();
  };
  const abort = new AbortController();
  const waiting = new Map<bigint, { resolve: (m: TrackResponse["message"]) => void; reject: (e: Error) => void }>();
  let opened: ((v: { opened: TrackOpened; reclaimed: TrackedPresence[] }) => void) | undefined;
  let openFailed: ((e: Error) => void) | undefined;
  let openedMsg: TrackOpened | undefined;
  const reclaimed: TrackedPresence[] = [];
  const pushed: TrackResponse[] = [];
  let next = 1n;
  let failure: Error | undefined;

  const ended = (async () => {
    try {
      for await (const res of client.track(requests(), { signal: abort.signal })) {
        const m = res.message;
        if (m.case === "opened") {
          openedMsg = m.value;
          if (m.value.reclaimed === 0) opened?.({ opened: m.value, reclaimed });
        } else if (m.case === "reclaimed") {
          reclaimed.push(...m.value.presences);
          if (m.value.last) opened?.({ opened: openedMsg!, reclaimed });
        } else if (res.requestId !== 0n && waiting.has(res.requestId)) {
          const w = waiting.get(res.requestId)!;
          waiting.delete(res.requestId);
          if (m.case === "error") w.reject(new TrackItemError(m.value));
          else w.resolve(m);
        } else pushed.push(res);
      }
      return null;
    } catch (e) {
      failure = e as Error;
      return failure;
    } finally {
      closed = true; // end our request side too
      wake?.();
      const err = new Error(failure ? `stream ended: ${failure.message}` : "stream ended", { cause: failure });
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
      openFailed?.(err);
    }
  })();
  void ended.then((e) => e && openFailed?.(e));

  return {
    open(trackerId = "", trackerSecret = "") {
      const p = new Promise<{ opened: TrackOpened; reclaimed: TrackedPresence[] }>((resolve, reject) => {
        opened = resolve;
        openFailed = reject;
      });
      push({ requestId: 0n, message: { case: "open", value: { trackerId, trackerSecret } } });
      return p;
    },
    send(message) {
      const requestId = next++;
      const p = new Promise<TrackResponse["message"]>((resolve, reject) => waiting.set(requestId, { resolve, reject }));
      push({ requestId, message });
      return p;
    },
    pushed,
    ended,
    abort: () => abort.abort(),
    end() {
      closed = true;
      wake?.();
    },
  };
}
