import type { ActivityKind, ActivityQuery, ActivityRecord, PageCursor } from "../../core/activity.js";

/**
 * SQL text and row mapping of `presence.activity`, shared by the store's queries. Filters are
 * always parameters; only column lists and fixed fragments are spliced into the text.
 */

export const ACTIVITY_COLUMNS =
  "seq, event_key, at_ms, kind, room, user_id, connection_id, reason, node_id, remote_addr, user_agent, epoch, version, invisible, users, connections, anonymous, detail";

export interface ActivityRow {
  seq: string | number;
  event_key: string;
  at_ms: string | number;
  kind: string;
  room: string;
  user_id: string;
  connection_id: string;
  reason: string;
  node_id: string;
  remote_addr: string;
  user_agent: string;
  epoch: string;
  version: string | number;
  invisible: boolean;
  users: number;
  connections: number;
  anonymous: number;
  detail: Record<string, string | number | boolean> | string;
}

/** A stored row as the domain sees it, with its sequence number (the keyset cursor's tiebreak). */
export function recordOf(r: ActivityRow): ActivityRecord & { seq: number } {
  return {
    seq: Number(r.seq),
    key: r.event_key,
    timeMs: Number(r.at_ms),
    kind: r.kind as ActivityKind,
    room: r.room,
    userId: r.user_id,
    connectionId: r.connection_id,
    reason: r.reason,
    nodeId: r.node_id,
    remoteAddr: r.remote_addr,
    userAgent: r.user_agent,
    epoch: r.epoch,
    version: Number(r.version),
    invisible: r.invisible,
    users: Number(r.users),
    connections: Number(r.connections),
    anonymous: Number(r.anonymous),
    detail: typeof r.detail === "string" ? (JSON.parse(r.detail) as ActivityRecord["detail"]) : r.detail,
  };
}

/**
 * One multi-row INSERT for a batch: every column is sent as one array parameter and expanded by
 * `unnest`, so the statement text is the same for any batch size (prepared once by PostgreSQL)
 * and a batch is one round trip. Rows whose key exists are skipped (ON CONFLICT DO NOTHING).
 */
export function insertBatch(rows: readonly ActivityRecord[], recordedMs: number): { text: string; params: unknown[] } {
  const col = <T>(f: (r: ActivityRecord) => T) => rows.map(f);
  return {
    text: `WITH ins AS (
  INSERT INTO presence.activity (event_key, at_ms, kind, room, user_id, connection_id, reason, node_id, remote_addr, user_agent, epoch, version, invisible, users, connections, anonymous, detail, recorded_ms)
  SELECT t.*, $18::bigint FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::boolean[], $14::int[], $15::int[], $16::int[], $17::jsonb[]) AS t
  ON CONFLICT (event_key) DO NOTHING
  RETURNING 1
) SELECT count(*)::int AS inserted FROM ins`,
    params: [
      col((r) => r.key),
      col((r) => r.timeMs),
      col((r) => r.kind),
      col((r) => r.room),
      col((r) => r.userId),
      col((r) => r.connectionId),
      col((r) => r.reason),
      col((r) => r.nodeId),
      col((r) => r.remoteAddr),
      col((r) => r.userAgent),
      col((r) => r.epoch),
      col((r) => r.version),
      col((r) => r.invisible),
      col((r) => r.users),
      col((r) => r.connections),
      col((r) => r.anonymous),
      col((r) => JSON.stringify(r.detail)),
      recordedMs,
    ],
  };
}

/** Escapes LIKE's wildcards so a room prefix matches literally. */
const likePrefix = (prefix: string) => prefix.replace(/[\\%_]/g, (c) => "\\" + c) + "%";

/** WHERE clause and parameters of a query, after an optional keyset cursor. */
export function whereOf(q: ActivityQuery, after: PageCursor | undefined): { clause: string; params: unknown[] } {
  const params: unknown[] = [q.sinceMs, q.untilMs];
  const conds = ["at_ms >= $1", "at_ms < $2"];
  const add = (cond: (n: string) => string, value: unknown) => {
    params.push(value);
    conds.push(cond(`$${params.length}`));
  };
  if (q.room && "exact" in q.room) add((n) => `room = ${n}`, q.room.exact);
  if (q.room && "prefix" in q.room && q.room.prefix !== "") add((n) => `room LIKE ${n}`, likePrefix(q.room.prefix));
  if (q.userId !== undefined) add((n) => `user_id = ${n}`, q.userId);
  if (q.kinds.length > 0) add((n) => `kind = ANY(${n}::text[])`, q.kinds);
  if (!q.includeInvisible) conds.push("NOT invisible");
  if (after) {
    params.push(after.timeMs, after.seq);
    const [t, s] = [`$${params.length - 1}`, `$${params.length}`];
    conds.push(q.newestFirst ? `(at_ms, seq) < (${t}, ${s})` : `(at_ms, seq) > (${t}, ${s})`);
  }
  return { clause: conds.join(" AND "), params };
}

/** The ORDER BY of a query: chronological, or newest first. */
export const orderOf = (q: ActivityQuery) => (q.newestFirst ? "at_ms DESC, seq DESC" : "at_ms, seq");
