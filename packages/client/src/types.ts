/**
 * Public types of the client SDK: what an application sees of a room, its members, typing and
 * cursors, and the events a client and a room handle emit. Plain data, no protobuf types: the
 * mapping from the wire lives in `proto-mapping.ts` and `room-view-state.ts`.
 */

/** What a session is doing: `away` when the tab has been hidden for a while (or set by the app). */
export type Activity = "active" | "away";

/**
 * The state of a client's connection.
 * - `idle`: nothing to do yet (no room joined, `connect()` not called), or every room was left;
 * - `connecting`: first connection attempt; `reconnecting`: waiting for or running a retry;
 * - `connected`: joined and watching every room;
 * - `paused`: disconnected on purpose because the tab was hidden for long; resumes when visible;
 * - `disconnected`: gave up (a terminal error, or `reconnect.maxAttempts` reached);
 * - `closed`: `close()` was called; the client cannot be used any more.
 */
export type ConnectionStatus = "idle" | "connecting" | "connected" | "reconnecting" | "paused" | "disconnected" | "closed";

/** Why a connection left a room. `resync` marks leaves found by comparing two snapshots. */
export type LeaveReason = "left" | "timeout" | "kicked" | "ended" | "resync";

/** A JSON value, as typed presence holds it. */
export type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/** One connection (tab, device) of a user inside a room. */
export interface PresenceConnection {
  /** Public id, stable across navigation and reconnects; never a session id. */
  connectionId: string;
  activity: Activity;
  /** When the connection joined the room (ms since the Unix epoch, server clock). */
  joinedAtMs: number;
  /** Metadata given when joining the room. */
  metadata: Record<string, string>;
  /** Typed presence of the connection (`setPresence` on its client); `{}` when none. */
  presence: JsonObject;
  /** The connection's last activity signal known to this view (ms since the Unix epoch). */
  lastActiveMs: number;
  /** True for this client's own connection. */
  isSelf: boolean;
}

/** A user present in a room, with all of their connections (oldest first). */
export interface PresenceUser {
  userId: string;
  name: string;
  avatarUrl: string;
  /** User metadata from the token (`meta` claim). */
  metadata: Record<string, string>;
  /** `active` if any connection is active. */
  activity: Activity;
  connections: PresenceConnection[];
  /** True when one of the connections is this client's own. */
  isSelf: boolean;
}

/** A user typing in a room. */
export interface TypingUser {
  userId: string;
  /** Display name when the user is listed in the room, else empty. */
  name: string;
  isSelf: boolean;
}

/** A cursor position as the application defines it (page pixels, fractions, …). */
export interface CursorPosition {
  x: number;
  y: number;
  /** Element or selector the position is relative to (at most 256 bytes). */
  element?: string | undefined;
  selectionStart?: number | undefined;
  selectionEnd?: number | undefined;
}

/** The latest cursor of one connection. */
export interface PresenceCursor {
  connectionId: string;
  userId: string;
  /** Display name of the cursor's user when listed in the room, else empty. */
  name: string;
  position: Required<CursorPosition>;
  /** When the server accepted the position (ms since the Unix epoch). */
  updatedAtMs: number;
  isSelf: boolean;
}

/**
 * A complete, consistent view of a room at `(epoch, version)`. Counts include this client
 * ("3 people viewing"); anonymous viewers are a count only.
 */
export interface RoomViewState {
  room: string;
  epoch: string;
  version: number;
  /** Listed users, ordered by their first connection's join time. */
  users: PresenceUser[];
  /** Distinct authenticated users. */
  userCount: number;
  /** Distinct anonymous viewers (guests). */
  anonymousCount: number;
  /** All connections, authenticated and anonymous. */
  connectionCount: number;
  /** True when the server did not list members (very large room). */
  membersOmitted: boolean;
  typing: TypingUser[];
  cursors: PresenceCursor[];
}

/** This client inside a room. */
export interface SelfInfo {
  connectionId: string;
  /** The user id when the client is authenticated and listed; undefined for an anonymous viewer. */
  userId: string | undefined;
  anonymous: boolean;
}

/** A connection joined a room (`firstOfUser`: the user was not there before). */
export interface JoinEvent {
  room: string;
  user: PresenceUser;
  connection: PresenceConnection;
  firstOfUser: boolean;
  isSelf: boolean;
  /** True when found by comparing a fresh snapshot with the previous view (after a reconnect). */
  resync: boolean;
}

/** A connection left a room (`lastOfUser`: the user has no connection left there). */
export interface LeaveEvent {
  room: string;
  userId: string;
  connectionId: string;
  reason: LeaveReason;
  lastOfUser: boolean;
  isSelf: boolean;
  resync: boolean;
}

/** A connection's activity or metadata changed. */
export interface UpdateEvent {
  room: string;
  user: PresenceUser;
  connection: PresenceConnection;
}

export interface TypingChangeEvent {
  room: string;
  /** Everyone typing now, this client included (filter on `isSelf`). */
  typing: TypingUser[];
}

export interface CursorsEvent {
  room: string;
  /** Every current cursor (this client's included; filter on `isSelf`). */
  cursors: PresenceCursor[];
  /** Cursors that moved in this batch. */
  moved: PresenceCursor[];
  /** Connections whose cursor was removed. */
  removed: string[];
}

export interface StatusEvent {
  status: ConnectionStatus;
  previous: ConnectionStatus;
}

export interface ConnectedEvent {
  /** True when the session was reclaimed (no leave/join was broadcast). */
  resumed: boolean;
}

export interface DisconnectedEvent {
  /** Short reason ("closed by server", "network error", "tab hidden", …). */
  reason: string;
  /** WebSocket close code, when the socket was closed. */
  code?: number | undefined;
  willReconnect: boolean;
  error?: Error | undefined;
}

/** Events of one room (on a RoomHandle, or on the client for every room). */
export interface RoomEvents {
  join: JoinEvent;
  leave: LeaveEvent;
  update: UpdateEvent;
  typing: TypingChangeEvent;
  cursors: CursorsEvent;
  /** The view changed (any reason, including a resync snapshot). */
  view: RoomViewState;
  /** Your own typed presence changed locally (`setPresence`). */
  myPresence: JsonObject;
  /** The room was ended (EndRoom or idle): everyone left; the client dropped the room. */
  ended: RoomEndedEvent;
  /** A custom event sent to the room (`handle.broadcast`, or a backend's PresenceService.Broadcast); your own included (`isSelf`). */
  broadcast: BroadcastEvent;
}

/**
 * A custom ephemeral event of a room, as every watcher receives it once. Never stored: a client
 * that is disconnected when it is sent does not receive it later.
 */
export interface BroadcastEvent<T extends JsonValue = JsonValue> {
  room: string;
  /** The application's event type (1..64 characters of `A-Za-z0-9_.:-`). */
  type: string;
  /** The application's JSON value. */
  payload: T;
  /** The sender's user id; "" when a backend sent it without a session. */
  userId: string;
  /** The sender's public connection id; "" when a backend sent it without a session. */
  connectionId: string;
  /** Sent by this client's own connection. */
  isSelf: boolean;
  /** When the server accepted it (ms since the Unix epoch). */
  timeMs: number;
}

/** What the server answered a broadcast. */
export interface BroadcastResult {
  /** Watchers of the room on the node that answered (diagnostics: 0 does not mean nobody received it). */
  localWatchers: number;
}

/** A managed room was ended (rooms.proto); joins are refused until `tombstoneUntilMs`. */
export interface RoomEndedEvent {
  room: string;
  /** The user who ended it; "" when the server ended it for being idle. */
  endedBy: string;
  reason: string;
  endedAtMs: number;
  tombstoneUntilMs: number;
}

/** Events of the connection (on the client, and forwarded to every room handle). */
export interface ConnectionEvents {
  status: StatusEvent;
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  activity: Activity;
  /** An error that did not end the connection (a failed typing or cursor call, a refused join). */
  error: Error;
}

export type PresenceEvents = RoomEvents & ConnectionEvents;
