import type { Caller } from "./identity.js";
import { invalidArgument, limitExceeded, PresenceError } from "./presence-error.js";
import { checkText, utf8Length } from "./room-name.js";

/**
 * Managed rooms (rooms.proto): created on purpose with an owner, metadata, a participant limit, an
 * idle timeout and an away threshold; updated by the owner or operators; ended (every connection
 * leaves with reason ENDED, watchers get a final message, the name refuses joins for the tombstone
 * time); ended by the reaper after their idle timeout. Rooms nobody created stay implicit (no
 * owner, no limit). Pure rules; stores keep the records and apply `admitJoin` atomically with the
 * join itself (in Lua on Redis), so concurrent joins can never exceed the limit.
 */
export interface ManagedRoom {
  room: string;
  ownerUserId: string;
  metadata: Record<string, string>;
  /** 0 = no limit. Counts distinct users plus distinct anonymous viewers. */
  maxParticipants: number;
  /** 0 = never idle-ended. */
  idleTimeoutMs: number;
  /** 0 = the server default. */
  awayAfterMs: number;
  createdAtMs: number;
  lastActivityMs: number;
  status: "open" | "ended";
  endedAtMs: number;
  tombstoneUntilMs: number;
  endedBy: string;
  endReason: string;
}

/** Bounds and defaults of managed rooms (each an option with a documented default). */
export interface RoomLimits {
  /** Upper bound of `max_participants` (PRESENCE_MAX_ROOM_PARTICIPANTS, default 100,000). */
  maxParticipants: number;
  /** Idle timeout when CreateRoom gives 0 (PRESENCE_ROOM_IDLE_TIMEOUT_MS, default 24 h). */
  defaultIdleTimeoutMs: number;
  /** Joins refused after an end for this long (PRESENCE_ROOM_TOMBSTONE_MS, default 10 min). */
  tombstoneMs: number;
}

export const MAX_IDLE_TIMEOUT_MS = 365 * 86_400_000;
export const MIN_AWAY_AFTER_MS = 1_000;
export const MAX_AWAY_AFTER_MS = 7 * 86_400_000;
export const MAX_END_REASON_BYTES = 128;

/** The settings a CreateRoom or UpdateRoom asks for, validated (throws INVALID_ARGUMENT naming the field). */
export interface RoomSettings {
  maxParticipants?: number;
  idleTimeoutMs?: number;
  awayAfterMs?: number;
}

export function checkRoomSettings(s: RoomSettings, limits: RoomLimits): RoomSettings {
  if (s.maxParticipants !== undefined && (s.maxParticipants < 0 || s.maxParticipants > limits.maxParticipants)) {
    throw limitExceeded("max_participants", limits.maxParticipants, s.maxParticipants, "participants", "INVALID_ARGUMENT");
  }
  if (s.idleTimeoutMs !== undefined && (s.idleTimeoutMs < 0 || s.idleTimeoutMs > MAX_IDLE_TIMEOUT_MS)) {
    throw invalidArgument("idle_timeout_ms", `must be from 0 to ${MAX_IDLE_TIMEOUT_MS} (365 days) (got ${s.idleTimeoutMs})`);
  }
  if (s.awayAfterMs !== undefined && s.awayAfterMs !== 0 && (s.awayAfterMs < MIN_AWAY_AFTER_MS || s.awayAfterMs > MAX_AWAY_AFTER_MS)) {
    throw invalidArgument("away_after_ms", `must be 0 (server default) or from ${MIN_AWAY_AFTER_MS} to ${MAX_AWAY_AFTER_MS} (got ${s.awayAfterMs})`);
  }
  return s;
}

/** Validates EndRoom's free-text reason (at most 128 bytes, no control characters). */
export function checkEndReason(reason: string): string {
  const n = utf8Length(reason);
  if (n > MAX_END_REASON_BYTES) throw limitExceeded("reason", MAX_END_REASON_BYTES, n, "bytes", "INVALID_ARGUMENT");
  checkText(reason, "reason");
  return reason;
}

/** A new managed room record. `idleTimeoutMs` 0 takes the default. */
export function newManagedRoom(
  room: string,
  ownerUserId: string,
  metadata: Record<string, string>,
  s: Required<RoomSettings>,
  limits: RoomLimits,
  nowMs: number,
): ManagedRoom {
  return {
    room,
    ownerUserId,
    metadata,
    maxParticipants: s.maxParticipants,
    idleTimeoutMs: s.idleTimeoutMs === 0 ? limits.defaultIdleTimeoutMs : s.idleTimeoutMs,
    awayAfterMs: s.awayAfterMs,
    createdAtMs: nowMs,
    lastActivityMs: nowMs,
    status: "open",
    endedAtMs: 0,
    tombstoneUntilMs: 0,
    endedBy: "",
    endReason: "",
  };
}

/** True while an ended room still refuses joins. A record past its tombstone is forgotten. */
export function isTombstoned(r: ManagedRoom | undefined, nowMs: number): boolean {
  return r !== undefined && r.status === "ended" && nowMs < r.tombstoneUntilMs;
}

export function roomEnded(r: ManagedRoom): PresenceError {
  return new PresenceError("ROOM_ENDED",
    `room: "${r.room}" was ended; joins are refused until ${new Date(r.tombstoneUntilMs).toISOString()}`,
    { field: "room" },
  );
}

export function roomFull(room: string, max: number): PresenceError {
  return new PresenceError("ROOM_FULL", `room: "${room}" is full (limit ${max} participants)`, { field: "room", limit: max, actual: max + 1 });
}

export function roomNotFound(room: string): PresenceError {
  return new PresenceError("ROOM_NOT_FOUND", `room: "${room}" is not a managed room (create it with CreateRoom)`, { field: "room" });
}

export function roomExists(room: string): PresenceError {
  return new PresenceError("ROOM_EXISTS", `room: "${room}" is a managed room already`, { field: "room" });
}

/**
 * Whether a join may proceed: refused while tombstoned (ROOM_ENDED); refused when it would add one
 * participant more than the limit (ROOM_FULL). `participants` = distinct users + distinct anonymous
 * viewers now; `newParticipant` = the joining user (or anonymous id) has no connection in the room.
 */
export function admitJoin(r: ManagedRoom | undefined, participants: number, newParticipant: boolean, nowMs: number): void {
  if (!r) return;
  if (isTombstoned(r, nowMs)) throw roomEnded(r);
  if (r.status !== "open") return;
  if (newParticipant && r.maxParticipants > 0 && participants >= r.maxParticipants) throw roomFull(r.room, r.maxParticipants);
}

/** Who may update or end a managed room: its owner, and operators (service and admin roles). */
export function canManageRoom(caller: Caller, r: ManagedRoom | undefined): boolean {
  if (caller.role === "service" || caller.role === "admin") return true;
  return r !== undefined && caller.role === "user" && caller.subject === r.ownerUserId;
}

export function manageDenied(room: string): PresenceError {
  return new PresenceError("PERMISSION_DENIED", `room: only the owner of "${room}" or an operator may change or end it`, { field: "room" });
}

/** Marks a room ended at `nowMs` (idempotent: an ended room keeps its first end). */
export function endManagedRoom(r: ManagedRoom, endedBy: string, reason: string, limits: RoomLimits, nowMs: number): ManagedRoom {
  if (r.status === "ended") return r;
  return { ...r, status: "ended", endedAtMs: nowMs, tombstoneUntilMs: nowMs + limits.tombstoneMs, endedBy, endReason: reason };
}

/** True when an open managed room has been idle for its timeout at `nowMs` (the reaper ends it). */
export function isIdle(r: ManagedRoom, nowMs: number): boolean {
  return r.status === "open" && r.idleTimeoutMs > 0 && nowMs - r.lastActivityMs >= r.idleTimeoutMs;
}

/** When the reaper should look at an open room again (its idle deadline); Infinity when never. */
export function idleDeadline(r: ManagedRoom): number {
  return r.status === "open" && r.idleTimeoutMs > 0 ? r.lastActivityMs + r.idleTimeoutMs : Number.POSITIVE_INFINITY;
}

/** Applies an UpdateRoom (fields left undefined are unchanged). Ended rooms cannot be updated. */
export function updateManagedRoom(
  r: ManagedRoom,
  u: RoomSettings & { metadata?: Record<string, string>; ownerUserId?: string },
  limits: RoomLimits,
): ManagedRoom {
  if (r.status === "ended") throw roomEnded(r);
  return {
    ...r,
    maxParticipants: u.maxParticipants ?? r.maxParticipants,
    idleTimeoutMs: u.idleTimeoutMs === undefined ? r.idleTimeoutMs : u.idleTimeoutMs === 0 ? limits.defaultIdleTimeoutMs : u.idleTimeoutMs,
    awayAfterMs: u.awayAfterMs ?? r.awayAfterMs,
    metadata: u.metadata ?? r.metadata,
    ownerUserId: u.ownerUserId ?? r.ownerUserId,
  };
}
