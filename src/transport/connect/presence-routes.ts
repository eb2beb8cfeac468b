import { create } from "@bufbuild/protobuf";
import { broadcastCommandFromPb } from "../backend-wire.js";
import type { BroadcastFn } from "../../service/broadcast.js";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import * as http2 from "node:http2";
import { PresenceService as PresenceServiceDesc, WatchPresenceResponseSchema, WatchUsersResponseSchema } from "../../../gen/presence/v1/presence_pb.js";
import type { PresenceService } from "../../service/presence-service.js";
import type { ScopeCountsItem, ScopeService } from "../../service/scope-service.js";
import type { RoomService } from "../../service/room-service.js";
import { WatchScopeCountsResponseSchema } from "../../../gen/presence/v1/scopes_pb.js";
import {
  activityFromPb,
  cursorPositionFromPb,
  detailFromPb,
  onlineUserToPb,
  orderFromPb,
  presenceOverrideFromPb,
  roomInfoToPb,
  joinRoomInfo,
  leaseToPb,
  sessionToPb,
  userFromPb,
  userStatusToPb,
  userWatchItemToPb,
  viewToPb,
  watchItemToPb,
} from "../wire.js";
import { kCaller, kRawRequest } from "./context.js";
import { mapStream } from "./observe-stream.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * PresenceService over Connect, gRPC and gRPC-Web: translation only. Each handler reads the caller
 * from the context, converts the request to domain values, calls the application service and
 * converts the answer back. Errors are mapped once, by `toConnectError`.
 */
/** Calls served next to the PresenceService ones (issue 14). */
export interface PresenceRouteExtras {
  broadcast: BroadcastFn;
  /** Watchers of a room on this node (BroadcastResponse.local_watchers). */
  roomWatchers(room: string): number;
}

export function presenceRoutes(service: PresenceService, scopes: ScopeService, rooms: RoomService, extras?: PresenceRouteExtras) {
  return (router: ConnectRouter) =>
    router.service(PresenceServiceDesc, {
      join: (req, ctx) =>
        mapErrors(async () => {
          const r = await service.join(ctx.values.get(kCaller), {
            room: req.room,
            metadata: req.metadata,
            sessionId: req.sessionId,
            resumeSecret: req.resumeSecret,
            activity: activityFromPb(req.activity),
            requestId: req.requestId,
            onBehalfOf: req.onBehalfOf ? userFromPb(req.onBehalfOf) : undefined,
            anonymousId: req.anonymousId,
            presence: req.presence,
            scopes: req.scopes,
          });
          return { session: sessionToPb(r.session), lease: leaseToPb(r.lease), resumed: r.resumed, view: viewToPb(r.view), heartbeatKey: r.heartbeatKey, udpPort: r.udpPort, scopes: [...(r.scopes ?? [])], roomInfo: joinRoomInfo(r) };
        }),
      leave: (req, ctx) => mapErrors(() => service.leave(ctx.values.get(kCaller), { sessionId: req.sessionId, room: req.room })),
      navigate: (req, ctx) =>
        mapErrors(async () => {
          const r = await service.navigate(ctx.values.get(kCaller), {
            sessionId: req.sessionId,
            fromRoom: req.fromRoom,
            toRoom: req.toRoom,
            metadata: req.metadata,
          });
          return { view: viewToPb(r.view), lease: leaseToPb(r.lease) };
        }),
      heartbeat: (req, ctx) =>
        mapErrors(async () => ({
          lease: leaseToPb(await service.heartbeat(ctx.values.get(kCaller), { sessionId: req.sessionId, activity: activityFromPb(req.activity) })),
        })),
      setTyping: (req, ctx) =>
        mapErrors(async () => {
          await service.setTyping(ctx.values.get(kCaller), { sessionId: req.sessionId, room: req.room, typing: req.typing });
          return {};
        }),
      updateCursor: (req, ctx) =>
        mapErrors(async () => {
          await service.updateCursor(ctx.values.get(kCaller), {
            sessionId: req.sessionId,
            room: req.room,
            position: cursorPositionFromPb(req.position),
          });
          return {};
        }),
      getPresence: (req, ctx) =>
        mapErrors(async () => ({
          view: viewToPb(
            await service.getPresence(ctx.values.get(kCaller), { room: req.room, detail: detailFromPb(req.detail), pageSize: req.pageSize, pageToken: req.pageToken, order: orderFromPb(req.order) }),
          ),
        })),
      batchGetPresence: (req, ctx) =>
        mapErrors(async () => ({
          views: (await service.batchGetPresence(ctx.values.get(kCaller), { rooms: req.rooms, detail: detailFromPb(req.detail), pageSize: req.pageSize, order: orderFromPb(req.order) })).map(viewToPb),
        })),
      watchPresence: (req, ctx) => watch(service, req, ctx),
      getUserStatus: (req, ctx) =>
        mapErrors(async () => ({ statuses: (await service.getUserStatus(ctx.values.get(kCaller), { userIds: req.userIds })).map(userStatusToPb) })),
      setStatus: (req, ctx) =>
        mapErrors(async () => ({
          status: userStatusToPb(
            await service.setStatus(ctx.values.get(kCaller), { sessionId: req.sessionId, customStatus: req.customStatus, invisible: req.invisible, presence: presenceOverrideFromPb(req.presence) }),
          ),
        })),
      watchUsers: (req, ctx) => watchUsers(service, req, ctx),
      broadcast: (req, ctx) =>
        mapErrors(async () => {
          if (!extras) throw new ConnectError("Broadcast is not served by this router", Code.Unimplemented);
          const sent = await extras.broadcast(ctx.values.get(kCaller), broadcastCommandFromPb(req));
          return { localWatchers: extras.roomWatchers(sent.room) };
        }),
      listOnline: (req, ctx) =>
        mapErrors(async () => {
          const r = await scopes.listOnline(ctx.values.get(kCaller), { scope: req.scope, pageSize: req.pageSize, pageToken: req.pageToken });
          return { users: r.users.map(onlineUserToPb), nextPageToken: r.nextPageToken, count: r.count };
        }),
      countOnline: (req, ctx) => mapErrors(() => scopes.countOnline(ctx.values.get(kCaller), { scopes: req.scopes })),
      createRoom: (req, ctx) =>
        mapErrors(async () => ({
          room: roomInfoToPb(
            await rooms.createRoom(ctx.values.get(kCaller), {
              room: req.room,
              metadata: req.metadata,
              maxParticipants: req.maxParticipants,
              idleTimeoutMs: Number(req.idleTimeoutMs),
              awayAfterMs: Number(req.awayAfterMs),
              ownerUserId: req.ownerUserId,
            }),
          ),
        })),
      updateRoom: (req, ctx) =>
        mapErrors(async () => ({
          room: roomInfoToPb(
            await rooms.updateRoom(ctx.values.get(kCaller), {
              room: req.room,
              patch: {
                maxParticipants: req.maxParticipants,
                idleTimeoutMs: req.idleTimeoutMs === undefined ? undefined : Number(req.idleTimeoutMs),
                awayAfterMs: req.awayAfterMs === undefined ? undefined : Number(req.awayAfterMs),
                metadata: req.metadata ? { ...req.metadata.entries } : undefined,
                ownerUserId: req.ownerUserId,
              },
            }),
          ),
        })),
      endRoom: (req, ctx) =>
        mapErrors(async () => {
          const r = await rooms.endRoom(ctx.values.get(kCaller), { room: req.room, reason: req.reason });
          return { room: roomInfoToPb(r.info), connectionsRemoved: r.connectionsRemoved };
        }),
      getRoom: (req, ctx) => mapErrors(async () => ({ room: roomInfoToPb(await rooms.getRoom(ctx.values.get(kCaller), { room: req.room })) })),
      watchScopeCounts: (req, ctx) => watchScopeCounts(scopes, req, ctx),
      updatePresence: (req, ctx) =>
        mapErrors(async () => {
          await service.updatePresence(ctx.values.get(kCaller), { sessionId: req.sessionId, room: req.room, presence: req.presence ?? {}, replace: req.replace });
          return {};
        }),
    });
}

function watch(
  service: PresenceService,
  req: { room: string; detail: number; resumeFrom?: { epoch: string; version: bigint }; sessionId: string; order: number; snapshotPageSize: number },
  ctx: HandlerContext,
) {
  return mapStream(
    () =>
      service.watch(ctx.values.get(kCaller), {
        sessionId: req.sessionId === "" ? undefined : req.sessionId,
        room: req.room,
        detail: detailFromPb(req.detail),
        resumeFrom: req.resumeFrom && req.resumeFrom.epoch !== "" ? { epoch: req.resumeFrom.epoch, version: Number(req.resumeFrom.version) } : undefined,
        signal: ctx.signal,
        onStall: () => resetStream(ctx),
        order: orderFromPb(req.order),
        snapshotPageSize: req.snapshotPageSize,
      }),
    (item) => create(WatchPresenceResponseSchema, watchItemToPb(item)),
    toConnectError,
  );
}

function watchScopeCounts(scopes: ScopeService, req: { scopes: string[] }, ctx: HandlerContext) {
  return mapStream(
    () => scopes.watchScopeCounts(ctx.values.get(kCaller), { scopes: req.scopes, signal: ctx.signal }),
    (item: ScopeCountsItem) => create(WatchScopeCountsResponseSchema, { scopes: item.scopes, global: item.global, timeMs: BigInt(item.timeMs) }),
    toConnectError,
  );
}

function watchUsers(service: PresenceService, req: { userIds: string[] }, ctx: HandlerContext) {
  return mapStream(
    () => service.watchUsers(ctx.values.get(kCaller), { userIds: req.userIds, signal: ctx.signal }),
    (item) => create(WatchUsersResponseSchema, userWatchItemToPb(item)),
    toConnectError,
  );
}

/** Resets a stream whose client stopped reading (HTTP/2: RST_STREAM ENHANCE_YOUR_CALM). */
function resetStream(ctx: HandlerContext) {
  const raw = ctx.values.get(kRawRequest);
  if (raw && "stream" in raw) raw.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  else raw?.socket?.destroy();
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toConnectError(e);
  }
}

