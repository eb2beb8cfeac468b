import { ConnectError } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import type { TrackRequest } from "../../../gen/presence/v1/backend_pb.js";
import { ErrorReason } from "../../../gen/presence/v1/errors_pb.js";
import { draining, invalidArgument, presenceError } from "../../core/presence-error.js";
import type { TrackerSession, TrackOutcome } from "../../service/tracker-session.js";
import { activityFromPb, userFromPb, viewToPb } from "../wire.js";
import { takeFrameToken } from "../../core/frame-rate.js";
import type { BackendRoutesOptions, TrackResponseInit } from "./backend-routes.js";
import { itemErrorOf } from "./backend-routes.js";
import * as http2 from "node:http2";
import { kCaller, kRawRequest } from "./context.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * The Track stream loop (translation and flow control; the tracker rules are in the service).
 *
 * - The first request must be `open`; the answer is `opened`, then the reclaimed presences in
 *   pages of RECLAIM_PAGE.
 * - A reader takes one token per request from a bucket (PRESENCE_TRACK_MAX_MESSAGES_PER_SEC, burst
 *   PRESENCE_TRACK_BURST): when it is empty the reader waits, so HTTP/2 flow control holds the
 *   client back; nothing is refused. At most PRESENCE_TRACK_MAX_IN_FLIGHT requests run at once,
 *   and the reader also waits while `maxQueuedAnswers` answers wait for a client that does not read.
 * - Every request is answered once with its `request_id` (result or ItemError); the stream goes on.
 * - `close`: once the requests before it are answered, every presence leaves, `closed` is sent and
 *   the stream ends OK. Requests after `close` are ignored. The client ending its side without
 *   `close` ends the stream OK once every answer is out; the presences then enter the reconnect
 *   grace, as on an abrupt end (cancel, network loss): the tracker is kept for the grace.
 * - A newer stream of the same tracker ends this one with TRACKER_REPLACED.
 */
const RECLAIM_PAGE = 1_000;

export async function* runTrackStream(reqs: AsyncIterable<TrackRequest>, ctx: HandlerContext, o: BackendRoutesOptions): AsyncGenerator<TrackResponseInit> {
  const caller = ctx.values.get(kCaller);
  const it = reqs[Symbol.asyncIterator]();
  // The RPC port's request timeout does not apply to this stream (it would cut it): bound the wait
  // for `open` here instead.
  let openTimer: { cancel(): void } | undefined;
  const first = await Promise.race([
    it.next(),
    new Promise<never>((_, reject) => {
      openTimer = o.clock.setTimeout(
        () => reject(toConnectError(presenceError("INVALID_ARGUMENT", `open: the first request of a Track stream must arrive within ${o.openTimeoutMs} ms (PRESENCE_HTTP_REQUEST_TIMEOUT_MS)`, { field: "open", limit: o.openTimeoutMs }))),
        o.openTimeoutMs,
      );
    }),
  ]).finally(() => openTimer?.cancel());
  if (first.done) return;
  if (first.value.message.case !== "open") throw toConnectError(invalidArgument("open", "the first request of a Track stream must be open"));

  const out: TrackResponseInit[] = [];
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const push = (m: TrackResponseInit) => {
    out.push(m);
    notify();
  };
  let replaced = false;
  let drained = false;
  let session: TrackerSession;
  try {
    session = await o.service.openTracker(caller, first.value.message.value, {
      onReplaced: () => {
        replaced = true;
        notify();
      },
      onDrained: () => {
        drained = true;
        notify();
      },
      onLost: (key) => push({ requestId: 0n, message: { case: "lost", value: { key, reason: ErrorReason.SESSION_NOT_FOUND } } }),
    });
  } catch (e) {
    throw toConnectError(e);
  }
  const detach = () => session.detach();
  ctx.signal.addEventListener("abort", detach, { once: true });

  let inFlight = 0;
  let readerDone = false;
  let closing: Promise<void> | undefined;
  let finished = false;
  const bucket = { frameTokens: o.config.trackBurst, frameTokensAtMs: o.clock.now() };
  const readerWaits: Array<() => void> = [];
  const resumeReader = () => readerWaits.splice(0).forEach((r) => r());
  const sleep = (ms: number) => new Promise<void>((r) => o.clock.setTimeout(r, ms));

  const answer = (requestId: bigint, work: () => Promise<TrackResponseInit["message"]>) => {
    inFlight++;
    void work()
      .then(
        (message) => push({ requestId, message }),
        (err: unknown) => push({ requestId, message: { case: "error", value: itemErrorOf(err) } }),
      )
      .finally(() => {
        inFlight--;
        resumeReader();
        notify();
      });
  };
  const tracked = (r: TrackOutcome, members: boolean) => ({
    connectionId: r.connectionId,
    changed: r.changed,
    view: viewToPb(members ? r.view : { ...r.view, users: [], membersOmitted: true }),
  });

  function dispatch(req: TrackRequest) {
    const m = req.message;
    switch (m.case) {
      case "track":
        return answer(req.requestId, async () => {
          const v = m.value;
          const user = v.user ? userFromPb(v.user) : undefined;
          const r = await session.track({ key: v.key, room: v.room, user, metadata: v.metadata, activity: activityFromPb(v.activity) });
          return { case: "tracked", value: tracked(r, v.includeMembers) };
        });
      case "untrack":
        return answer(req.requestId, async () => ({ case: "untracked", value: await session.untrack(m.value) }));
      case "update":
        return answer(req.requestId, async () => ({ case: "updated", value: tracked(await session.update(m.value), false) }));
      case "setActivity":
        return answer(req.requestId, async () => {
          await session.setActivity({ key: m.value.key, activity: activityFromPb(m.value.activity) });
          return { case: "activitySet", value: {} };
        });
      case "close":
        closing = (async () => {
          while (inFlight > 0) await new Promise<void>((r) => readerWaits.push(r));
          const left = await session.close();
          push({ requestId: req.requestId, message: { case: "closed", value: { left } } });
        })().catch((err: unknown) => push({ requestId: req.requestId, message: { case: "error", value: itemErrorOf(err) } }));
        void closing.finally(() => {
          finished = true;
          notify();
        });
        return;
      case "open":
        return answer(req.requestId, () => Promise.reject(invalidArgument("open", "only the first request of a stream may be open")));
      default:
        return answer(req.requestId, () => Promise.reject(invalidArgument("message", "must be set")));
    }
  }

  const reader = (async () => {
    while (closing === undefined && !replaced && !drained && !ctx.signal.aborted) {
      if (!takeFrameToken(bucket, o.clock.now(), o.config.trackMaxMessagesPerSec, o.config.trackBurst)) {
        await sleep(Math.max(1, Math.ceil(((1 - bucket.frameTokens) * 1000) / o.config.trackMaxMessagesPerSec)));
        continue;
      }
      while (inFlight >= o.config.trackMaxInFlight || out.length >= o.maxQueuedAnswers) await new Promise<void>((r) => readerWaits.push(r));
      const r = await it.next();
      if (r.done) break;
      dispatch(r.value);
    }
  })()
    .catch(() => undefined) // the request side failed (cancel, reset): the signal ends the stream
    .finally(() => {
      readerDone = true;
      notify();
    });

  try {
    const s = session;
    yield {
      requestId: first.value.requestId,
      message: {
        case: "opened",
        value: {
          trackerId: s.trackerId,
          trackerSecret: s.createdSecret ?? "",
          resumed: s.resumed,
          reclaimed: s.reclaimed.length,
          reconnectGraceMs: BigInt(o.reconnectGraceMs),
          maxPresences: o.config.trackMaxPresences,
          maxMessagesPerSec: o.config.trackMaxMessagesPerSec,
        },
      },
    };
    for (let i = 0; i < s.reclaimed.length; i += RECLAIM_PAGE) {
      const page = s.reclaimed.slice(i, i + RECLAIM_PAGE).map((p) => ({ key: p.key, room: p.room, userId: p.userId, connection: { connectionId: p.connectionId, metadata: p.metadata } }));
      yield { requestId: 0n, message: { case: "reclaimed", value: { presences: page, last: i + RECLAIM_PAGE >= s.reclaimed.length } } };
    }
    for (;;) {
      while (out.length > 0) {
        yield out.shift()!;
        if (out.length < o.maxQueuedAnswers) resumeReader();
      }
      if (replaced) throw toConnectError(presenceError("TRACKER_REPLACED", "tracker: a newer Track stream of this tracker took it over"));
      if (drained) throw toConnectError(draining());
      if (finished || (readerDone && inFlight === 0 && closing === undefined)) return;
      if (ctx.signal.aborted) return;
      const idle = await new Promise<boolean>((resolve) => {
        wake = () => resolve(false);
        const t = o.clock.setTimeout(() => resolve(true), o.keepaliveMs);
        const prev = wake;
        wake = () => {
          t.cancel();
          prev();
        };
      });
      if (idle && out.length === 0) yield { requestId: 0n, message: { case: "keepalive", value: { timeMs: BigInt(o.clock.now()) } } };
    }
  } catch (e) {
    throw e instanceof ConnectError ? e : toConnectError(e);
  } finally {
    ctx.signal.removeEventListener("abort", detach);
    if (!finished) detach();
    void reader;
    closeRequestSide(ctx);
  }
}

/**
 * The response is over but a client may keep its request side open (nothing makes it end its
 * writes): that would hold the HTTP/2 stream, and the server's shutdown, until the deadline. Once
 * the final status has had time to go out, the stream is cancelled (RST_STREAM CANCEL).
 */
function closeRequestSide(ctx: HandlerContext) {
  const raw = ctx.values.get(kRawRequest);
  if (!raw || !("stream" in raw)) return;
  const stream = raw.stream;
  setTimeout(() => {
    if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
  }, 500).unref();
}
