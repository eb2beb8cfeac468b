import type { Activity, CursorBatch, Member, PresenceEvent, RoomView, TypingEvent, UserPresence } from "./presence-event.js";

/**
 * A watcher-side replica of a room view: snapshot pages replace it, membership events apply only
 * as `version + 1` of the same epoch, typing and cursor messages update it without versions. Pure
 * (no I/O, no timers): the client SDK builds its live views with it, and server-side broadcasters
 * keep the current view of a room with it. `apply*` report "gap" when continuity is broken: the
 * owner must then ask for a fresh snapshot and must not show a partial view.
 */
export type ApplyResult = "applied" | "duplicate" | "gap";

export interface RoomViewTracker {
  /** The current view (complete once the last snapshot page arrived); null before that. */
  view(): RoomView | null;
  /** Feeds one snapshot page; the view is replaced when the `last` page arrives. */
  applySnapshotPage(page: RoomView, first: boolean, last: boolean, nowMs: number): void;
  /** Applies a membership event if it is the next one; "duplicate" for older versions, "gap" otherwise. */
  applyEvent(ev: PresenceEvent): ApplyResult;
  applyTyping(t: TypingEvent, nowMs: number): void;
  applyCursors(b: CursorBatch): void;
  /** Drops typing entries whose time has passed (receivers expire typing themselves). */
  expireTyping(nowMs: number): void;
}

export function createRoomViewTracker(): RoomViewTracker {
  let current: RoomView | null = null;
  let pending: RoomView | null = null;
  /** typing: userId → expiry (ms since epoch) on the receiver's clock. */
  let typingUntil = new Map<string, number>();

  const withTyping = (v: RoomView, nowMs: number): RoomView => ({
    ...v,
    typing: [...typingUntil].filter(([, until]) => until > nowMs).map(([userId, until]) => ({ userId, expiresInMs: until - nowMs })),
  });

  return {
    view: () => current,

    applySnapshotPage(page, first, last, nowMs) {
      if (first || !pending) pending = { ...page, users: [...page.users] };
      else pending = { ...pending, users: [...pending.users, ...page.users] };
      if (last) {
        current = pending;
        pending = null;
        typingUntil = new Map(current.typing.map((t) => [t.userId, nowMs + t.expiresInMs]));
      }
    },

    applyEvent(ev) {
      if (!current || ev.epoch !== current.epoch) return "gap";
      if (ev.version <= current.version) return "duplicate";
      if (ev.version !== current.version + 1) return "gap";
      current = { ...applyMembership(current, ev), version: ev.version, counts: ev.counts };
      return "applied";
    },

    applyTyping(t, nowMs) {
      if (!current) return;
      if (t.typing) typingUntil.set(t.userId, nowMs + t.expiresInMs);
      else typingUntil.delete(t.userId);
      current = withTyping(current, nowMs);
    },

    applyCursors(b) {
      if (!current) return;
      const byConn = new Map(current.cursors.map((c) => [c.connectionId, c]));
      for (const id of b.removedConnectionIds) byConn.delete(id);
      for (const c of b.cursors) byConn.set(c.connectionId, c);
      current = { ...current, cursors: [...byConn.values()] };
    },

    expireTyping(nowMs) {
      if (!current) return;
      for (const [u, until] of typingUntil) if (until <= nowMs) typingUntil.delete(u);
      current = withTyping(current, nowMs);
    },
  };
}

const activityOf = (connections: Member[]): Activity => (connections.some((c) => c.activity === "active") ? "active" : "away");

/** The view after one membership event (counts and version are set by the caller). */
function applyMembership(v: RoomView, ev: PresenceEvent): RoomView {
  switch (ev.kind) {
    case "joined":
    case "updated": {
      const users = [...v.users];
      const i = users.findIndex((u) => u.user.userId === ev.user.userId);
      if (i < 0) {
        users.push({ user: ev.user, activity: ev.member.activity, connections: [ev.member] });
      } else {
        const u = users[i]!;
        const others = u.connections.filter((c) => c.connectionId !== ev.member.connectionId);
        const existing = u.connections.findIndex((c) => c.connectionId === ev.member.connectionId);
        const connections = existing >= 0 ? u.connections.map((c) => (c.connectionId === ev.member.connectionId ? ev.member : c)) : [...others, ev.member];
        users[i] = { user: ev.user, activity: activityOf(connections), connections };
      }
      return { ...v, users };
    }
    case "left": {
      const users: UserPresence[] = [];
      for (const u of v.users) {
        if (u.user.userId !== ev.userId) {
          users.push(u);
          continue;
        }
        const connections = u.connections.filter((c) => c.connectionId !== ev.connectionId);
        if (connections.length > 0) users.push({ ...u, activity: activityOf(connections), connections });
      }
      const cursors = v.cursors.filter((c) => c.connectionId !== ev.connectionId);
      const typing = ev.lastOfUser ? v.typing.filter((t) => t.userId !== ev.userId) : v.typing;
      return { ...v, users, cursors, typing };
    }
    case "anonymous":
      return v;
  }
}
