/**
 * The durable activity log (design §10 "History"): what is recorded of presence, and the queries
 * that read it back. Pure types and rules; the HistoryStore port (src/history/) keeps the rows.
 *
 * Recorded: every committed membership event (join; leave with its reason; update; anonymous
 * arrivals and departures as counts only, never an id), user status changes and admin actions,
 * each by the node that committed it. Not recorded: cursors and typing. A `gap` row says that rows
 * were dropped (the write queue overflowed while the database was unreachable).
 */

export const ACTIVITY_KINDS = ["join", "leave", "update", "anonymous", "status", "admin", "gap"] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];

/** Kinds that are membership events of a room, stamped with (epoch, version). */
export const MEMBERSHIP_KINDS: readonly ActivityKind[] = ["join", "leave", "update", "anonymous"];

/** One row of the activity log. Strings are "" and numbers 0 when they do not apply. */
export interface ActivityRecord {
  /**
   * Idempotency key: writing a row whose key is already stored does nothing, so a retried batch
   * never duplicates. Membership events: derived from (room, epoch, version); other rows: unique
   * per recording node and row.
   */
  key: string;
  /** Server commit time (ms since the Unix epoch). */
  timeMs: number;
  kind: ActivityKind;
  /** The room (membership events, admin kicks of one room's member); "" otherwise. */
  room: string;
  /** The user (authenticated members; the subject of a status change; the admin of an admin action); "" for anonymous. */
  userId: string;
  /** Public connection id of the member (never the session id). */
  connectionId: string;
  /**
   * leave: left | timeout | kicked | purged; status: online | away | offline | custom_status |
   * invisible | visible; admin: kick | purge_node; gap: overflow | shutdown.
   */
  reason: string;
  /** The node that committed (or, for gaps, dropped) the row. */
  nodeId: string;
  /** Remote address and user agent of the client, where the transport knows them. */
  remoteAddr: string;
  userAgent: string;
  epoch: string;
  /** Room version after the event; 0 for rows that are not membership events. */
  version: number;
  /** The user was invisible: such rows are returned only to admins. */
  invisible: boolean;
  /** Room counts after a membership event (0 otherwise). */
  users: number;
  connections: number;
  anonymous: number;
  /**
   * Small free-form detail: display name on joins, anonymous deltas, the custom status text, the
   * admin's target, a gap's `dropped` count and `untilMs`.
   */
  detail: Record<string, string | number | boolean>;
}

/** A filter on the log, as ListActivity and the export take it (validated by the history service). */
export interface ActivityQuery {
  /** Exact room, or a prefix pattern ending in `*` ("/docs/*"); undefined: every room. */
  room?: RoomPattern;
  /** Only rows of this user. */
  userId?: string;
  /** [sinceMs, untilMs) on the commit time. */
  sinceMs: number;
  untilMs: number;
  /** Empty: every kind. */
  kinds: ActivityKind[];
  /** Rows of invisible users are left out unless this is set (admins). */
  includeInvisible: boolean;
  newestFirst: boolean;
}

export type RoomPattern = { exact: string } | { prefix: string };

/** Parses a room pattern: a trailing `*` makes it a prefix match; no other wildcard exists. */
export function parseRoomPattern(value: string): RoomPattern {
  return value.endsWith("*") ? { prefix: value.slice(0, -1) } : { exact: value };
}

/** Where a page ended: the last row's commit time and its store-assigned sequence number. */
export interface PageCursor {
  timeMs: number;
  seq: number;
}

export interface ActivityPage {
  rows: ActivityRecord[];
  /** Cursor after the last row, or undefined when the range is exhausted. */
  next?: PageCursor;
}

/** Who was in a room at one moment, reconstructed from the log. */
export interface RoomAt {
  room: string;
  atMs: number;
  /** The epoch in force at that moment ("" when the room had no recorded event before it). */
  epoch: string;
  /** Version of the last event at or before the moment. */
  version: number;
  users: number;
  connections: number;
  anonymous: number;
  /** Authenticated connections present, oldest join first. */
  members: { userId: string; connectionId: string; joinedAtMs: number; name: string; invisible: boolean }[];
  /** Gap rows (dropped writes) between the epoch's start and the moment: the answer may be incomplete. */
  gaps: number;
}

/** Statistics of one room over [sinceMs, untilMs) (untilMs capped at now). */
export interface RoomStatistics {
  room: string;
  sinceMs: number;
  untilMs: number;
  /** Distinct authenticated users present at some moment of the range. */
  uniqueUsers: number;
  /** Connections present at some moment of the range (authenticated and anonymous). */
  sessions: number;
  /** Sum over time of the connections present (connection-milliseconds). */
  totalPresenceMs: number;
  /** totalPresenceMs / sessions (0 without sessions). */
  averagePresenceMs: number;
  peakConnections: number;
  /** When the peak was first reached (the range start if it was already there). */
  peakAtMs: number;
  /** Joins (authenticated and anonymous arrivals) per UTC hour that has any, oldest first. */
  joinsPerHour: { hourStartMs: number; joins: number }[];
  /** Gap rows (dropped writes) in the range: the figures may be low. */
  gaps: number;
}

/** What a ListActivity page token carries: where the last page ended, and the range it resolved. */
export interface PageToken {
  cursor: PageCursor;
  sinceMs: number;
  untilMs: number;
}

/**
 * The page token of ListActivity: an opaque, versioned encoding of the cursor, the resolved time
 * range (so "until now" stays the same instant across pages) and a hash of the request's filters.
 */
export function encodePageToken(t: PageToken, queryHash: string): string {
  return Buffer.from(JSON.stringify({ v: 1, t: t.cursor.timeMs, s: t.cursor.seq, a: t.sinceMs, b: t.untilMs, q: queryHash })).toString("base64url");
}

/**
 * Decodes a page token made by {@link encodePageToken} for the same filters; undefined when it is
 * malformed, of another version, or made for other filters. A token only positions a reader
 * inside the result of its own query (the filters and the caller's rights come from the request,
 * never from the token), so a hand-made token can skip rows but never reveal rows the query would
 * not return.
 */
export function decodePageToken(token: string, queryHash: string): PageToken | undefined {
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof o !== "object" || o === null) return undefined;
  const { v, t, s, a, b, q } = o as Record<string, unknown>;
  const int = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (v !== 1 || q !== queryHash || !int(t) || !int(s) || !int(a) || !int(b) || b < a) return undefined;
  return { cursor: { timeMs: t, seq: s }, sinceMs: a, untilMs: b };
}
