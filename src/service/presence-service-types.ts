import type { Clock } from "../core/clock.js";
import type { IdSource } from "../core/ids.js";
import type { Caller, UserInfo } from "../core/identity.js";
import type { Limits, Timings } from "../core/options.js";
import type { Activity, CursorPosition, Position, RoomView } from "../core/presence-event.js";
import type { MemberOrder } from "../core/member-order.js";
import type { JsonObject } from "../core/typed-presence.js";
import type { PresenceOverride } from "../core/presence-override.js";
import type { ManagedRoom } from "../core/room-lifecycle.js";
import type { Detail, FanoutHub, WatchItem } from "../fanout/fanout-hub.js";
import type { UserWatchHub, UserWatchItem } from "../fanout/user-watch-hub.js";
import type { UserRestore, UserStatusRecord } from "../core/user-status.js";
import type { JoinResult, Lease, NavigateResult } from "../core/session.js";
import type { RoomStore } from "../store/ports/room-store.js";
import type { SessionStore } from "../store/ports/session-store.js";
import type { UserStatusStore } from "../store/ports/user-status-store.js";
import type { DurableUserStatus } from "../history/history-store.js";
import type { AccessGuard } from "./access-guard.js";
import type { MemoryGuard } from "./memory-guard.js";

/**
 * The application service: every transport (Connect/gRPC today, the WebSocket bridge later) calls
 * these functions with an authenticated Caller and plain domain values. It validates input before
 * anything is allocated in the store, decides who may do what, applies the per-session rate gates
 * for typing and cursors, and delegates to the store and the fan-out hub. It does no I/O itself.
 */
export interface PresenceService {
  join(caller: Caller, req: JoinCommand): Promise<ServiceJoinResult>;
  leave(caller: Caller, req: { sessionId: string; room: string }): Promise<{ left: boolean }>;
  navigate(caller: Caller, req: { sessionId: string; fromRoom: string; toRoom: string; metadata: Record<string, string> }): Promise<NavigateResult>;
  heartbeat(caller: Caller, req: { sessionId: string; activity?: Activity }): Promise<Lease>;
  setTyping(caller: Caller, req: { sessionId: string; room: string; typing: boolean }): Promise<void>;
  updateCursor(caller: Caller, req: { sessionId: string; room: string; position: CursorPosition }): Promise<void>;
  watch(caller: Caller, req: WatchCommand): AsyncGenerator<WatchItem>;
  getPresence(caller: Caller, req: { room: string; detail: Detail; pageSize?: number; pageToken?: string; order?: MemberOrder }): Promise<RoomView>;
  batchGetPresence(caller: Caller, req: { rooms: string[]; detail: Detail; pageSize?: number; order?: MemberOrder }): Promise<RoomView[]>;
  getUserStatus(caller: Caller, req: { userIds: string[] }): Promise<UserStatusRecord[]>;
  watchUsers(caller: Caller, req: { userIds: string[]; signal: AbortSignal }): AsyncGenerator<UserWatchItem>;
  setStatus(caller: Caller, req: { sessionId: string; customStatus?: string; invisible?: boolean; presence?: PresenceOverride }): Promise<UserStatusRecord>;
  /**
   * Typed presence (member_presence.proto): merges (or replaces) the connection's presence in a
   * room. Above `presenceRatePerSec` per session and room the updates are merged and applied when
   * the rate allows (never refused).
   */
  updatePresence(caller: Caller, req: { sessionId: string; room: string; presence: JsonObject; replace: boolean }): Promise<void>;
  /** Refreshes every session attached to a stream of this node (the app calls it every `nodeRefreshMs`). */
  refreshAttached(): Promise<{ refreshed: number; missing: number }>;
  /** Sessions attached to streams of this node. */
  attachedCount(): number;
  /**
   * Binds a session of the caller to a transport of this node (a watch stream or a WebSocket): the
   * node keeps it alive until the returned release function is called, then it enters the
   * reconnect grace. Throws SESSION_NOT_FOUND for an unknown, expired or foreign session.
   * `onLost` runs when a node refresh finds the session gone (kicked, purged, or reaped after a
   * long store outage): the transport then ends, so its client learns it is no longer present.
   * `joined`: the lease of the Join that just created or reclaimed the session on this node
   * (`SessionStore.attach`: no store round trip then).
   */
  bind(caller: Caller, sessionId: string, onLost?: () => void, joined?: Lease): Promise<() => void>;
  /** Resolves when every pending release (stream ended → reconnect grace) has reached the store. */
  drain(): Promise<void>;
  /**
   * Admits a watch that a transport serves itself (a WebSocket watch): checks the `watch` right and
   * takes one unit of the caller's `watches` quota. Resolves with the valid room name and the
   * function that gives the quota back when the watch ends.
   */
  admitWatch(caller: Caller, room: string): Promise<{ room: string; release: () => void }>;
  /**
   * A UDP heartbeat whose MAC verified (udp.proto): refreshes the session exactly like Heartbeat,
   * without an owner check (the key proved it). SESSION_NOT_FOUND when the session is gone.
   */
  udpHeartbeat(sessionId: string, activity: Activity | undefined): Promise<void>;
}

/** A Join's answer: the store's, plus the session's UDP heartbeat key when UDP heartbeats are on, and the managed room's record. */
export type ServiceJoinResult = JoinResult & { heartbeatKey?: Uint8Array; udpPort?: number; managedRoom?: ManagedRoom };

export interface JoinCommand {
  room: string;
  metadata: Record<string, string>;
  /** Initial typed presence in the room (a JSON object); absent = {}. */
  presence?: JsonObject;
  /** Scopes of a new session (scopes.proto): users only from their token's list, services any. */
  scopes?: readonly string[];
  sessionId: string;
  resumeSecret: string;
  activity?: Activity;
  requestId: string;
  /** Service role only: the user the service acts for. */
  onBehalfOf?: UserInfo;
  /** Anonymous callers only: client-kept anonymous id. */
  anonymousId: string;
}

export interface WatchCommand {
  /** Optional: a session of the caller to keep alive while the stream is open (attached binding). */
  sessionId?: string;
  room: string;
  detail: Detail;
  resumeFrom?: Position;
  signal: AbortSignal;
  onStall?: () => void;
  /** Order of users across snapshot pages (default joined). */
  order?: MemberOrder;
  /** Users per snapshot page: 1..the snapshot page size (0 or absent: the server's). */
  snapshotPageSize?: number;
}

export interface PresenceServiceOptions {
  sessions: SessionStore;
  rooms: RoomStore;
  users: UserStatusStore;
  hub: FanoutHub;
  userHub: UserWatchHub;
  clock: Clock;
  ids: IdSource;
  limits: Limits;
  timings: Timings;
  /** Called for every heartbeat received (metrics). */
  onHeartbeat?: () => void;
  /** Counts coalesced typing/cursor updates (metrics). */
  onCoalesced?: (kind: "typing" | "cursor" | "presence") => void;
  /** Errors of deferred (coalesced) updates, which have no caller left to answer. */
  onDeferredError?: (err: unknown) => void;
  /** Managed rooms (rooms.proto): the record told in Join answers, and the idle clock of the room. */
  managedRooms?: { getRoom(room: string): Promise<ManagedRoom | null>; touchRoom(room: string): Promise<void> };
  /** Away thresholds of the scope overrides (PRESENCE_AWAY_AFTER_MS_BY_SCOPE), for the signal interval. */
  awayScopeThresholds?: number[];
  /** Last activity of users with a session (the scope store's global scope), for GetUserStatus. */
  lastActive?: (userIds: string[]) => Promise<Map<string, number>>;
  /**
   * Durable statuses (history) of users the store reports as never seen: after a Redis data loss
   * their last seen, custom status and invisible flag come from here. Never rejects ([] when the
   * history does not answer in time).
   */
  durableStatus?: (userIds: string[]) => Promise<DurableUserStatus[]>;
  /**
   * The durable status (history) a join of this user carries as JoinInput.restoreStatus: the store
   * applies it only when the join creates the user's record (after a Redis data loss, a cold start),
   * in the same commit, so an invisible user never shows up visible meanwhile.
   */
  restoreStatus?: (userId: string) => UserRestore | undefined;
  /** Rights and quotas: every call is checked here before the store is touched. */
  access: AccessGuard;
  /** The store memory guard: over budget, joins that would create a session or a room are refused. */
  memory?: MemoryGuard;
  /** UDP heartbeats (when on): each session's key and the bound port, told in Join answers. */
  udp?: { keyFor(sessionId: string): Uint8Array; port(): number };
}
