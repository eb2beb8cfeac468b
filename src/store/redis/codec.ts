import type { MemberIdentity } from "../../core/identity.js";
import type { RoomEndedInfo, RoomBroadcastMessage, Activity, CursorBatch, Member, PresenceEvent, StoreMessage } from "../../core/presence-event.js";
import type { UserStatusRecord } from "../../core/user-status.js";

/**
 * JSON shapes stored in Redis and published on channels, and their decoding into domain values.
 * Lua's cjson encodes an empty table as `{}`, so decoders accept `{}` where an array is expected.
 */

/** A room member as stored in the members hash (and embedded in events). */
export interface StoredMember {
  c: string;
  s: string;
  k: "u" | "a";
  u?: { userId: string; name: string; avatarUrl: string; metadata: Record<string, string> };
  a?: string;
  md: Record<string, string>;
  /** Canonical metadata and typed presence (sorted keys) to compare them inside Lua. */
  mk: string;
  /** Typed presence: top-level key → JSON text (a table of strings for Lua's cjson). */
  pr?: Record<string, string>;
  act: Activity;
  j?: number;
  /** The session's last activity signal when the entry was written or last stamped (ms); absent: j. */
  la?: number;
  /** The number of the session call that wrote the entry (fencing, lua/roomJoin). */
  q?: number;
}

/** A session as stored in its bucket hash. */
export interface StoredSession {
  sec: string;
  c: string;
  o: string;
  /** The quota key it counts against when not its owner key (anonymous sessions: `a:<address>`). */
  q?: string;
  id: MemberIdentity;
  act: Activity;
  /** The node that created, attached or reclaimed the session last (absent on sessions of older versions). */
  n?: string;
  /** Scopes the session carries besides the global one (scopes.proto); absent = none. */
  sc?: string[];
  /** Silent this long → away (ms; absent or 0 = never): the smallest of `ab` and the `ra` values. */
  aw?: number;
  /** The threshold of its scopes, else the default (ms, 0 = never), fixed at creation; absent on older sessions (then `aw`). */
  ab?: number;
  /** room → away_after_ms of the managed rooms it is in that have one (lua/lib/sessions.lua combineAway). */
  ra?: Record<string, number>;
  /** Last activity signal (ms); absent on sessions of older versions. */
  la?: number;
}

/** Every scope a user's session is in: the global scope and its own. Anonymous sessions: none. */
export function sessionScopes(s: StoredSession): string[] {
  return s.id.kind === "user" ? ["", ...(s.sc ?? [])] : [];
}

/** A session record read from its bucket hash (or returned by a script). */
export function decodeSession(json: string): StoredSession {
  return JSON.parse(json) as StoredSession;
}

const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
const obj = (v: unknown): Record<string, string> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, string>) : {});

export function canonicalMetadata(md: Record<string, string>): string {
  return JSON.stringify(Object.keys(md).sort().map((k) => [k, md[k]]));
}

export function encodeMember(
  connectionId: string,
  sessionId: string,
  identity: MemberIdentity,
  metadata: Record<string, string>,
  activity: Activity,
  presence: Record<string, string> = {},
  lastActiveMs?: number,
): string {
  const hasPresence = Object.keys(presence).length > 0;
  // `mk` is what roomJoin compares: a presence change is an update like a metadata change.
  const mk = hasPresence ? `${canonicalMetadata(metadata)}\u0001${canonicalMetadata(presence)}` : canonicalMetadata(metadata);
  const m: StoredMember = { c: connectionId, s: sessionId, k: identity.kind === "user" ? "u" : "a", md: metadata, mk, act: activity };
  if (hasPresence) m.pr = presence;
  if (lastActiveMs !== undefined) m.la = lastActiveMs;
  if (identity.kind === "user") m.u = identity.user;
  else m.a = identity.anonymousId;
  return JSON.stringify(m);
}

export function identityKey(identity: MemberIdentity): string {
  return identity.kind === "user" ? `u:${identity.user.userId}` : `a:${identity.anonymousId}`;
}

/** A session's room listing (`<call number>\t<metadata JSON>`; see lua/lib/sessions.lua): its metadata. */
export function decodeListing(value: string): Record<string, string> {
  const tab = value.indexOf("\t");
  return obj(JSON.parse(tab < 0 ? value : value.slice(tab + 1)));
}

/** The session owning a stored member (the members hash value). */
export function decodeMemberRef(json: string): { sessionId: string } {
  return { sessionId: (JSON.parse(json) as StoredMember).s };
}

export function decodeMember(raw: StoredMember): Member {
  const identity: MemberIdentity =
    raw.k === "u" && raw.u
      ? { kind: "user", user: { userId: raw.u.userId, name: raw.u.name ?? "", avatarUrl: raw.u.avatarUrl ?? "", metadata: obj(raw.u.metadata) } }
      : { kind: "anonymous", anonymousId: raw.a ?? "" };
  const presence = obj(raw.pr);
  const joinedAtMs = raw.j ?? 0;
  return { connectionId: raw.c, identity, metadata: obj(raw.md), activity: raw.act, joinedAtMs, lastActiveMs: raw.la ?? joinedAtMs, ...(Object.keys(presence).length > 0 ? { presence } : {}) };
}

/** Decodes a published room message (event, typing, cursors). */
export function decodeRoomMessage(json: string): StoreMessage | null {
  const m = JSON.parse(json) as { type: string; broadcast?: RoomBroadcastMessage; event?: Record<string, unknown>; typing?: StoreMessage & { type: "typing" } extends { typing: infer T } ? T : never; batch?: CursorBatch };
  if (m.type === "event" && m.event) return { type: "event", event: decodeEvent(m.event) };
  if (m.type === "typing" && m.typing) return { type: "typing", typing: m.typing };
  if (m.type === "broadcast" && m.broadcast) return { type: "broadcast", broadcast: m.broadcast };
  const ended = (m as unknown as { ended?: RoomEndedInfo }).ended;
  if (m.type === "ended" && ended) return { type: "ended", ended };
  if (m.type === "cursors" && m.batch) {
    return { type: "cursors", batch: { room: m.batch.room, cursors: arr(m.batch.cursors), removedConnectionIds: arr(m.batch.removedConnectionIds) } };
  }
  return null;
}

export function decodeEvent(e: Record<string, unknown>): PresenceEvent {
  const base = {
    room: e.room as string,
    epoch: e.epoch as string,
    version: Number(e.version),
    timeMs: Number(e.timeMs),
    counts: e.counts as PresenceEvent["counts"],
  };
  switch (e.kind) {
    case "joined": {
      const member = decodeMember(e.member as StoredMember);
      const user = member.identity.kind === "user" ? member.identity.user : { userId: "", name: "", avatarUrl: "", metadata: {} };
      return { ...base, kind: "joined", user, member, firstOfUser: e.firstOfUser === true };
    }
    case "updated": {
      const member = decodeMember(e.member as StoredMember);
      const user = member.identity.kind === "user" ? member.identity.user : { userId: "", name: "", avatarUrl: "", metadata: {} };
      return { ...base, kind: "updated", user, member };
    }
    case "left":
      return { ...base, kind: "left", userId: e.userId as string, connectionId: e.connectionId as string, reason: e.reason as "left", lastOfUser: e.lastOfUser === true };
    default:
      return { ...base, kind: "anonymous", viewersDelta: Number(e.viewersDelta), connectionsDelta: Number(e.connectionsDelta) };
  }
}

/** Decodes a published or stored user status. Others see `lastSeenMs` unless invisible. */
export function decodeStatus(json: string): UserStatusRecord {
  const r = JSON.parse(json) as UserStatusRecord;
  return {
    userId: r.userId,
    state: r.state,
    lastSeenMs: Number(r.lastSeenMs) || 0,
    customStatus: r.customStatus ?? "",
    invisible: r.invisible === true,
    visibleLastSeenMs: r.invisible === true ? Number(r.visibleLastSeenMs) || 0 : Number(r.lastSeenMs) || 0,
    ...(r.presenceOverride === "away" || r.presenceOverride === "online" ? { presenceOverride: r.presenceOverride } : {}),
  };
}

/** A user status from the user's hash (HGETALL). */
export function statusFromHash(userId: string, h: Record<string, string>): UserStatusRecord {
  let any = false;
  let online = false;
  for (const [k, v] of Object.entries(h)) {
    if (!k.startsWith("s:")) continue;
    any = true;
    if (v === "active") online = true;
  }
  const invisible = h.inv === "1";
  const lastSeenMs = Number(h.ls ?? 0);
  const ov = h.ov === "away" || h.ov === "online" ? h.ov : undefined;
  return {
    userId,
    state: !any ? "offline" : ov === "away" ? "away" : ov === "online" || online ? "online" : "away",
    ...(ov ? { presenceOverride: ov } : {}),
    lastSeenMs,
    customStatus: h.cs ?? "",
    invisible,
    visibleLastSeenMs: invisible ? Number(h.vls ?? 0) : lastSeenMs,
  };
}
