import type { SqlQuery } from "./sql-client.js";

/** A (room, epoch) recorded recently, and the first membership version missing in it. */
export interface RecentEpoch {
  room: string;
  epoch: string;
  /** The first version not recorded: 1 when the start is missing, a hole, or the last recorded + 1. */
  firstMissing: number;
  /** The first recorded version after that hole; undefined when the hole is at the end. */
  nextRecorded?: number;
}

/**
 * The (room, epoch) pairs with membership rows committed since `sinceMs`, each with its first
 * missing version (rows of the whole epoch count, not only recent ones). One query: per pair, the
 * smallest version whose successor is not stored, or 0 when version 1 is missing.
 */
export async function recentEpochs(q: SqlQuery, sinceMs: number): Promise<RecentEpoch[]> {
  const rows = await q.query<Record<string, unknown>>(
    `WITH recent AS (
  SELECT DISTINCT room, epoch FROM presence.activity WHERE at_ms >= $1 AND version > 0 AND epoch <> ''
), v AS (
  SELECT a.room, a.epoch, a.version, lead(a.version) OVER (PARTITION BY a.room, a.epoch ORDER BY a.version) AS next
  FROM presence.activity a JOIN recent r ON a.room = r.room AND a.epoch = r.epoch WHERE a.version > 0
), firsts AS (
  SELECT room, epoch, min(version) AS first FROM v GROUP BY room, epoch
)
SELECT f.room, f.epoch,
  CASE WHEN f.first > 1 THEN 1 ELSE (SELECT min(v.version) + 1 FROM v WHERE v.room = f.room AND v.epoch = f.epoch AND (v.next IS NULL OR v.next > v.version + 1)) END AS missing,
  CASE WHEN f.first > 1 THEN f.first ELSE (SELECT min(v.next) FROM v WHERE v.room = f.room AND v.epoch = f.epoch AND v.next > v.version + 1) END AS next_recorded
FROM firsts f ORDER BY f.room, f.epoch`,
    [sinceMs],
  );
  return rows.map((r) => ({
    room: String(r.room),
    epoch: String(r.epoch),
    firstMissing: Number(r.missing),
    nextRecorded: r.next_recorded === null || r.next_recorded === undefined ? undefined : Number(r.next_recorded),
  }));
}
