import type { RoomAt, RoomStatistics } from "../../core/activity.js";
import type { SqlQuery } from "./sql-client.js";

/**
 * Point-in-time views and statistics of one room, computed from the log in SQL.
 *
 * Both rest on two facts of the log: membership events of a room are stamped with (epoch,
 * version), and each carries the room's counts after it (users, connections, anonymous). So the
 * connections present at any moment are the counts of the last event before it (exact, anonymous
 * viewers included, and self-correcting after a Redis data loss: the next epoch's events carry
 * fresh counts), and the authenticated members are the connections whose last event in the epoch
 * in force is not a leave.
 */

/** Membership rows of a room (joins, leaves, updates, anonymous counts) have version > 0. */
const MEMBERSHIP = "room = $1 AND version > 0";

export async function roomAt(q: SqlQuery, room: string, atMs: number, includeInvisible: boolean): Promise<RoomAt> {
  const [last] = await q.query<Record<string, unknown>>(
    `SELECT epoch, version, users, connections, anonymous FROM presence.activity
WHERE ${MEMBERSHIP} AND at_ms <= $2 ORDER BY at_ms DESC, version DESC LIMIT 1`,
    [room, atMs],
  );
  const empty: RoomAt = { room, atMs, epoch: "", version: 0, users: 0, connections: 0, anonymous: 0, members: [], gaps: 0 };
  if (!last) return { ...empty, gaps: await gapsBetween(q, -1, atMs) };
  const epoch = String(last.epoch);
  const version = Number(last.version);
  const members = await q.query<Record<string, unknown>>(
    `WITH ev AS (
  SELECT connection_id, user_id, kind, at_ms, version, invisible, detail FROM presence.activity
  WHERE ${MEMBERSHIP} AND epoch = $2 AND version <= $3 AND connection_id <> '' AND kind IN ('join', 'update', 'leave')
), last AS (SELECT DISTINCT ON (connection_id) * FROM ev ORDER BY connection_id, version DESC)
SELECT l.connection_id, l.user_id, l.invisible, coalesce(l.detail->>'name', '') AS name,
  coalesce((SELECT max(e.at_ms) FROM ev e WHERE e.connection_id = l.connection_id AND e.kind = 'join'), l.at_ms) AS joined_at
FROM last l WHERE l.kind <> 'leave' ${includeInvisible ? "" : "AND NOT l.invisible"}
ORDER BY joined_at, l.connection_id`,
    [room, epoch, version],
  );
  const [start] = await q.query<{ start: unknown }>(`SELECT min(at_ms) AS start FROM presence.activity WHERE ${MEMBERSHIP} AND epoch = $2`, [room, epoch]);
  return {
    room,
    atMs,
    epoch,
    version,
    users: Number(last.users),
    connections: Number(last.connections),
    anonymous: Number(last.anonymous),
    members: members.map((m) => ({
      userId: String(m.user_id),
      connectionId: String(m.connection_id),
      joinedAtMs: Number(m.joined_at),
      name: String(m.name),
      invisible: Boolean(m.invisible),
    })),
    gaps: await gapsBetween(q, Number(start?.start ?? atMs), atMs),
  };
}

export async function roomStatistics(q: SqlQuery, room: string, sinceMs: number, untilMs: number): Promise<RoomStatistics> {
  // The room's state entering the range (the last event before it, re-stamped at the range start:
  // ORDER BY must name the table's columns, not these aliases), then every event in it; each
  // segment lasts until the next event.
  const seq = `WITH ev AS (
  (SELECT $2::bigint AS at_ms, 0::bigint AS version, a.connections FROM presence.activity a
   WHERE a.room = $1 AND a.version > 0 AND a.at_ms < $2 ORDER BY a.at_ms DESC, a.version DESC LIMIT 1)
  UNION ALL
  SELECT at_ms, version, connections FROM presence.activity WHERE ${MEMBERSHIP} AND at_ms >= $2 AND at_ms < $3
), seg AS (
  SELECT at_ms, version, connections, coalesce(lead(at_ms) OVER (ORDER BY at_ms, version), $3::bigint) AS next_at FROM ev
)`;
  const [agg] = await q.query<Record<string, unknown>>(
    `${seq}
SELECT coalesce(sum(connections::bigint * (next_at - at_ms)), 0) AS total,
  coalesce(max(connections), 0) AS peak,
  (SELECT at_ms FROM seg ORDER BY connections DESC, at_ms, version LIMIT 1) AS peak_at,
  coalesce((SELECT connections FROM seg WHERE version = 0), 0) AS at_start
FROM seg`,
    [room, sinceMs, untilMs],
  );
  const hours = await q.query<Record<string, unknown>>(
    `SELECT (at_ms / 3600000) * 3600000 AS hour,
  sum(CASE WHEN kind = 'join' THEN 1 ELSE greatest(coalesce((detail->>'connectionsDelta')::int, 0), 0) END) AS joins
FROM presence.activity WHERE ${MEMBERSHIP} AND at_ms >= $2 AND at_ms < $3 AND kind IN ('join', 'anonymous')
GROUP BY 1 ORDER BY 1`,
    [room, sinceMs, untilMs],
  );
  const [users] = await q.query<{ n: unknown }>(
    `SELECT count(DISTINCT user_id) AS n FROM (
  SELECT user_id FROM presence.activity WHERE ${MEMBERSHIP} AND at_ms >= $2 AND at_ms < $3 AND user_id <> '' AND kind IN ('join', 'update')
  UNION SELECT unnest($4::text[])
) u`,
    [room, sinceMs, untilMs, (await roomAt(q, room, sinceMs - 1, true)).members.map((m) => m.userId)],
  );
  const joinsPerHour = hours.map((h) => ({ hourStartMs: Number(h.hour), joins: Number(h.joins) })).filter((h) => h.joins > 0);
  const sessions = Number(agg?.at_start ?? 0) + joinsPerHour.reduce((n, h) => n + h.joins, 0);
  const totalPresenceMs = Number(agg?.total ?? 0);
  const peakConnections = Number(agg?.peak ?? 0);
  return {
    room,
    sinceMs,
    untilMs,
    uniqueUsers: Number(users?.n ?? 0),
    sessions,
    totalPresenceMs,
    averagePresenceMs: sessions === 0 ? 0 : Math.round(totalPresenceMs / sessions),
    peakConnections,
    peakAtMs: peakConnections === 0 ? 0 : Number(agg?.peak_at ?? sinceMs),
    joinsPerHour,
    gaps: await gapsBetween(q, sinceMs, untilMs - 1),
  };
}

/** Gap rows whose dropped window [at_ms, detail.untilMs] meets [fromMs, toMs]. */
async function gapsBetween(q: SqlQuery, fromMs: number, toMs: number): Promise<number> {
  const [r] = await q.query<{ n: unknown }>(
    "SELECT count(*) AS n FROM presence.activity WHERE kind = 'gap' AND at_ms <= $2 AND coalesce((detail->>'untilMs')::bigint, at_ms) >= $1",
    [fromMs, toMs],
  );
  return Number(r?.n ?? 0);
}
