import { fromJson, toBinary, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import type { RoomBroadcast as PbRoomBroadcast } from "../../../gen/presence/v1/broadcast_pb.js";
import type { UserInfo } from "../../../src/core/identity.js";
import type { Activity, Counts, Cursor, CursorBatch, LeaveReason, Member, PresenceEvent, RoomView, TypingEvent } from "../../../src/core/presence-event.js";
import type { Lease as PbLease } from "../../../gen/presence/v1/presence_pb.js";
import {
  Activity as PbActivity,
  LeaveReason as PbLeaveReason,
  type Connection as PbConnection,
  type Counts as PbCounts,
  type Cursor as PbCursor,
  type CursorBatch as PbCursorBatch,
  type PresenceEvent as PbPresenceEvent,
  type RoomView as PbRoomView,
  type TypingEvent as PbTypingEvent,
  type UserInfo as PbUserInfo,
} from "../../../gen/presence/v1/types_pb.js";
import type { BroadcastEvent, CursorPosition } from "./types.js";

/**
 * Protobuf → domain values, the reverse of `src/transport/wire.ts`: the SDK feeds these to the
 * shared room-view tracker (`src/core/room-view-tracker.ts`). Field copies only; 64-bit integers
 * become numbers (versions and times stay far below 2^53).
 */

export const activityFromPb = (a: PbActivity): Activity => (a === PbActivity.AWAY ? "away" : "active");

export const activityToPb = (a: Activity): PbActivity => (a === "away" ? PbActivity.AWAY : PbActivity.ACTIVE);

const LEAVE_REASONS: Record<number, LeaveReason> = {
  [PbLeaveReason.LEFT]: "left",
  [PbLeaveReason.TIMEOUT]: "timeout",
  [PbLeaveReason.KICKED]: "kicked",
  [PbLeaveReason.ENDED]: "ended",
};

export const countsFromPb = (c: PbCounts | undefined): Counts => ({ users: c?.users ?? 0, connections: c?.connections ?? 0, anonymous: c?.anonymous ?? 0 });

export const userFromPb = (u: PbUserInfo | undefined): UserInfo => ({
  userId: u?.userId ?? "",
  name: u?.name ?? "",
  avatarUrl: u?.avatarUrl ?? "",
  metadata: { ...(u?.metadata ?? {}) },
});

const memberFromPb = (user: UserInfo, c: PbConnection | undefined): Member => ({
  connectionId: c?.connectionId ?? "",
  identity: { kind: "user", user },
  metadata: { ...(c?.metadata ?? {}) },
  activity: activityFromPb(c?.activity ?? PbActivity.ACTIVE),
  joinedAtMs: Number(c?.joinedAtMs ?? 0n),
  ...(c && c.lastActiveMs > 0n ? { lastActiveMs: Number(c.lastActiveMs) } : {}),
  ...(c?.presence ? { presence: presenceRecordOf(c.presence) } : {}),
});

/** A presence object as the shared tracker keeps it (top-level key → JSON text). */
export function presenceRecordOf(p: JsonObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(p)) out[k] = JSON.stringify(p[k]);
  return out;
}

export const cursorFromPb = (c: PbCursor): Cursor => ({
  connectionId: c.connectionId,
  userId: c.userId,
  position: {
    x: c.position?.x ?? 0,
    y: c.position?.y ?? 0,
    element: c.position?.element ?? "",
    selectionStart: Number(c.position?.selectionStart ?? 0n),
    selectionEnd: Number(c.position?.selectionEnd ?? 0n),
  },
  updatedAtMs: Number(c.updatedAtMs),
});

/** A RoomView (whole view or one snapshot page). */
export function viewFromPb(v: PbRoomView): RoomView {
  return {
    room: v.room,
    epoch: v.epoch,
    version: Number(v.version),
    counts: countsFromPb(v.counts),
    users: v.users.map((u) => {
      const user = userFromPb(u.user);
      return { user, activity: activityFromPb(u.activity), connections: u.connections.map((c) => memberFromPb(user, c)) };
    }),
    membersOmitted: v.membersOmitted,
    typing: v.typing.filter((t) => t.typing).map((t) => ({ userId: t.userId, expiresInMs: Number(t.expiresInMs) })),
    cursors: v.cursors.map(cursorFromPb),
  };
}

/** A membership event; null for a kind this SDK does not know (a newer server). */
export function eventFromPb(e: PbPresenceEvent): PresenceEvent | null {
  const base = { room: e.room, epoch: e.epoch, version: Number(e.version), timeMs: Number(e.timeMs), counts: countsFromPb(e.counts) };
  const k = e.kind;
  switch (k.case) {
    case "joined": {
      const user = userFromPb(k.value.user);
      return { ...base, kind: "joined", user, member: memberFromPb(user, k.value.connection), firstOfUser: k.value.firstOfUser };
    }
    case "left":
      return {
        ...base,
        kind: "left",
        userId: k.value.userId,
        connectionId: k.value.connectionId,
        reason: LEAVE_REASONS[k.value.reason] ?? "left",
        lastOfUser: k.value.lastOfUser,
      };
    case "updated": {
      const user = userFromPb(k.value.user);
      return { ...base, kind: "updated", user, member: memberFromPb(user, k.value.connection) };
    }
    case "anonymous":
      return { ...base, kind: "anonymous", viewersDelta: k.value.viewersDelta, connectionsDelta: k.value.connectionsDelta };
    default:
      return null;
  }
}

export const typingFromPb = (t: PbTypingEvent): TypingEvent => ({
  room: t.room,
  userId: t.state?.userId ?? "",
  typing: t.state?.typing ?? false,
  expiresInMs: Number(t.state?.expiresInMs ?? 0n),
});

export const cursorBatchFromPb = (b: PbCursorBatch): CursorBatch => ({
  room: b.room,
  cursors: b.cursors.map(cursorFromPb),
  removedConnectionIds: [...b.removedConnectionIds],
});

/** The position sent by UpdateCursor (protobuf init shape). */
export const cursorPositionToPb = (p: CursorPosition) => ({
  x: p.x,
  y: p.y,
  element: p.element ?? "",
  selectionStart: BigInt(Math.trunc(p.selectionStart ?? 0)),
  selectionEnd: BigInt(Math.trunc(p.selectionEnd ?? 0)),
});

/** The heartbeat interval a lease asks for (ms), or undefined when the lease is missing. */
export const heartbeatIntervalOf = (l: PbLease | undefined): number | undefined =>
  l && l.heartbeatIntervalMs > 0n ? Number(l.heartbeatIntervalMs) : undefined;

/** A received broadcast (a missing payload is JSON null, as the server sends it). */
export const broadcastFromPb = (b: PbRoomBroadcast, selfConnectionId: string | undefined): BroadcastEvent => ({
  room: b.room,
  type: b.type,
  payload: b.payload ? (toJson(ValueSchema, b.payload) as JsonValue) : null,
  userId: b.userId,
  connectionId: b.connectionId,
  isSelf: b.connectionId !== "" && b.connectionId === selfConnectionId,
  timeMs: Number(b.timeMs),
});

/** A JSON value as the google.protobuf.Value a BroadcastRequest carries, and its serialized size (the server's limit applies to it). */
export function payloadToPb(payload: JsonValue): { value: Value; bytes: number } {
  const value = fromJson(ValueSchema, payload);
  return { value, bytes: toBinary(ValueSchema, value).length };
}
