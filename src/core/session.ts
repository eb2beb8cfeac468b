import type { MemberIdentity } from "./identity.js";
import type { Activity, LeaveReason, PresenceEvent, RoomView } from "./presence-event.js";
import type { UserRestore } from "./user-status.js";

/**
 * Session domain types shared by the store ports, the service and the transports: what a caller
 * names (a session reference), what a join asks for and what it grants. Pure types, no behaviour.
 */

/** Identifies a session and the caller acting on it (owner key from `ownerKeyOf`). */
/**
 * Longest session id a request may name. Not an option: the server issues the ids (24 characters,
 * ids.ts); the bound only refuses garbage before it reaches the store.
 */
export const MAX_SESSION_ID_CHARS = 128;

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
  /** Scopes of a new session (validated, without the global scope); ignored for an existing session. */
  scopes?: readonly string[];
  /** Typed presence of the connection in this room (top-level key → JSON text, validated); absent = {}. */
  presence?: Record<string, string>;
  /**
   * De-duplicates a retried first Join for one session TTL. Scoped by `ownerKey`: the same id from
   * another owner is another request (callers that share an owner key share the scope, so the
   * access layer makes anonymous owner keys per anonymous id).
   */
  requestId?: string;
  /**
   * Who the session counts against for the `sessions` quota (`countSessions`); default `ownerKey`.
   * Anonymous callers all share the owner key '', so the service gives them `a:<remote address>`
   * (core/identity.ts `quotaKeyOf`). Stored with the session; fixed at creation.
   */
  quotaKey?: string;
  /**
   * The `sessions` quota of `quotaKey` (0 or absent = no limit): a Join that would create a session
   * while `quotaKey` already has this many (live, or expired and not yet reaped) is refused with
   * QUOTA_EXCEEDED (`sessionsQuotaFull`, field `sessions`) and changes nothing. The store checks it
   * in the same step that creates the session, so concurrent Joins at the limit cannot both pass.
   */
  maxSessions?: number;
  /**
   * The user's durable status (history), applied only if this join creates the user's record (the
   * store holds none: a Redis data loss, a cold start, or the record's retention passed), in the
   * same commit as the join (user-presence.ts); ignored otherwise. Users only.
   */
  restoreStatus?: UserRestore;
}

/** How long a session lives without a refresh, and when it expires now (store time). */
export interface Lease {
  ttlMs: number;
  heartbeatIntervalMs: number;
  expiresAtMs: number;
}

/** What a caller needs to use and reclaim its session. `resumeSecret` is secret; `connectionId` is public. */
export interface SessionGrant {
  sessionId: string;
  resumeSecret: string;
  connectionId: string;
}

export interface JoinResult {
  session: SessionGrant;
  lease: Lease;
  /** True when the session was reclaimed with its resume secret. */
  resumed: boolean;
  /** True when this join created the session (false when it reused, reclaimed or de-duplicated one). */
  sessionCreated: boolean;
  /**
   * True when this join created the room's state (a new epoch): nobody was in the room, nobody
   * watched it, and its retention had passed. The access layer counts these per caller
   * ("new rooms per caller per minute").
   */
  roomCreated: boolean;
  /** The committed event, or null when the join changed nothing. */
  event: PresenceEvent | null;
  /** The scopes the session carries (besides the global one); absent when the store does not know. */
  scopes?: readonly string[];
  /**
   * The session's away threshold after this join (ms, 0 = never): its scopes' (or the default) and
   * the managed rooms' it is in (away-policy.ts). Absent when the store does not know.
   */
  awayAfterMs?: number;
  /** The room after the join; members omitted above the large-room threshold. */
  view: RoomView;
  /**
   * True when the store saw, in the join's own step, that the room has no managed-room record
   * (Redis): the service then skips its record lookup. Absent: unknown (memory store: a local lookup).
   */
  implicitRoom?: boolean;
}

export interface LeaveInput extends SessionRef {
  room: string;
  reason: LeaveReason;
}

export interface LeaveResult {
  /** False (and nothing is published) when the session was not in the room. */
  left: boolean;
  /** True when that was the session's last room: the session ended. */
  sessionEnded: boolean;
}

export interface NavigateInput extends SessionRef {
  /** The room to leave ('' = none). */
  fromRoom: string;
  toRoom: string;
  metadata: Record<string, string>;
}

export interface NavigateResult {
  lease: Lease;
  view: RoomView;
}

export interface ReapResult {
  /** Sessions that expired (missed heartbeats). */
  expiredSessions: number;
  /** Leave events published. */
  leaves: number;
}
