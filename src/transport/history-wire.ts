import type { MessageInitShape } from "@bufbuild/protobuf";
import { ActivityKind as PbKind, type ActivityRecordSchema, type GetRoomAtResponseSchema, type GetRoomStatisticsResponseSchema } from "../../gen/presence/v1/history_pb.js";
import type { ActivityKind, ActivityRecord, RoomAt, RoomStatistics } from "../core/activity.js";

/** Domain ⇄ protobuf translation of the history (HistoryService). No logic: field copies and enums. */

const KIND_TO_PB: Record<ActivityKind, PbKind> = {
  join: PbKind.JOIN,
  leave: PbKind.LEAVE,
  update: PbKind.UPDATE,
  anonymous: PbKind.ANONYMOUS,
  status: PbKind.STATUS,
  admin: PbKind.ADMIN,
  gap: PbKind.GAP,
};

/** Wire kinds to domain names; an unknown number passes as `kind_<n>` so validation names it. */
export const kindFromPb = (k: PbKind): string => (Object.entries(KIND_TO_PB).find(([, v]) => v === k)?.[0] ?? `kind_${k}`);

export const activityRecordToPb = (r: ActivityRecord): MessageInitShape<typeof ActivityRecordSchema> => ({
  key: r.key,
  timeMs: BigInt(r.timeMs),
  kind: KIND_TO_PB[r.kind],
  room: r.room,
  userId: r.userId,
  connectionId: r.connectionId,
  reason: r.reason,
  nodeId: r.nodeId,
  remoteAddress: r.remoteAddr,
  userAgent: r.userAgent,
  epoch: r.epoch,
  version: BigInt(r.version),
  invisible: r.invisible,
  counts: { users: r.users, connections: r.connections, anonymous: r.anonymous },
  detail: Object.fromEntries(Object.entries(r.detail).map(([k, v]) => [k, String(v)])),
});

export const roomAtToPb = (r: RoomAt): MessageInitShape<typeof GetRoomAtResponseSchema> => ({
  room: r.room,
  atMs: BigInt(r.atMs),
  epoch: r.epoch,
  version: BigInt(r.version),
  counts: { users: r.users, connections: r.connections, anonymous: r.anonymous },
  members: r.members.map((m) => ({ userId: m.userId, connectionId: m.connectionId, joinedAtMs: BigInt(m.joinedAtMs), name: m.name })),
  gaps: r.gaps,
});

export const roomStatisticsToPb = (s: RoomStatistics): MessageInitShape<typeof GetRoomStatisticsResponseSchema> => ({
  room: s.room,
  sinceMs: BigInt(s.sinceMs),
  untilMs: BigInt(s.untilMs),
  uniqueUsers: s.uniqueUsers,
  sessions: s.sessions,
  totalPresenceMs: BigInt(s.totalPresenceMs),
  averagePresenceMs: BigInt(s.averagePresenceMs),
  peakConnections: s.peakConnections,
  peakAtMs: BigInt(s.peakAtMs),
  joinsPerHour: s.joinsPerHour.map((h) => ({ hourStartMs: BigInt(h.hourStartMs), joins: h.joins })),
  gaps: s.gaps,
});
