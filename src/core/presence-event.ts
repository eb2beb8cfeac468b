import type { MemberIdentity, UserInfo } from "./identity.js";

/** Domain types of rooms, members and the events watchers receive (mirrors presence.v1 types). */

export type Activity = "active" | "away";
export type LeaveReason = "left" | "timeout" | "kicked" | "ended";

export interface Counts {
  /** Distinct authenticated users. */
  users: number;
  /** All connections, authenticated and anonymous. */
  connections: number;
  /** Distinct anonymous ids. */
  anonymous: number;
}

/** One connection (session) inside a room. */
export interface Member {
  connectionId: string;
  identity: MemberIdentity;
  metadata: Record<string, string>;
  activity: Activity;
  joinedAtMs: number;
  /** The session's last activity signal when the view or event was made (ms); absent = joinedAtMs. */
  lastActiveMs?: number;
  /** Typed presence (top-level key → JSON text, `typed-presence.ts`); absent = empty. */
  presence?: Record<string, string>;
}

export interface CursorPosition {
  x: number;
  y: number;
  element: string;
  selectionStart: number;
  selectionEnd: number;
}

export interface Cursor {
  connectionId: string;
  userId: string;
  position: CursorPosition;
  updatedAtMs: number;
}

/** A membership change without its stamp. */
export type EventBody =
  | { kind: "joined"; user: UserInfo; member: Member; firstOfUser: boolean }
  | { kind: "left"; userId: string; connectionId: string; reason: LeaveReason; lastOfUser: boolean }
  | { kind: "updated"; user: UserInfo; member: Member }
  | { kind: "anonymous"; viewersDelta: number; connectionsDelta: number };

/** A committed membership change, stamped with (epoch, version); version = previous + 1. */
export type PresenceEvent = {
  room: string;
  epoch: string;
  version: number;
  timeMs: number;
  counts: Counts;
} & EventBody;

/** Typing set change. Not versioned. `expiresInMs` is 0 when `typing` is false. */
export interface TypingEvent {
  room: string;
  userId: string;
  typing: boolean;
  expiresInMs: number;
}

/** Cursors moved since the last flush, and cursors removed (their connection left). */
export interface CursorBatch {
  room: string;
  cursors: Cursor[];
  removedConnectionIds: string[];
}

/**
 * What a store publishes on a room's subscription, in commit order. `reset` means messages may
 * have been lost (the store's subscription was interrupted): watchers must resync.
 */
/** A custom ephemeral room event (PresenceService.Broadcast): never stored, never versioned. */
export interface RoomBroadcastMessage {
  room: string;
  /** Application-defined type, 1..64 bytes of [A-Za-z0-9_.:-]. */
  type: string;
  /** The payload as JSON text. */
  payloadJson: string;
  /** The sender (empty for a backend sending as itself). */
  userId: string;
  connectionId: string;
  timeMs: number;
}

export type StoreMessage =
  | { type: "broadcast"; broadcast: RoomBroadcastMessage }
  | { type: "event"; event: PresenceEvent }
  | { type: "typing"; typing: TypingEvent }
  | { type: "cursors"; batch: CursorBatch }
  | { type: "reset" }
  | { type: "ended"; ended: RoomEndedInfo };

/**
 * A room was ended (rooms.proto): published after the `left` events of its members, at the room's
 * position after them. Watchers receive it last; their stream then ends.
 */
export interface RoomEndedInfo {
  room: string;
  epoch: string;
  version: number;
  endedAtMs: number;
  /** A user id; "" when the idle reaper ended it. */
  endedBy: string;
  reason: string;
  tombstoneUntilMs: number;
}

/** A user in a room view, with their connections oldest first. */
export interface UserPresence {
  user: UserInfo;
  activity: Activity;
  connections: Member[];
}

/** What a watcher or query sees of a room at (epoch, version). */
export interface RoomView {
  room: string;
  epoch: string;
  version: number;
  counts: Counts;
  users: UserPresence[];
  membersOmitted: boolean;
  typing: { userId: string; expiresInMs: number }[];
  cursors: Cursor[];
  /**
   * The store's time when it read this view, on the clock that stamped `cursors[].updatedAtMs`
   * (Redis' time with the Redis store): a receiver ages the cursors against it, never against its
   * own clock, which may be off (F-T1). Absent: the receiver's clock is the store's.
   */
  readAtMs?: number;
  /** Set on a page of a paged read (GetPresence) when more users follow. */
  nextPageToken?: string;
}

/** A position in a room's history. */
export interface Position {
  epoch: string;
  version: number;
}
