import type { JsonObject } from "@bufbuild/protobuf";
import type { Cursor, Member, RoomView, UserPresence } from "../../../src/core/presence-event.js";
import { presenceToObject } from "../../../src/core/typed-presence.js";
import type { JoinEvent, LeaveEvent, PresenceConnection, PresenceCursor, PresenceUser, RoomViewState, TypingUser } from "./types.js";

/**
 * Projections of the tracker's domain view onto the SDK's public types, marking this client's own
 * connection (`isSelf`), and the diff between two complete views that a resync snapshot turns
 * into join/leave events (so applications see who came and went while the client was away).
 */

const NO_PRESENCE: JsonObject = Object.freeze({}) as JsonObject;

const connectionOf = (m: Member, selfConnectionId: string | undefined): PresenceConnection => ({
  connectionId: m.connectionId,
  activity: m.activity,
  joinedAtMs: m.joinedAtMs,
  metadata: m.metadata,
  presence: m.presence ? presenceToObject(m.presence) : NO_PRESENCE,
  lastActiveMs: m.lastActiveMs ?? m.joinedAtMs,
  isSelf: m.connectionId === selfConnectionId,
});

/** A user in public form; the user is `isSelf` when one connection is this client's or the id is this client's user. */
export function userOf(u: UserPresence, selfConnectionId: string | undefined, selfUserId?: string): PresenceUser {
  const connections = u.connections.map((c) => connectionOf(c, selfConnectionId));
  return {
    userId: u.user.userId,
    name: u.user.name,
    avatarUrl: u.user.avatarUrl,
    metadata: u.user.metadata,
    activity: u.activity,
    connections,
    isSelf: connections.some((c) => c.isSelf) || (selfUserId !== undefined && u.user.userId === selfUserId),
  };
}

const cursorOf = (c: Cursor, names: Map<string, string>, selfConnectionId: string | undefined): PresenceCursor => ({
  connectionId: c.connectionId,
  userId: c.userId,
  name: names.get(c.userId) ?? "",
  position: { ...c.position },
  updatedAtMs: c.updatedAtMs,
  isSelf: c.connectionId === selfConnectionId,
});

/** The public view of a tracker view. `selfUserId` marks this client's typing entry. */
export function toViewState(v: RoomView, selfConnectionId: string | undefined, selfUserId: string | undefined): RoomViewState {
  const users = v.users.map((u) => userOf(u, selfConnectionId, selfUserId));
  const names = new Map(users.map((u) => [u.userId, u.name]));
  const typing: TypingUser[] = v.typing.map((t) => ({ userId: t.userId, name: names.get(t.userId) ?? "", isSelf: t.userId === selfUserId }));
  return {
    room: v.room,
    epoch: v.epoch,
    version: v.version,
    users,
    userCount: v.counts.users,
    anonymousCount: v.counts.anonymous,
    connectionCount: v.counts.connections,
    membersOmitted: v.membersOmitted,
    typing,
    cursors: v.cursors.map((c) => cursorOf(c, names, selfConnectionId)),
  };
}

/** Cursors of a batch, in public form. */
export function cursorsOf(cursors: Cursor[], v: RoomView, selfConnectionId: string | undefined): PresenceCursor[] {
  const names = new Map(v.users.map((u) => [u.user.userId, u.user.name]));
  return cursors.map((c) => cursorOf(c, names, selfConnectionId));
}

/**
 * Join and leave events that turn view `a` into view `b` (both complete), per connection, with
 * user-level flags computed from the two views. Used when a fresh snapshot replaces a view.
 */
export function diffViews(room: string, a: RoomView, b: RoomView, selfConnectionId: string | undefined): { joins: JoinEvent[]; leaves: LeaveEvent[] } {
  const index = (v: RoomView) => {
    const conns = new Map<string, UserPresence>();
    for (const u of v.users) for (const c of u.connections) conns.set(c.connectionId, u);
    return { conns, users: new Set(v.users.map((u) => u.user.userId)) };
  };
  const before = index(a);
  const after = index(b);
  const leaves: LeaveEvent[] = [];
  for (const [connectionId, u] of before.conns) {
    if (after.conns.has(connectionId)) continue;
    const userId = u.user.userId;
    leaves.push({ room, userId, connectionId, reason: "resync", lastOfUser: !after.users.has(userId), isSelf: connectionId === selfConnectionId, resync: true });
  }
  const joins: JoinEvent[] = [];
  for (const [connectionId, u] of after.conns) {
    if (before.conns.has(connectionId)) continue;
    const user = userOf(u, selfConnectionId);
    const connection = user.connections.find((c) => c.connectionId === connectionId)!;
    joins.push({ room, user, connection, firstOfUser: !before.users.has(user.userId), isSelf: connection.isSelf, resync: true });
  }
  return { joins, leaves };
}
