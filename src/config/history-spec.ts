import { int, type IntSpec } from "./option-spec.js";

const DAY_MS = 86_400_000;

/** History options (docs/history.md explains them; a test keeps its table true): variable, default, bounds, meaning. */
export const HISTORY_SPEC = {
  poolSize: int("PRESENCE_POSTGRES_POOL_SIZE", 4, 2, 100, "connections to PostgreSQL per node (writer, reads, retention; the repair holds one)"),
  connectTimeoutMs: int("PRESENCE_POSTGRES_CONNECT_TIMEOUT_MS", 5_000, 100, 120_000, "a connection attempt to PostgreSQL slower than this fails"),
  statementTimeoutMs: int("PRESENCE_POSTGRES_STATEMENT_TIMEOUT_MS", 30_000, 100, 3_600_000, "a history statement slower than this is cancelled (statement_timeout)"),
  batchRows: int("PRESENCE_HISTORY_BATCH_ROWS", 100, 1, 10_000, "rows written per batch"),
  flushMs: int("PRESENCE_HISTORY_FLUSH_MS", 1_000, 1, 60_000, "a partial batch is written after its oldest row waited this long"),
  maxQueueRows: int("PRESENCE_HISTORY_MAX_QUEUE_ROWS", 100_000, 1, 10_000_000, "rows queued while the database is slow or down; beyond it rows are dropped and a gap row is recorded"),
  retryMaxMs: int("PRESENCE_HISTORY_RETRY_MAX_MS", 5_000, 100, 600_000, "longest pause between retries of a failed batch"),
  retentionMs: int("PRESENCE_HISTORY_RETENTION_MS", 90 * DAY_MS, DAY_MS, 3_650 * DAY_MS, "activity older than this is deleted"),
  retentionIntervalMs: int("PRESENCE_HISTORY_RETENTION_INTERVAL_MS", 3_600_000, 1_000, DAY_MS, "how often retention runs"),
  retentionBatchRows: int("PRESENCE_HISTORY_RETENTION_BATCH_ROWS", 5_000, 1, 1_000_000, "rows deleted per retention transaction"),
  maxRangeMs: int("PRESENCE_HISTORY_MAX_RANGE_MS", 93 * DAY_MS, 60_000, 3_650 * DAY_MS, "longest time range of one history query or export"),
  maxPageSize: int("PRESENCE_HISTORY_MAX_PAGE_SIZE", 1_000, 1, 100_000, "rows per ListActivity page"),
  exportPageRows: int("PRESENCE_HISTORY_EXPORT_PAGE_ROWS", 1_000, 10, 100_000, "rows read per query while exporting (bounds the server's memory)"),
  repairIntervalMs: int("PRESENCE_HISTORY_REPAIR_INTERVAL_MS", 30_000, 1_000, 3_600_000, "how often the log is checked against the rooms' event logs for events a dead node did not write"),
  repairSettleMs: int("PRESENCE_HISTORY_REPAIR_SETTLE_MS", 10_000, 0, 600_000, "events younger than this are left to the writer of the node that committed them"),
  statusTimeoutMs: int("PRESENCE_HISTORY_STATUS_TIMEOUT_MS", 500, 10, 60_000, "GetUserStatus waits this long for the durable status of users the store no longer holds"),
  embeddedSharedBuffersMb: int("PRESENCE_HISTORY_EMBEDDED_SHARED_BUFFERS_MB", 16, 1, 4_096, "the embedded PGlite's shared_buffers in MB (PostgreSQL's own default, 128, kept the server at ~735 MB resident instead of ~340 MB)"),
  statusCacheUsers: int("PRESENCE_HISTORY_STATUS_CACHE_USERS", 100_000, 0, 10_000_000, "invisible or custom-status users kept in memory per node, to restore their flags after a Redis data loss"),
} as const satisfies Record<string, IntSpec>;
