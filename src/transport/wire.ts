import { fromJson, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { RoomBroadcastSchema } from "../../gen/presence/v1/broadcast_pb.js";
import type { UserInfo } from "../core/identity.js";
import type { Activity, Counts, Cursor, CursorPosition, Member, PresenceEvent, RoomBroadcastMessage, RoomEndedInfo, RoomView, TypingEvent, CursorBatch, UserPresence } from "../core/presence-event.js";
import { RoomStatus as PbRoomStatus, type RoomEndedSchema, type RoomInfoSchema } from "../../gen/presence/v1/rooms_pb.js";
import type { RoomInfoView } from "../service/room-service.js";
import type { ManagedRoom } from "../core/room-lifecycle.js";
import type { OnlineUserSchema } from "../../gen/presence/v1/scopes_pb.js";
import type { OnlineUserView } from "../service/scope-service.js";
import type { WatchItem } from "../fanout/fanout-hub.js";
import type { Lease, SessionGrant } from "../core/session.js";
import {
  Activity as PbActivity,
  Detail as PbDetail,
  LeaveReason as PbLeaveReason,
  MemberOrder as PbMemberOrder,
  PresenceOverride as PbPresenceOverride,
  UserState as PbUserState,
} from "../../gen/presence/v1/types_pb.js";
import type { UserStatusRecord } from "../core/user-status.js";
import { presenceToObject } from "../core/typed-presence.js";
import type { UserWatchItem } from "../fanout/user-watch-hub.js";
import type {
  CountsSchema,
  CursorBatchSchema,
  CursorSchema,
  PresenceEventSchema,
  RoomViewSchema,
  TypingEventSchema,
  UserInfoSchema,
  UserPresenceSchema,
  ConnectionSchema,
  UserStatusSchema,
} from "../../gen/presence/v1/types_pb.js";
import type { LeaseSchema, SessionSchema, WatchPresenceResponseSchema, WatchUsersResponseSchema } from "../../gen/presence/v1/presence_pb.js";

/**
 * Domain ⇄ protobuf translation shared by every transport (Connect/gRPC now, the WebSocket bridge
 * later). No logic: field copies, enum mapping, version as bigint.
 */

export const activityFromPb = (a: PbActivity): Activity | undefined =>
  a === PbActivity.ACTIVE ? "active" : a === PbActivity.AWAY ? "away" : undefined;

const activityToPb = (a: Activity) => (a === "active" ? PbActivity.ACTIVE : PbActivity.AWAY);

export const detailFromPb = (d: PbDetail) => (d === PbDetail.COUNTS ? ("counts" as const) : ("full" as const));

export const onlineUserToPb = (u: OnlineUserView): MessageInitShape<typeof OnlineUserSchema> => ({
  user: userToPb(u.user),
  state: userStateToPb[u.state],
  lastActiveMs: BigInt(u.lastActiveMs),
  connections: u.connections,
});

export const roomInfoToPb = (v: RoomInfoView): MessageInitShape<typeof RoomInfoSchema> => {
  const r = v.record;
  return {
    room: v.room,
    managed: r !== null,
    status: r === null ? PbRoomStatus.UNSPECIFIED : r.status === "open" ? PbRoomStatus.OPEN : PbRoomStatus.ENDED,
    ownerUserId: r?.ownerUserId ?? "",
    metadata: r?.metadata ?? {},
    maxParticipants: r?.maxParticipants ?? 0,
    idleTimeoutMs: BigInt(r?.idleTimeoutMs ?? 0),
    awayAfterMs: BigInt(r?.awayAfterMs ?? 0),
    createdAtMs: BigInt(r?.createdAtMs ?? 0),
    lastActivityMs: BigInt(r?.lastActivityMs ?? 0),
    endedAtMs: BigInt(r?.endedAtMs ?? 0),
    tombstoneUntilMs: BigInt(r?.tombstoneUntilMs ?? 0),
    endedBy: r?.endedBy ?? "",
    counts: countsToPb(v.counts),
  };
};

/** JoinResponse.room_info: the managed room's record, unset for implicit rooms. */
export const joinRoomInfo = (r: { managedRoom?: ManagedRoom; view: RoomView }) =>
  r.managedRoom ? roomInfoToPb({ room: r.managedRoom.room, managed: true, record: r.managedRoom, counts: r.view.counts }) : undefined;

export const orderFromPb = (o: PbMemberOrder) => (o === PbMemberOrder.LAST_ACTIVE ? ("last_active" as const) : ("joined" as const));

export const leaveReasonToPb = { left: PbLeaveReason.LEFT, timeout: PbLeaveReason.TIMEOUT, kicked: PbLeaveReason.KICKED, ended: PbLeaveReason.ENDED } as const;

export const userToPb = (u: UserInfo): MessageInitShape<typeof UserInfoSchema> => ({
  userId: u.userId,
  name: u.name,
  avatarUrl: u.avatarUrl,
  metadata: u.metadata,
});

export const userFromPb = (u: { userId: string; name: string; avatarUrl: string; metadata: Record<string, string> }): UserInfo => ({
  userId: u.userId,
  name: u.name,
  avatarUrl: u.avatarUrl,
  metadata: { ...u.metadata },
});

/** The member's role travels in its metadata under `$role` (service/access-wrappers.ts); on the wire it is `role`. */
const ROLE_KEY = "$role";

export const connectionToPb = (m: Member): MessageInitShape<typeof ConnectionSchema> => {
  // Most members have no role: their metadata goes out as is, without a copy.
  const { [ROLE_KEY]: role = "", ...rest } = ROLE_KEY in m.metadata ? m.metadata : { [ROLE_KEY]: "" };
  return {
    connectionId: m.connectionId,
    activity: activityToPb(m.activity),
    joinedAtMs: BigInt(m.joinedAtMs),
    metadata: role === "" ? m.metadata : rest,
    // Absent when unset (no bytes on the wire for rooms that do not use them).
    presence: m.presence && Object.keys(m.presence).length > 0 ? presenceToObject(m.presence) : undefined,
    lastActiveMs: BigInt(m.lastActiveMs ?? m.joinedAtMs),
    role,
  };
};

/** The role of the user's newest connection that has one. */
const userRoleOf = (members: readonly Member[]): string => {
  for (let i = members.length - 1; i >= 0; i--) {
    const role = members[i]!.metadata[ROLE_KEY];
    if (role !== undefined) return role;
  }
  return "";
};

export const userPresenceToPb = (u: UserPresence): MessageInitShape<typeof UserPresenceSchema> => ({
  user: userToPb(u.user),
  activity: activityToPb(u.activity),
  connections: u.connections.map(connectionToPb),
  role: userRoleOf(u.connections),
});

export const countsToPb = (c: Counts): MessageInitShape<typeof CountsSchema> => ({ users: c.users, connections: c.connections, anonymous: c.anonymous });

export const cursorPositionFromPb = (p: { x: number; y: number; element: string; selectionStart: bigint; selectionEnd: bigint } | undefined): CursorPosition => ({
  x: p?.x ?? 0,
  y: p?.y ?? 0,
  element: p?.element ?? "",
  selectionStart: Number(p?.selectionStart ?? 0n),
  selectionEnd: Number(p?.selectionEnd ?? 0n),
});

const cursorToPb = (c: Cursor): MessageInitShape<typeof CursorSchema> => ({
  connectionId: c.connectionId,
  userId: c.userId,
  position: {
    x: c.position.x,
    y: c.position.y,
    element: c.position.element,
    selectionStart: BigInt(c.position.selectionStart),
    selectionEnd: BigInt(c.position.selectionEnd),
  },
  updatedAtMs: BigInt(c.updatedAtMs),
});

export const viewToPb = (v: RoomView): MessageInitShape<typeof RoomViewSchema> => ({
  room: v.room,
  epoch: v.epoch,
  version: BigInt(v.version),
  counts: countsToPb(v.counts),
  users: v.users.map(userPresenceToPb),
  membersOmitted: v.membersOmitted,
  typing: v.typing.map((t) => ({ userId: t.userId, typing: true, expiresInMs: BigInt(Math.max(0, t.expiresInMs)) })),
  cursors: v.cursors.map(cursorToPb),
  nextPageToken: v.nextPageToken ?? "",
});

export const eventToPb = (e: PresenceEvent): MessageInitShape<typeof PresenceEventSchema> => {
  const base = { room: e.room, epoch: e.epoch, version: BigInt(e.version), timeMs: BigInt(e.timeMs), counts: countsToPb(e.counts) };
  switch (e.kind) {
    case "joined":
      return { ...base, kind: { case: "joined", value: { user: userToPb(e.user), connection: connectionToPb(e.member), firstOfUser: e.firstOfUser } } };
    case "left":
      return { ...base, kind: { case: "left", value: { userId: e.userId, connectionId: e.connectionId, reason: leaveReasonToPb[e.reason], lastOfUser: e.lastOfUser } } };
    case "updated":
      return { ...base, kind: { case: "updated", value: { user: userToPb(e.user), connection: connectionToPb(e.member) } } };
    case "anonymous":
      return { ...base, kind: { case: "anonymous", value: { viewersDelta: e.viewersDelta, connectionsDelta: e.connectionsDelta } } };
  }
};

const typingToPb = (t: TypingEvent): MessageInitShape<typeof TypingEventSchema> => ({
  room: t.room,
  state: { userId: t.userId, typing: t.typing, expiresInMs: BigInt(t.expiresInMs) },
});

const cursorBatchToPb = (b: CursorBatch): MessageInitShape<typeof CursorBatchSchema> => ({
  room: b.room,
  cursors: b.cursors.map(cursorToPb),
  removedConnectionIds: b.removedConnectionIds,
});

export const sessionToPb = (s: SessionGrant): MessageInitShape<typeof SessionSchema> => ({ ...s });

export const leaseToPb = (l: Lease): MessageInitShape<typeof LeaseSchema> => ({
  ttlMs: BigInt(l.ttlMs),
  heartbeatIntervalMs: BigInt(l.heartbeatIntervalMs),
  expiresAtMs: BigInt(l.expiresAtMs),
});

export const watchItemToPb = (item: WatchItem): MessageInitShape<typeof WatchPresenceResponseSchema> => {
  switch (item.type) {
    case "snapshot":
      return { message: { case: "snapshot", value: { view: viewToPb(item.view), first: item.first, last: item.last } } };
    case "event":
      return { message: { case: "event", value: eventToPb(item.event) } };
    case "counts":
      return { message: { case: "counts", value: { room: item.room, epoch: item.epoch, version: BigInt(item.version), counts: countsToPb(item.counts) } } };
    case "keepalive":
      return { message: { case: "keepalive", value: { timeMs: BigInt(item.timeMs) } } };
    case "typing":
      return { message: { case: "typing", value: typingToPb(item.typing) } };
    case "cursors":
      return { message: { case: "cursors", value: cursorBatchToPb(item.batch) } };
    case "broadcast":
      return { message: { case: "broadcast", value: broadcastToPb(item.broadcast) } };
    case "ended":
      return { message: { case: "ended", value: roomEndedToPb(item.ended) } };
  }
};

export const roomEndedToPb = (e: RoomEndedInfo): MessageInitShape<typeof RoomEndedSchema> => ({
  room: e.room,
  epoch: e.epoch,
  version: BigInt(e.version),
  endedAtMs: BigInt(e.endedAtMs),
  endedBy: e.endedBy,
  reason: e.reason,
  tombstoneUntilMs: BigInt(e.tombstoneUntilMs),
});

/** A broadcast as watchers receive it; the payload JSON becomes a google.protobuf.Value. */
export const broadcastToPb = (b: RoomBroadcastMessage): MessageInitShape<typeof RoomBroadcastSchema> => ({
  room: b.room,
  type: b.type,
  payload: fromJson(ValueSchema, JSON.parse(b.payloadJson) as JsonValue),
  userId: b.userId,
  connectionId: b.connectionId,
  timeMs: BigInt(b.timeMs),
});

const userStateToPb = { online: PbUserState.ONLINE, away: PbUserState.AWAY, offline: PbUserState.OFFLINE } as const;

export const userStatusToPb = (r: UserStatusRecord): MessageInitShape<typeof UserStatusSchema> => ({
  userId: r.userId,
  state: userStateToPb[r.state],
  lastSeenMs: BigInt(r.lastSeenMs),
  customStatus: r.customStatus,
  invisible: r.invisible,
  lastActiveMs: BigInt(r.lastActiveMs ?? 0),
  presenceOverride: r.presenceOverride === "away" ? PbPresenceOverride.AWAY : r.presenceOverride === "online" ? PbPresenceOverride.ONLINE : PbPresenceOverride.UNSPECIFIED,
});

/** SetStatusRequest.presence: UNSPECIFIED keeps (undefined). */
export const presenceOverrideFromPb = (p: PbPresenceOverride) =>
  p === PbPresenceOverride.AUTO ? ("auto" as const) : p === PbPresenceOverride.AWAY ? ("away" as const) : p === PbPresenceOverride.ONLINE ? ("online" as const) : undefined;

export const userWatchItemToPb = (item: UserWatchItem): MessageInitShape<typeof WatchUsersResponseSchema> => {
  switch (item.type) {
    case "snapshot":
      return { message: { case: "snapshot", value: { statuses: item.statuses.map(userStatusToPb) } } };
    case "changed":
      return { message: { case: "changed", value: userStatusToPb(item.status) } };
    case "keepalive":
      return { message: { case: "keepalive", value: { timeMs: BigInt(item.timeMs) } } };
  }
};
