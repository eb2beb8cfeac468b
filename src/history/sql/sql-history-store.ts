import type { ActivityPage, ActivityQuery, ActivityRecord, PageCursor } from "../../core/activity.js";
import type { Clock } from "../../core/clock.js";
import { foldDurableStatus } from "../../core/durable-status.js";
import type { DurableUserStatus, HistoryStore } from "../history-store.js";
import { ACTIVITY_COLUMNS, insertBatch, orderOf, recordOf, whereOf, type ActivityRow } from "./activity-sql.js";
import { recentEpochs } from "./gap-queries.js";
import { roomAt, roomStatistics } from "./room-queries.js";
import { historyError, type SqlClient } from "./sql-client.js";

/**
 * The HistoryStore over SQL: PostgreSQL through node-postgres, or the embedded PGlite, with the
 * same statements (the schema is applied by migrations.ts before this store is used). Every
 * failure is mapped once by `historyError` (unavailable / HISTORY_UNAVAILABLE, or internal).
 */
export function createSqlHistoryStore(client: SqlClient, o: { clock: Clock }): HistoryStore {
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw historyError(e);
    }
  };

  const listActivity = (query: ActivityQuery, after: PageCursor | undefined, pageSize: number): Promise<ActivityPage> =>
    guard(async () => {
      const { clause, params } = whereOf(query, after);
      const rows = await client.query<ActivityRow>(
        `SELECT ${ACTIVITY_COLUMNS} FROM presence.activity WHERE ${clause} ORDER BY ${orderOf(query)} LIMIT ${pageSize + 1}`,
        params,
      );
      const records = rows.slice(0, pageSize).map(recordOf);
      const last = records[records.length - 1];
      return {
        rows: records.map(({ seq: _seq, ...r }) => r),
        next: rows.length > pageSize && last ? { timeMs: last.timeMs, seq: last.seq } : undefined,
      };
    });

  return {
    write: (rows) =>
      guard(async () => {
        if (rows.length === 0) return { inserted: 0 };
        const { text, params } = insertBatch(rows, o.clock.now());
        const [r] = await client.query<{ inserted: number }>(text, params);
        return { inserted: Number(r?.inserted ?? 0) };
      }),

    listActivity,

    async *exportActivity(query, pageSize, signal) {
      let after: PageCursor | undefined;
      do {
        signal?.throwIfAborted();
        const page: ActivityPage = await listActivity(query, after, pageSize);
        if (page.rows.length > 0) yield page.rows;
        after = page.next;
      } while (after);
    },

    roomAt: (room, atMs, includeInvisible) => guard(() => roomAt(client, room, atMs, includeInvisible)),
    roomStatistics: (room, sinceMs, untilMs) => guard(() => roomStatistics(client, room, sinceMs, untilMs)),
    recentEpochs: (sinceMs) => guard(() => recentEpochs(client, sinceMs)),
    exclusive: (task, fn) =>
      guard(() =>
        client.session(async (q) => {
          const [lock] = await q.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${TASK_LOCK_KEYS[task]}::bigint) AS ok`);
          if (!lock?.ok) return undefined;
          try {
            return await fn();
          } finally {
            await q.query(`SELECT pg_advisory_unlock(${TASK_LOCK_KEYS[task]}::bigint)`).catch(() => {});
          }
        }),
      ),

    saveUserStatus: (records) =>
      guard(async () => {
        // One row per user (the batch's changes folded), or ON CONFLICT would touch a row twice in one statement.
        const folded = new Map<string, DurableUserStatus>();
        for (const r of records) folded.set(r.userId, foldDurableStatus(folded.get(r.userId), r));
        if (folded.size === 0) return;
        const rs = [...folded.values()];
        // The same fold as core/durable-status.ts, against the stored row (old values on the right).
        await client.query(
          `INSERT INTO presence.user_status AS s (user_id, last_seen_ms, visible_last_seen_ms, custom_status, invisible, updated_ms, custom_status_ms, invisible_ms)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::boolean[], $6::bigint[], $7::bigint[], $8::bigint[])
ON CONFLICT (user_id) DO UPDATE SET
  last_seen_ms = greatest(EXCLUDED.last_seen_ms, s.last_seen_ms),
  custom_status = CASE WHEN EXCLUDED.custom_status_ms > s.custom_status_ms THEN EXCLUDED.custom_status ELSE s.custom_status END,
  custom_status_ms = greatest(EXCLUDED.custom_status_ms, s.custom_status_ms),
  invisible = CASE WHEN EXCLUDED.invisible_ms > s.invisible_ms THEN EXCLUDED.invisible ELSE s.invisible END,
  invisible_ms = greatest(EXCLUDED.invisible_ms, s.invisible_ms),
  visible_last_seen_ms = CASE
    WHEN EXCLUDED.invisible_ms > s.invisible_ms AND EXCLUDED.invisible THEN EXCLUDED.visible_last_seen_ms
    WHEN EXCLUDED.invisible_ms <= s.invisible_ms AND s.invisible THEN s.visible_last_seen_ms
    ELSE greatest(EXCLUDED.last_seen_ms, s.last_seen_ms) END,
  updated_ms = greatest(EXCLUDED.updated_ms, s.updated_ms)`,
          [
            rs.map((r) => r.userId),
            rs.map((r) => r.lastSeenMs),
            rs.map((r) => r.visibleLastSeenMs),
            rs.map((r) => r.customStatus),
            rs.map((r) => r.invisible),
            rs.map((r) => r.updatedMs),
            rs.map((r) => r.customStatusMs),
            rs.map((r) => r.invisibleMs),
          ],
        );
      }),

    loadUserStatus: (userIds) =>
      guard(async () => (userIds.length === 0 ? [] : (await client.query<Record<string, unknown>>(`${STATUS_SELECT} WHERE user_id = ANY($1::text[])`, [userIds])).map(statusOf))),

    loadFlaggedUserStatus: (limit) =>
      guard(async () => (await client.query<Record<string, unknown>>(`${STATUS_SELECT} WHERE invisible OR custom_status <> '' ORDER BY updated_ms DESC LIMIT $1`, [limit])).map(statusOf)),

    prune: (opts) =>
      guard(async () => {
        const deleted = { activity: 0, userStatus: 0 };
        const batches: [keyof typeof deleted, string, number][] = [
          ["activity", "DELETE FROM presence.activity WHERE seq IN (SELECT seq FROM presence.activity WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)", opts.activityBeforeMs],
          [
            "userStatus",
            "DELETE FROM presence.user_status WHERE user_id IN (SELECT user_id FROM presence.user_status WHERE greatest(last_seen_ms, updated_ms) < $1 LIMIT $2)",
            opts.lastSeenBeforeMs,
          ],
        ];
        for (const [what, sql, before] of batches) {
          for (;;) {
            if (opts.shouldStop?.()) return deleted;
            // One short transaction per batch; a node that cannot take the lock leaves the work to the one that has it.
            const n = await client.transaction(async (q) => {
              const [lock] = await q.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${PRUNE_LOCK_KEY}::bigint) AS ok`);
              if (!lock?.ok) return -1;
              const r = await q.query<{ n: number }>(`WITH d AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM d`, [before, opts.batchSize]);
              return Number(r[0]?.n ?? 0);
            });
            if (n < 0) return deleted;
            deleted[what] += n;
            if (n < opts.batchSize) break;
          }
        }
        return deleted;
      }),

    ping: () => guard(async () => void (await client.query("SELECT 1"))),
    close: () => client.close(),
  };
}

const STATUS_SELECT = "SELECT user_id, last_seen_ms, visible_last_seen_ms, custom_status, invisible, updated_ms, custom_status_ms, invisible_ms FROM presence.user_status";

const statusOf = (r: Record<string, unknown>): DurableUserStatus => ({
  userId: String(r.user_id),
  lastSeenMs: Number(r.last_seen_ms),
  visibleLastSeenMs: Number(r.visible_last_seen_ms),
  customStatus: String(r.custom_status),
  invisible: Boolean(r.invisible),
  updatedMs: Number(r.updated_ms),
  customStatusMs: Number(r.custom_status_ms),
  invisibleMs: Number(r.invisible_ms),
});

/** Advisory locks of tasks one node at a time runs ("pres-rep" in ASCII). */
const TASK_LOCK_KEYS = { repair: "8102650224951059824" } as const;

/** Advisory lock taken by the retention batches ("pres-ret" in ASCII). */
const PRUNE_LOCK_KEY = "8102650224951059828";
