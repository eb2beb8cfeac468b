import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { BackendService as BackendServiceDesc, WatchEventsResponseSchema, type ItemErrorSchema, type TrackRequest, type TrackResponseSchema, type WatchEventsRequest } from "../../../gen/presence/v1/backend_pb.js";
import { ErrorReason } from "../../../gen/presence/v1/errors_pb.js";
import type { Clock } from "../../core/clock.js";
import type { BackendLimits } from "../../core/options.js";
import type { BackendService, ItemResult } from "../../service/backend-service.js";
import { watchEvents, type EventWatchDeps } from "../../service/event-watch.js";
import { backendEventToPb, kindsFromPb } from "../backend-wire.js";
import { errorFieldsOf } from "../error-wire.js";
import { activityFromPb, leaseToPb } from "../wire.js";
import { kCaller } from "./context.js";
import { toConnectError } from "./to-connect-error.js";
import { runTrackStream } from "./track-stream.js";

/**
 * BackendService over Connect, gRPC and gRPC-Web: translation only. Batches map each item's
 * outcome to a result or an ItemError (the code, reason, message and metadata the unary call
 * would fail with); Track is the bidirectional loop of `track-stream.ts`.
 */
export interface BackendRoutesOptions {
  service: BackendService;
  config: BackendLimits;
  clock: Clock;
  /** A Track stream's first request (`open`) must arrive within this (PRESENCE_HTTP_REQUEST_TIMEOUT_MS). */
  openTimeoutMs: number;
  /** Keepalive interval of idle Track streams (PRESENCE_KEEPALIVE_MS). */
  keepaliveMs: number;
  /** Answers queued for a Track client before the server stops reading it (PRESENCE_WATCHER_QUEUE_SIZE). */
  maxQueuedAnswers: number;
  reconnectGraceMs: number;
  /** WatchEvents: the node's event hub, the access guard (rights per event, the watches quota) and the clock (token expiry). */
  events: EventWatchDeps;
}

export type TrackResponseInit = MessageInitShape<typeof TrackResponseSchema>;

/** The ItemError of a failed item: what the unary call's error carries (internal errors hide their message). */
export function itemErrorOf(err: unknown): MessageInitShape<typeof ItemErrorSchema> {
  return errorFieldsOf(err);
}

const results = <T, R>(items: Array<ItemResult<T>>, ok: (v: T) => R) =>
  items.map((r) => ({ result: r.ok ? ok(r.value) : { case: "error" as const, value: itemErrorOf(r.error) } }));

export function backendRoutes(o: BackendRoutesOptions) {
  return (router: ConnectRouter) =>
    router.service(BackendServiceDesc, {
      heartbeatBatch: (req, ctx) =>
        mapErrors(async () => {
          const items = req.heartbeats.map((h) => ({ sessionId: h.sessionId, activity: activityFromPb(h.activity) }));
          return { results: results(await o.service.heartbeatBatch(ctx.values.get(kCaller), items), (lease) => ({ case: "lease" as const, value: leaseToPb(lease) })) };
        }),
      leaveBatch: (req, ctx) =>
        mapErrors(async () => {
          const items = req.leaves.map((l) => ({ sessionId: l.sessionId, room: l.room }));
          return { results: results(await o.service.leaveBatch(ctx.values.get(kCaller), items), (left) => ({ case: "left" as const, value: left })) };
        }),
      track: (reqs: AsyncIterable<TrackRequest>, ctx: HandlerContext) => runTrackStream(reqs, ctx, o),
      watchEvents: (req: WatchEventsRequest, ctx: HandlerContext) => streamEvents(o.events, o.config.eventsMaxPatterns, req, ctx),
    });
}

async function* streamEvents(deps: EventWatchDeps, maxPatterns: number, req: WatchEventsRequest, ctx: HandlerContext) {
  let items;
  try {
    items = watchEvents(deps, ctx.values.get(kCaller), { rooms: req.rooms, users: req.users, kinds: kindsFromPb(req.kinds), resumeAfter: req.resumeAfter, signal: ctx.signal, maxPatterns });
  } catch (e) {
    throw toConnectError(e);
  }
  try {
    for await (const item of items) {
      if (item.kind === "event") yield create(WatchEventsResponseSchema, { cursor: item.cursor, message: { case: "event", value: backendEventToPb(item.event) } });
      else if (item.kind === "gap") yield create(WatchEventsResponseSchema, { cursor: item.cursor, message: { case: "gap", value: { sinceMs: BigInt(item.sinceMs) } } });
      else yield create(WatchEventsResponseSchema, { cursor: item.cursor, message: { case: "keepalive", value: { timeMs: BigInt(item.timeMs) } } });
    }
  } catch (e) {
    throw toConnectError(e);
  }
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toConnectError(e);
  }
}
