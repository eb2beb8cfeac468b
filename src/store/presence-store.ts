import type { MemberIdentity } from "../core/identity.js";
import type { UserStatusRecord } from "../core/user-status.js";
import type {
  Activity,
  Counts,
  CursorPosition,
  LeaveReason,
  Position,
  PresenceEvent,
  RoomView,
  StoreMessage,
} from "../core/presence-event.js";

/**
 * The PresenceStore port. Shaped for Redis: every call is asynchronous, every mutation commits
 * atomically and returns its events stamped with (epoch, version), and watchers learn about changes
 * only through `subscribe(room)` (even on the memory store), so any store drops in under the same
 * fan-out hub. Inputs reaching the store are already validated (room names, metadata sizes); the
 * store enforces what needs its state (session ownership, rooms per session, fencing).
 *
 * Errors: `PresenceError` with SESSION_NOT_FOUND (unknown, expired, reaped or foreign session),
 * TOO_MANY_ROOMS, or STORE_UNAVAILABLE (backend down).
 */
export interface PresenceStore {
  /** Joins a room, creating or reclaiming the session as `JoinInput` says. */
  join(input: JoinInput): Promise<JoinResult>;
  /** Leaves one room; `left` is false (and nothing is published) when the session was not in it. */
  leave(input: SessionRef & { room: string; reason: LeaveReason }): Promise<{ left: boolean; sessionEnded: boolean }>;
  /** Leaves `fromRoom` (if in it) and joins `toRoom`, keeping the connection id. */
  navigate(input: SessionRef & { fromRoom: string; toRoom: string; metadata: Record<string, string> }): Promise<NavigateResult>;
  /** Refreshes the session's expiry; publishes `updated` events only when the activity changes. */
  heartbeat(input: SessionRef & { activity?: Activity }): Promise<Lease>;
  /** Binds the session to a stream of this node and refreshes it now (fenced like heartbeat). */
  attach(input: SessionRef): Promise<Lease>;
  /**
   * Refreshes, in one batch, sessions bound to this node's streams. Returns the ids that are gone
   * (ended, expired or reaped): they are never recreated.
   */
  refresh(sessionIds: string[]): Promise<{ missing: string[] }>;
  /** The session's last stream ended: it now expires after `graceMs` unless attached again. */
  release(input: SessionRef, graceMs: number): Promise<void>;
  /** Sets or clears typing of the session's user; publishes only real changes. */
  setTyping(input: SessionRef & { room: string; typing: boolean }): Promise<void>;
  /** Stores the session's cursor (last value wins); published in the next cursor batch. */
  updateCursor(input: SessionRef & { room: string; position: CursorPosition }): Promise<void>;
  /** The room's current view (members omitted when `includeMembers` is false). */
  getView(room: string, opts: { includeMembers: boolean }): Promise<RoomView>;
  /** Committed events after `from`, or null when they cannot be replayed exactly. */
  readLog(room: string, from: Position): Promise<PresenceEvent[] | null>;
  /**
   * Receives the room's committed events, typing changes and cursor batches, in commit order.
   * Keeps the room's state (and epoch) alive while subscribed. Returns the unsubscribe function.
   */
  subscribe(room: string, listener: (message: StoreMessage) => void): () => void;
  /** Resolves once the room's subscription delivers messages (read snapshots only after it). */
  ready(room: string): Promise<void>;
  /** The room's current (epoch, version), creating its state if missing (periodic position check). */
  position(room: string): Promise<Position>;
  /** Statuses of users (real state; visibility is applied by the caller). Unknown users are offline. */
  getUserStatus(userIds: string[]): Promise<UserStatusRecord[]>;
  /** Sets the custom status and/or invisible flag of the session's user; publishes on change. */
  setStatus(input: SessionRef & { customStatus?: string; invisible?: boolean }): Promise<UserStatusRecord>;
  /** Receives status changes of these users (real records). Returns the unsubscribe function. */
  subscribeUsers(userIds: string[], listener: (status: UserStatusRecord) => void): () => void;
  /** Ends every session whose expiry has passed (leave reason TIMEOUT). Idempotent. */
  reap(): Promise<ReapResult>;
  /** Live counts for gauges. */
  stats(): { sessions: number; rooms: number };
  // ---- operator calls (AdminService); enumeration is O(rooms) / O(sessions), never on request paths ----
  /** Records this node as alive now in the node registry (the app calls it every `nodeRefreshMs`). */
  announceNode(): Promise<void>;
  /** Rooms with at least one connection, busiest first (connections desc, then name), at most `limit`. */
  listRooms(limit: number): Promise<{ rooms: RoomSummary[]; totalRooms: number }>;
  /** Nodes in the registry or named by a session, alive first, then by id. */
  listNodes(): Promise<{ nodes: NodeInfo[]; deadAfterMs: number }>;
  /**
   * Ends a session now: it leaves every room with reason KICKED (one event per room) and is
   * deleted. SESSION_NOT_FOUND when unknown, expired or already ended.
   */
  kickSession(sessionId: string): Promise<{ roomsLeft: number }>;
  /**
   * Kicks every session recorded for `nodeId` and forgets the node. NODE_ALIVE (failed_precondition)
   * when the node was seen within the dead bound and `force` is false; NODE_NOT_FOUND when neither
   * the registry nor any session knows the node.
   */
  purgeNode(nodeId: string, opts: { force: boolean }): Promise<{ sessionsKicked: number; roomsLeft: number }>;
  /** Whether the write path works (readiness). */
  ping(): Promise<void>;
  /** Stops timers and releases connections. */
  close(): Promise<void>;
}

/** Identifies a session and the caller acting on it (owner key from `ownerKeyOf`). */
export interface SessionRef {
  sessionId: string;
  ownerKey: string;
}

export interface JoinInput {
  room: string;
  ownerKey: string;
  /** Who the member is: a listed user or an anonymous viewer. */
  identity: MemberIdentity;
  metadata: Record<string, string>;
  /** Activity of a new session (default active); an existing session keeps its own. */
  activity?: Activity;
  /** Join with this session (add a room) or reclaim it (with `resumeSecret`). */
  sessionId?: string;
  resumeSecret?: string;
  /** Deduplicates a retried first Join for one session TTL (scoped by owner). */
  requestId?: string;
}

export interface Lease {
  ttlMs: number;
  heartbeatIntervalMs: number;
  expiresAtMs: number;
}

export interface SessionGrant {
  sessionId: string;
  resumeSecret: string;
  connectionId: string;
}

export interface JoinResult {
  session: SessionGrant;
  lease: Lease;
  resumed: boolean;
  /** The committed event, or null when the join changed nothing. */
  event: PresenceEvent | null;
  /** The room after the join; members omitted above the large-room threshold. */
  view: RoomView;
}

export interface NavigateResult {
  lease: Lease;
  view: RoomView;
}

/** A room and its counts (AdminService.ListRooms). */
export interface RoomSummary {
  room: string;
  counts: Counts;
}

/** The order of `listRooms`: busiest first (connections desc), then by name. */
export function compareRooms(a: RoomSummary, b: RoomSummary): number {
  return b.counts.connections - a.counts.connections || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0);
}

/** A node as the registry and the sessions know it (AdminService.ListNodes). */
export interface NodeInfo {
  nodeId: string;
  /** Store time of its last announcement; 0 when only sessions name it. */
  lastSeenMs: number;
  /** How long ago that was, by the store's clock. */
  lastSeenAgeMs: number;
  alive: boolean;
  /** Sessions recorded for the node now. */
  sessions: number;
}

export interface ReapResult {
  /** Sessions that expired (missed heartbeats). */
  expiredSessions: number;
  /** Leave events published. */
  leaves: number;
}
