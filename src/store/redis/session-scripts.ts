import { limitExceeded, sessionNotFound, type PresenceError } from "../../core/presence-error.js";
import type { SessionRef } from "../../core/session.js";
import { decodeSession, type StoredSession } from "./codec.js";
import { ScriptReply, type ScriptContext } from "./script-reply.js";

/**
 * Typed wrappers of the session scripts (lua/session*.lua): each owns its KEYS/ARGV (a session's
 * keys are those of its bucket, one slot) and decodes its reply into a named result. The status
 * tables below are the only place script status numbers appear; `not_found` and `too_many_rooms`
 * become PresenceErrors in `sessionError`, once.
 */
const OPEN = { 1: "ok", 2: "request_hit", [-1]: "not_found", [-2]: "too_many_rooms", [-3]: "quota_full" } as const;
const CHECK = { 1: "ok", [-1]: "not_found" } as const;
const LEAVE_ROOM = { 1: "left", 2: "ended", 0: "not_in_room", 3: "relisted", [-1]: "not_found" } as const;
const NAVIGATE = { 1: "ok", [-1]: "not_found", [-2]: "too_many_rooms" } as const;
const RELEASE = { 1: "released", 0: "other_node", [-1]: "not_found" } as const;
const SET_NODE = { 1: "recorded", 0: "unchanged", [-1]: "not_found" } as const;
const HEARTBEAT = { 1: "refreshed", 2: "activity_changed", [-1]: "not_found" } as const;
const REAP_DONE = { 1: "deleted", 0: "not_claimed" } as const;
const KICK = { 1: "claimed", 0: "not_found", [-1]: "other_node" } as const;
const STAMP = { 1: "stamped", [-1]: "not_found" } as const;
const ROOM_AWAY = { 1: "changed", 0: "unchanged", [-1]: "not_found" } as const;
/** Sessions looked at per bucket per away sweep. */
const AWAY_BATCH = 1_000;

/** How long a claim (reap or kick) is held before any node may claim the session again. */
export const REAP_CLAIM_MS = 30_000;
/** Sessions claimed per bucket per reaper pass. */
export const REAP_BATCH = 200;
/**
 * A quota entry (lua/lib/quota.lua) is checked against its session record only after this many
 * session TTLs: a join in flight is never mistaken for a leftover, and a leftover (Cluster: a node
 * died between a session's end and its removal from the quota set) holds a place at most this long
 * before the next refused Join of that quota key frees it (redis-session-quota.ts).
 */
export const QUOTA_CHECK_AFTER_TTLS = 2;

/** The PresenceError of a refused session call; `field` names the room field of the request. */
export function sessionError(r: { status: "not_found" | "request_hit" } | { status: "too_many_rooms"; rooms: number }, field: string, maxRooms: number): PresenceError {
  if (r.status !== "too_many_rooms") return sessionNotFound();
  return limitExceeded(field, maxRooms, r.rooms, "rooms per session", "TOO_MANY_ROOMS");
}

export type SessionOpenReply =
  /** `seq`: this call's number, carried by its room join (fencing). */
  | { status: "ok"; expiresAtMs: number; session: StoredSession; seq: number }
  /** A first Join's request id names this live session of the owner: nothing was created. */
  | { status: "request_hit"; sessionId: string }
  | { status: "not_found" }
  | { status: "too_many_rooms"; rooms: number }
  /** The quota key already has `maxSessions` sessions (nothing changed); `due`: entries whose check is due. */
  | { status: "quota_full"; count: number; due: string[] };

export type SessionOpenMode = "new" | "use" | "reclaim";

export interface SessionOpenArgs {
  mode: SessionOpenMode;
  sid: string;
  owner: string;
  /** new: the session JSON; reclaim: the resume secret; use: ''. */
  arg: string;
  room: string;
  metadataJson: string;
  nodeId: string;
  /** Mode new only: the request field (`keys.request`) of a first Join with a request id; the session must be in its bucket. */
  requestField?: string;
  /** Mode new only: the quota key the session counts against (default the owner key). */
  quotaKey?: string;
  /**
   * Mode new only: the quota key's `sessions` quota (0 or absent = none). Standalone Redis: checked
   * and counted by this script; Cluster: by `quotaAdmit` before it (the slot differs).
   */
  maxSessions?: number;
}

/** One entry of a heartbeat batch: owner null is a node refresh of a session it already verified. */
export interface HeartbeatEntry {
  sid: string;
  /** The caller's owner key ('' = anonymous, checked like any other), or null for a node refresh. */
  owner: string | null;
  /** '' keeps the activity. */
  activity: string;
  ttlMs: number;
}

export interface HeartbeatReply {
  status: (typeof HEARTBEAT)[keyof typeof HEARTBEAT];
  expiresAtMs: number;
  /** The session after an activity change (status `activity_changed`), else null. */
  changed: StoredSession | null;
  /** Time the session had left before this refresh (ms); 0 when refused, ≤ 0 when it had expired and was revived. */
  leftMs: number;
}

export type NavigateReply =
  | { status: "ok"; expiresAtMs: number; session: StoredSession; leavesFrom: boolean; seq: number }
  | { status: "not_found" }
  | { status: "too_many_rooms"; rooms: number };

export interface SessionScripts {
  open(a: SessionOpenArgs): Promise<SessionOpenReply>;
  /** A live session of this owner, without refreshing it; `startLeave` also takes the session's next call number. */
  check(ref: SessionRef, startLeave?: boolean): Promise<{ status: "ok"; session: StoredSession; seq: number } | { status: "not_found" }>;
  /** Unlists a room unless a call later than `seq` listed it again (`relisted`). */
  leaveRoom(ref: SessionRef & { quotaKey: string }, room: string, seq: number): Promise<(typeof LEAVE_ROOM)[keyof typeof LEAVE_ROOM]>;
  navigate(ref: SessionRef, a: { fromRoom: string; toRoom: string; metadataJson: string }): Promise<NavigateReply>;
  /** Starts the grace of a session recorded for `nodeId` (untouched when another node attached it since). */
  release(ref: SessionRef, graceMs: number, nodeId: string): Promise<(typeof RELEASE)[keyof typeof RELEASE]>;
  setNode(ref: SessionRef, nodeId: string): Promise<(typeof SET_NODE)[keyof typeof SET_NODE]>;
  /**
   * Refreshes entries of one bucket in order (the batcher groups them). With `revive`, a session that
   * expired but was not claimed by a reaper is refreshed too (after a store outage, outage-guard.ts).
   */
  heartbeat(bucket: number, entries: readonly HeartbeatEntry[], revive?: boolean): Promise<HeartbeatReply[]>;
  /**
   * Claims expired sessions (and stale claims) of a bucket: `expiredNow` just expired, `sids` every
   * claim. Nothing is claimed when the script runs after `deadline` (script time; see outage-guard.ts).
   */
  claimExpired(bucket: number, deadline: number): Promise<{ expiredNow: number; sids: string[] }>;
  /** `quotaKey`: the session's (standalone: removed from its quota set here); null when its record is gone. */
  reapDone(sid: string, quotaKey: string | null): Promise<(typeof REAP_DONE)[keyof typeof REAP_DONE]>;
  /** Cluster: reserves a new session's place in its quota set (max 0: always), or refuses (lib/quota.lua). */
  quotaAdmit(quotaKey: string, sid: string, max: number): Promise<{ status: "ok" } | { status: "quota_full"; count: number; due: string[] }>;
  /** Applies the checks of due quota entries: gone sessions leave the set, live ones are next checked later. Returns how many left. */
  quotaRepair(quotaKey: string, checked: readonly { sid: string; live: boolean }[]): Promise<number>;
  /** Claims a live session for a kick; `nodeId` ('' = any) must be the node it is recorded for. */
  kick(sid: string, nodeId: string): Promise<(typeof KICK)[keyof typeof KICK]>;
  /** An activity signal: the session's last activity and away deadline; its rooms (whose members then carry `lastActiveMs`). */
  stamp(sid: string): Promise<{ status: "stamped"; lastActiveMs: number; session: StoredSession; rooms: string[] } | { status: "not_found" }>;
  /** Records a managed room's away_after_ms on the session (0 = none) and recomputes its threshold; the record when it changed. */
  roomAway(sid: string, room: string, ms: number): Promise<{ status: (typeof ROOM_AWAY)[keyof typeof ROOM_AWAY]; session: StoredSession | null }>;
  /** The away sweep of one bucket: the sessions it made away (id, record after the change). */
  awayDue(bucket: number): Promise<{ sid: string; session: StoredSession }[]>;
}

export function createSessionScripts(c: ScriptContext): SessionScripts {
  const bucketOf = (sid: string) => c.keys.bucket(c.keys.bucketOf(sid));
  const sessionKeys = (sid: string) => {
    const b = bucketOf(sid);
    return [b.expiry, b.sessions, c.keys.sessionRooms(sid), b.owners, b.seqs];
  };
  /** Standalone: the quota set; Cluster: a key of the session's slot the script leaves alone. */
  const quotaSetOr = (quotaKey: string | null, b: { owners: string }) => (c.cluster || quotaKey === null ? b.owners : c.keys.quota(quotaKey));
  const inScript = (quotaKey: string | null) => (c.cluster || quotaKey === null ? "" : "1");
  const openKeys = (sid: string, quotaKey: string) => {
    const b = bucketOf(sid);
    return [b.expiry, b.sessions, c.keys.sessionRooms(sid), b.owners, b.requests, b.requestsExpiry, b.seqs, quotaSetOr(quotaKey, b)];
  };
  const ttl = c.timings.sessionTtlMs;
  const checkAfter = QUOTA_CHECK_AFTER_TTLS * ttl;
  const maxRooms = c.limits.maxRoomsPerSession;
  return {
    async open(a) {
      const quotaKey = a.quotaKey ?? a.owner;
      const quota = a.mode === "new" ? [inScript(quotaKey), a.maxSessions ?? 0, checkAfter] : ["", 0, checkAfter];
      const args = [a.mode, a.sid, a.owner, a.arg, c.nowArg(), ttl, a.room, a.metadataJson, maxRooms, a.nodeId, a.requestField ?? "", a.quotaKey ?? "", ...quota];
      const r = new ScriptReply("sessionOpen", await c.run("sessionOpen", openKeys(a.sid, quotaKey), args));
      const status = r.status(0, OPEN);
      if (status === "quota_full") return { status, count: r.int(1), due: r.array(2).map(String) };
      if (status === "ok") return { status, expiresAtMs: r.int(1), session: decodeSession(r.str(2)), seq: r.int(3) };
      if (status === "request_hit") return { status, sessionId: r.str(2) };
      if (status === "too_many_rooms") return { status, rooms: r.int(1) + 1 };
      return { status };
    },
    async check(ref, startLeave = false) {
      const b = bucketOf(ref.sessionId);
      const args = [ref.sessionId, ref.ownerKey, c.nowArg(), startLeave ? "1" : "0"];
      const r = new ScriptReply("sessionCheck", await c.run("sessionCheck", [b.expiry, b.sessions, b.seqs], args));
      const status = r.status(0, CHECK);
      return status === "ok" ? { status, session: decodeSession(r.str(1)), seq: r.int(2) } : { status };
    },
    async leaveRoom(ref, room, seq) {
      const b = bucketOf(ref.sessionId);
      const args = [ref.sessionId, ref.ownerKey, c.nowArg(), room, seq, inScript(ref.quotaKey)];
      const keys = [...sessionKeys(ref.sessionId), quotaSetOr(ref.quotaKey, b)];
      const r = new ScriptReply("sessionLeaveRoom", await c.run("sessionLeaveRoom", keys, args));
      return r.status(0, LEAVE_ROOM);
    },
    async navigate(ref, a) {
      const b = bucketOf(ref.sessionId);
      const keys = [b.expiry, b.sessions, c.keys.sessionRooms(ref.sessionId), b.seqs];
      const args = [ref.sessionId, ref.ownerKey, c.nowArg(), ttl, a.fromRoom, a.toRoom, a.metadataJson, maxRooms];
      const r = new ScriptReply("sessionNavigate", await c.run("sessionNavigate", keys, args));
      const status = r.status(0, NAVIGATE);
      if (status === "ok") return { status, expiresAtMs: r.int(1), session: decodeSession(r.str(2)), leavesFrom: r.int(3) === 1, seq: r.int(4) };
      if (status === "too_many_rooms") return { status, rooms: r.int(1) };
      return { status };
    },
    async release(ref, graceMs, nodeId) {
      const b = bucketOf(ref.sessionId);
      const r = new ScriptReply("sessionRelease", await c.run("sessionRelease", [b.expiry, b.sessions], [ref.sessionId, ref.ownerKey, c.nowArg(), graceMs, nodeId]));
      return r.status(0, RELEASE);
    },
    async setNode(ref, nodeId) {
      const b = bucketOf(ref.sessionId);
      const r = new ScriptReply("sessionSetNode", await c.run("sessionSetNode", [b.expiry, b.sessions], [ref.sessionId, ref.ownerKey, nodeId, c.nowArg()]));
      return r.status(0, SET_NODE);
    },
    async heartbeat(bucket, entries, revive = false) {
      const b = c.keys.bucket(bucket);
      const args: (string | number)[] = [c.nowArg(), ttl, revive ? "1" : "0"];
      // Not the bare owner key: '' is the anonymous owner, which must be checked like any other.
      for (const e of entries) args.push(e.sid, e.owner === null ? "*" : `o:${e.owner}`, e.activity, e.ttlMs);
      const r = new ScriptReply("sessionsHeartbeat", await c.run("sessionsHeartbeat", [b.expiry, b.sessions], args));
      const out: HeartbeatReply[] = [];
      for (let i = 0; i < entries.length; i++) {
        const changed = r.str(i * 4 + 2);
        out.push({ status: r.status(i * 4, HEARTBEAT), expiresAtMs: r.int(i * 4 + 1), changed: changed === "" ? null : decodeSession(changed), leftMs: r.int(i * 4 + 3) });
      }
      return out;
    },
    async claimExpired(bucket, deadline) {
      const b = c.keys.bucket(bucket);
      const keys = [b.expiry, b.reaping, b.requests, b.requestsExpiry];
      const r = new ScriptReply("sessionsClaimExpired", await c.run("sessionsClaimExpired", keys, [c.nowArg(), REAP_CLAIM_MS, REAP_BATCH, deadline]));
      return { expiredNow: r.int(0), sids: r.strings(1) };
    },
    async reapDone(sid, quotaKey) {
      const b = bucketOf(sid);
      const keys = [b.reaping, b.sessions, c.keys.sessionRooms(sid), b.owners, b.seqs, quotaSetOr(quotaKey, b)];
      const r = new ScriptReply("sessionReapDone", await c.run("sessionReapDone", keys, [sid, inScript(quotaKey)]));
      return r.status(0, REAP_DONE);
    },
    async quotaAdmit(quotaKey, sid, max) {
      const r = new ScriptReply("quotaAdmit", await c.run("quotaAdmit", [c.keys.quota(quotaKey)], [sid, c.nowArg(), max, checkAfter]));
      return r.int(0) === 1 ? { status: "ok" } : { status: "quota_full", count: r.int(1), due: r.array(2).map(String) };
    },
    async quotaRepair(quotaKey, checked) {
      const args: (string | number)[] = [c.nowArg(), checkAfter];
      for (const e of checked) args.push(e.sid, e.live ? "1" : "0");
      return new ScriptReply("quotaRepair", await c.run("quotaRepair", [c.keys.quota(quotaKey)], args)).int(0);
    },
    async stamp(sid) {
      const b = bucketOf(sid);
      const r = new ScriptReply("sessionStamp", await c.run("sessionStamp", [b.expiry, b.sessions, b.away, c.keys.sessionRooms(sid)], [sid, c.nowArg()]));
      if (r.status(0, STAMP) === "not_found") return { status: "not_found" };
      return { status: "stamped", lastActiveMs: r.int(1), session: decodeSession(r.str(2)), rooms: r.strings(3) };
    },
    async roomAway(sid, room, ms) {
      const b = bucketOf(sid);
      const r = new ScriptReply("sessionRoomAway", await c.run("sessionRoomAway", [b.expiry, b.sessions, b.away], [sid, room, ms, c.nowArg()]));
      const status = r.status(0, ROOM_AWAY);
      return { status, session: status === "changed" ? decodeSession(r.str(1)) : null };
    },
    async awayDue(bucket) {
      const b = c.keys.bucket(bucket);
      const r = new ScriptReply("sessionsAwayDue", await c.run("sessionsAwayDue", [b.away, b.sessions, b.expiry], [c.nowArg(), AWAY_BATCH]));
      const flat = r.strings(0);
      const out: { sid: string; session: StoredSession }[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ sid: flat[i]!, session: decodeSession(flat[i + 1]!) });
      return out;
    },
    async kick(sid, nodeId) {
      const b = bucketOf(sid);
      const r = new ScriptReply("sessionKick", await c.run("sessionKick", [b.expiry, b.sessions, b.reaping], [sid, c.nowArg(), REAP_CLAIM_MS, nodeId]));
      return r.status(0, KICK);
    },
  };
}
