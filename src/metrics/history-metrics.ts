/**
 * Metrics of the durable history (issue 13), on the one registry made by `createMetrics`: the write
 * queue (depth, rows written and dropped, failed writes), write latency, the lag from a row's
 * commit (the store's commit time) to the moment its batch is durable in the history database,
 * whether that database answers, and retention. Labels are bounded (`table` has two values).
 * With history off (PRESENCE_HISTORY=off) the series exist and stay at 0 (`presence_history_up`
 * reads 0 too, so alerts on it must be scoped to nodes that record; see docs/metrics.md).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Tables retention deletes from (label `table` of `presence_history_retention_deleted_rows_total`). */
export const HISTORY_TABLES = ["activity", "user_status"] as const;

export interface HistoryMetrics {
  /** `presence_history_queue_rows`: rows waiting to be written, read at scrape time. */
  readonly queueRows: Gauge;
  /** `presence_history_write_duration_seconds`: one batch write (successful). */
  readonly writeDuration: Histogram;
  /** `presence_history_rows_written_total`. */
  readonly rowsWritten: Counter;
  /** `presence_history_rows_dropped_total`: queue full (recorded as a gap row later) or left at shutdown. */
  readonly rowsDropped: Counter;
  /** `presence_history_write_errors_total`: failed batch writes (each is retried). */
  readonly writeErrors: Counter;
  /** `presence_history_lag_seconds`: commit time to durable in the history database, per row. */
  readonly lag: Histogram;
  /** `presence_history_up`: 1 while the history database answers (last write or probe succeeded), else 0. */
  readonly up: Gauge;
  /** `presence_history_retention_deleted_rows_total{table}`. */
  readonly retentionDeleted: Counter<"table">;
  /** Binds the queue gauge to the writer (the last binding wins; unbound reads 0). */
  bindQueue(depth: () => number): void;
}

export function createHistoryMetrics(registers: Registry[]): HistoryMetrics {
  let depth: (() => number) | undefined;
  const retentionDeleted = new Counter({
    name: "presence_history_retention_deleted_rows_total",
    help: "Rows deleted by history retention, by table (activity, user_status).",
    labelNames: ["table"],
    registers,
  });
  for (const table of HISTORY_TABLES) retentionDeleted.inc({ table }, 0);
  return {
    queueRows: new Gauge({
      name: "presence_history_queue_rows",
      help: "History rows queued on this node, waiting to be written.",
      registers,
      collect() {
        try {
          if (depth) this.set(depth());
        } catch {
          // keep the previous value
        }
      },
    }),
    writeDuration: new Histogram({
      name: "presence_history_write_duration_seconds",
      help: "Duration of one history batch write.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    rowsWritten: new Counter({ name: "presence_history_rows_written_total", help: "History rows written (durable).", registers }),
    rowsDropped: new Counter({ name: "presence_history_rows_dropped_total", help: "History rows dropped: queue full while the database was slow or down (a gap row records it), or left at shutdown.", registers }),
    writeErrors: new Counter({ name: "presence_history_write_errors_total", help: "Failed history batch writes (retried with backoff).", registers }),
    lag: new Histogram({
      name: "presence_history_lag_seconds",
      help: "Time from a row's commit to its batch being durable in the history database.",
      buckets: [0.1, 0.25, 0.5, 1, 1.5, 2, 5, 10, 30, 60, 300, 1800],
      registers,
    }),
    up: new Gauge({ name: "presence_history_up", help: "1 while the history database answers (last write or probe succeeded), else 0.", registers }),
    retentionDeleted,
    bindQueue(fn) {
      depth = fn;
    },
  };
}
