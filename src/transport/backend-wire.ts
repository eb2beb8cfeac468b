import { create, toBinary, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { BackendEventKind as PbKind, type BackendEventSchema } from "../../gen/presence/v1/backend_pb.js";
import type { BackendEvent, BackendEventKind } from "../core/backend-events.js";
import { invalidArgument } from "../core/presence-error.js";
import type { BroadcastCommand } from "../service/broadcast.js";
import type { BroadcastRequest } from "../../gen/presence/v1/broadcast_pb.js";
import { broadcastToPb, connectionToPb, countsToPb, leaveReasonToPb, userStatusToPb, userToPb } from "./wire.js";

/** Backend event kinds: domain name ↔ proto enum (also the names PRESENCE_WEBHOOK_KINDS accepts). */
export const BACKEND_EVENT_KINDS: Readonly<Record<BackendEventKind, PbKind>> = {
  room_occupied: PbKind.ROOM_OCCUPIED,
  room_vacated: PbKind.ROOM_VACATED,
  member_added: PbKind.MEMBER_ADDED,
  member_removed: PbKind.MEMBER_REMOVED,
  user_online: PbKind.USER_ONLINE,
  user_away: PbKind.USER_AWAY,
  user_offline: PbKind.USER_OFFLINE,
  broadcast: PbKind.BROADCAST,
};

/** A domain backend event as `presence.v1.BackendEvent` (webhook bodies, WatchEvents). */
export function backendEventToPb(e: BackendEvent): MessageInitShape<typeof BackendEventSchema> {
  const head = { id: e.id, kind: BACKEND_EVENT_KINDS[e.kind], timeMs: BigInt(e.timeMs), room: e.room, userId: e.userId };
  switch (e.kind) {
    case "room_occupied":
      return { ...head, detail: { case: "roomOccupied", value: { counts: countsToPb(e.counts) } } };
    case "room_vacated":
      return { ...head, detail: { case: "roomVacated", value: {} } };
    case "member_added":
      return { ...head, detail: { case: "memberAdded", value: { user: userToPb(e.user), connection: connectionToPb(e.member), counts: countsToPb(e.counts) } } };
    case "member_removed":
      return { ...head, detail: { case: "memberRemoved", value: { reason: leaveReasonToPb[e.reason], counts: countsToPb(e.counts) } } };
    case "broadcast":
      return { ...head, detail: { case: "broadcast", value: broadcastToPb(e.broadcast) } };
    default:
      return { ...head, detail: { case: "userStatus", value: userStatusToPb(e.status) } };
  }
}

/** WatchEvents `kinds` as domain names; UNSPECIFIED or an unknown number is refused naming the index. */
export function kindsFromPb(kinds: PbKind[]): BackendEventKind[] {
  const byPb = new Map<PbKind, BackendEventKind>(Object.entries(BACKEND_EVENT_KINDS).map(([k, v]) => [v, k as BackendEventKind] as const));
  return kinds.map((k, i) => {
    const name = byPb.get(k);
    if (name === undefined) throw invalidArgument(`kinds[${i}]`, `must be a BackendEventKind other than UNSPECIFIED (got ${k})`);
    return name;
  });
}

/** A BroadcastRequest (RPC or WebSocket frame) as the service's command: the payload as JSON, its size as protobuf. */
export function broadcastCommandFromPb(req: BroadcastRequest, sessionId = req.sessionId): BroadcastCommand {
  const payload = req.payload ?? create(ValueSchema, { kind: { case: "nullValue", value: 0 } });
  return { room: req.room, type: req.type, payloadJson: toJsonString(ValueSchema, payload), payloadBytes: toBinary(ValueSchema, payload).length, sessionId };
}
