import type { StoredSession } from "./codec.js";
import type { UserSettings } from "./user-scripts.js";

/**
 * What this node knows of live sessions it served, so that it can re-assert them if Redis loses
 * its data (I2): id, owner, record and rooms with their metadata. Entries not seen alive for one
 * TTL are forgotten (they are then never re-asserted), except while a transport of this node holds
 * the session (pinned between attach and release), even when refreshes failed during an outage.
 */
/** What this node knows of a live session, to re-assert it if Redis loses its data (I2). */
export interface KnownSession {
  sid: string;
  owner: string;
  session: StoredSession;
  rooms: Map<string, Record<string, string>>;
  /** room → the connection's typed presence there (member_presence.proto), for rooms where it has one. */
  presence: Map<string, Record<string, string>>;
  /** Last time this node saw the session alive; entries older than one TTL are forgotten. */
  seenAt: number;
  /** Transports of this node holding the session (attach − release): pinned sessions are never forgotten. */
  pins: number;
}


function setPresence(k: KnownSession, room: string, presence: Record<string, string> | undefined): void {
  if (presence && Object.keys(presence).length > 0) k.presence.set(room, presence);
  else k.presence.delete(room);
}

export class KnownSessions extends Map<string, KnownSession> {
  /** userId → the user's own settings as last seen by this node (custom status, invisible), for users of known sessions. */
  readonly settings = new Map<string, UserSettings>();

  /** Records (or refreshes) that `sid` is alive and in `room`, with its metadata and typed presence there. */
  remember(sid: string, owner: string, session: StoredSession, room: string, md: Record<string, string>, nowMs: number, presence?: Record<string, string>): void {
    let k = this.get(sid);
    if (!k) this.set(sid, (k = { sid, owner, session, rooms: new Map(), presence: new Map(), seenAt: 0, pins: 0 }));
    k.seenAt = nowMs;
    k.session = session;
    k.rooms.set(room, md);
    setPresence(k, room, presence);
  }

  /** The connection's typed presence in `room` changed (absent or empty: none). */
  presenceChanged(sid: string, room: string, presence: Record<string, string> | undefined): void {
    const k = this.get(sid);
    if (k?.rooms.has(room)) setPresence(k, room, presence);
  }

  /** The session left `room`. */
  left(sid: string, room: string): void {
    const k = this.get(sid);
    k?.rooms.delete(room);
    k?.presence.delete(room);
  }

  /** Forgets unpinned sessions last seen before `cutoffMs`, and the settings of users without known sessions. */
  forgetStale(cutoffMs: number): void {
    for (const [sid, k] of this) if (k.pins === 0 && k.seenAt < cutoffMs) this.delete(sid);
    const users = new Set<string>();
    for (const k of this.values()) if (k.session.id.kind === "user") users.add(k.session.id.user.userId);
    for (const userId of this.settings.keys()) if (!users.has(userId)) this.settings.delete(userId);
  }

  /** Keeps a user's settings when they are newer than what is known. */
  learn(userId: string, s: UserSettings): void {
    const known = this.settings.get(userId);
    if (!known || s.changedAtMs >= known.changedAtMs) this.settings.set(userId, s);
  }

  /** Sessions to re-assert: pinned ones, and the others seen since `cutoffMs`. */
  reassertable(cutoffMs: number): KnownSession[] {
    return [...this.values()].filter((k) => k.pins > 0 || k.seenAt >= cutoffMs);
  }
}
