import type { JsonObject } from "@bufbuild/protobuf";
import type { Activity, PresenceCursor, RoomViewState } from "./types.js";

/**
 * The Liveblocks-style reading of a room: every other connection with its user, its typed presence
 * and its cursor (`others`), and this client's own connection (`self`). Derived from a complete
 * view; an `Other` object is reused from the previous derivation while nothing about that
 * connection changed, so selectors that return parts of it stay referentially stable.
 */
export interface Other {
  connectionId: string;
  userId: string;
  name: string;
  avatarUrl: string;
  /** The user's metadata (token `meta` claim). */
  info: Record<string, string>;
  /** This connection's metadata in the room. */
  metadata: Record<string, string>;
  /** Typed presence of this connection (`setPresence` on its client). */
  presence: JsonObject;
  activity: Activity;
  lastActiveMs: number;
  /** Its latest cursor in the room, or null. */
  cursor: PresenceCursor | null;
}

export interface Derived {
  view: RoomViewState | null;
  others: readonly Other[];
  self: Other | null;
}

const EMPTY: readonly Other[] = Object.freeze([]);

function same(a: Other, b: Other): boolean {
  return (
    a.userId === b.userId &&
    a.name === b.name &&
    a.avatarUrl === b.avatarUrl &&
    a.activity === b.activity &&
    a.lastActiveMs === b.lastActiveMs &&
    a.cursor === b.cursor &&
    a.info === b.info &&
    a.metadata === b.metadata &&
    JSON.stringify(a.presence) === JSON.stringify(b.presence)
  );
}

/** Others and self of `view`, reusing unchanged `Other` objects of `previous`. */
export function deriveOthers(view: RoomViewState | null, previous: Derived | null): Derived {
  if (!view) return { view, others: EMPTY, self: null };
  if (previous && previous.view === view) return previous;
  const before = new Map<string, Other>();
  for (const o of previous?.others ?? []) before.set(o.connectionId, o);
  if (previous?.self) before.set(previous.self.connectionId, previous.self);
  const cursors = new Map(view.cursors.map((c) => [c.connectionId, c]));
  const others: Other[] = [];
  let self: Other | null = null;
  for (const u of view.users) {
    for (const c of u.connections) {
      const prevCursor = before.get(c.connectionId)?.cursor ?? null;
      const cur = cursors.get(c.connectionId) ?? null;
      const next: Other = {
        connectionId: c.connectionId,
        userId: u.userId,
        name: u.name,
        avatarUrl: u.avatarUrl,
        info: u.metadata,
        metadata: c.metadata,
        presence: c.presence,
        activity: c.activity,
        lastActiveMs: c.lastActiveMs,
        cursor: cur && prevCursor && cur.updatedAtMs === prevCursor.updatedAtMs && cur.position.x === prevCursor.position.x && cur.position.y === prevCursor.position.y ? prevCursor : cur,
      };
      const old = before.get(c.connectionId);
      const o = old && same(old, next) ? old : next;
      if (c.isSelf) self = o;
      else others.push(o);
    }
  }
  return { view, others: others.length === 0 ? EMPTY : others, self };
}
