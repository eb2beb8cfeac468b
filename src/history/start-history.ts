import { randomBytes } from "node:crypto";
import type { HistoryConfig } from "../config.js";
import type { ActivityRecord } from "../core/activity.js";
import type { Clock, TimerHandle } from "../core/clock.js";
import type { Commit } from "../core/commit.js";
import type { Position, PresenceEvent } from "../core/presence-event.js";
import type { Logger } from "../logger.js";
import type { HistoryMetrics } from "../metrics/history-metrics.js";
import { currentOrigin } from "../service/call-origin.js";
import { createActivityRecorder } from "./activity-recorder.js";
import type { HistoryStore } from "./history-store.js";
import { createHistoryRepair } from "./history-repair.js";
import { createStatusSync, type StatusSync } from "./status-sync.js";
import { createHistoryWriter, type HistoryWriter } from "./history-writer.js";
import { migrate, MigrationError } from "./sql/migrations.js";
import { createPgClient } from "./sql/pg-client.js";
import type { SqlClient } from "./sql/sql-client.js";
import { createSqlHistoryStore } from "./sql/sql-history-store.js";

/**
 * The history of one server process, as configured (PRESENCE_HISTORY): PostgreSQL, the embedded
 * PGlite, or off. Knows the concrete SQL clients, like create-redis-store.ts knows ioredis.
 *
 * Start-up is off the server's ready path: `startHistory` returns at once; the database connects
 * (PGlite: starts, 2–3 s) and the schema migrates in the background, retried every
 * `retryMaxMs` while PostgreSQL is unreachable. Until then the writer queues rows (bounded) and
 * reads answer HISTORY_UNAVAILABLE. A MigrationError (an edited migration, or `verify` on an old
 * schema) is logged at error level and retried too: running `npm run history:migrate` fixes it
 * without a restart.
 *
 * Recording: `recordCommit` is the store's commit-feed listener (activity rows, durable status);
 * the origin of the committing call (address, user agent) comes from call-origin.ts.
 *
 * Loops: a probe every `probeIntervalMs` sets `presence_history_up`; retention runs every
 * `retentionIntervalMs` (first run one interval after ready), deleting activity older than
 * `retentionMs` and statuses of users not seen for `lastSeenRetentionMs`, in batches; the repair
 * (history-repair.ts) and the refresh of the status cache run every `repairIntervalMs`.
 */
export interface History {
  readonly mode: HistoryConfig["mode"];
  /** The store once connected and migrated; undefined before (and always when off). */
  store(): HistoryStore | undefined;
  /** Queues rows for writing (a no-op when off). */
  readonly writer: HistoryWriter;
  /** The store's commit-feed listener: records the commit (a no-op when off). Never throws. */
  recordCommit(commit: Commit): void;
  /** Durable user status: write-through, GetUserStatus fallback, restore hints. */
  readonly status: StatusSync;
  /** Resolves once the store is ready (never when off); for tests and tools. */
  readonly ready: Promise<void>;
  /** Writes what is queued within `deadlineMs`, stops the loops and closes the database. */
  close(deadlineMs: number): Promise<void>;
}

export interface HistoryDeps {
  clock: Clock;
  nodeId: string;
  log: Logger;
  metrics: HistoryMetrics;
  lastSeenRetentionMs: number;
  probeIntervalMs: number;
  /** Background loop failures (retention, probe): counted in presence_loop_errors_total. */
  loopError: (loop: "history_retention" | "history_repair" | "history_record", err: unknown) => void;
  /** A client to use instead of the configured one (tests). */
  client?: () => Promise<SqlClient>;
  /** The rooms' event logs (the store's readLog), for the repair; absent: no repair. */
  readLog?: (room: string, from: Position) => Promise<PresenceEvent[] | null>;
  /** How far back the rooms' logs go (PRESENCE_LOG_MAX_AGE_MS): the repair looks that far. */
  logMaxAgeMs: number;
  /** Failures of the status write-through (counted as `history_status` loop errors). */
  statusError: (err: unknown) => void;
}

export function startHistory(cfg: HistoryConfig, deps: HistoryDeps): History {
  const { clock, log, metrics } = deps;
  let store: HistoryStore | undefined;
  let client: SqlClient | undefined;
  let closed = false;
  const timers: TimerHandle[] = [];
  const bootId = randomBytes(6).toString("base64url");

  const writer =
    cfg.mode === "off"
      ? offWriter
      : createHistoryWriter({
          store: () => store,
          clock,
          nodeId: deps.nodeId,
          bootId,
          batchSize: cfg.batchRows,
          flushIntervalMs: cfg.flushMs,
          maxQueueRows: cfg.maxQueueRows,
          retryMaxMs: cfg.retryMaxMs,
          observer: {
            written(rows, seconds, lags) {
              metrics.up.set(1);
              metrics.rowsWritten.inc(rows);
              metrics.writeDuration.observe(seconds);
              for (const lag of lags) metrics.lag.observe(lag);
            },
            dropped: (rows) => metrics.rowsDropped.inc(rows),
            failed(err) {
              metrics.up.set(0);
              metrics.writeErrors.inc();
              log.warn("history: batch write failed; retrying", { err });
            },
          },
        });
  metrics.bindQueue(() => writer.depth());
  const status = createStatusSync({
    store: () => store,
    clock,
    flushMs: cfg.flushMs,
    maxQueueUsers: cfg.maxQueueRows,
    cacheUsers: cfg.statusCacheUsers,
    timeoutMs: cfg.statusTimeoutMs,
    onError: deps.statusError,
    onDropped: () => metrics.rowsDropped.inc(),
  });
  const recorder =
    cfg.mode === "off"
      ? () => {}
      : createActivityRecorder({ nodeId: deps.nodeId, bootId, record: (row) => writer.record(row), saveStatus: (s) => status.committed(s), origin: currentOrigin });

  const connect = async (): Promise<SqlClient> => {
    if (deps.client) return deps.client();
    if (cfg.mode === "postgres") {
      return createPgClient({
        url: cfg.postgresUrl!,
        poolSize: cfg.poolSize,
        connectTimeoutMs: cfg.connectTimeoutMs,
        statementTimeoutMs: cfg.statementTimeoutMs,
        onError: (err) => log.warn("history: PostgreSQL connection lost", { err: err.message }),
      });
    }
    const { createPgliteClient } = await import("./sql/pglite-client.js");
    return createPgliteClient({ dataDir: cfg.dataDir, sharedBuffersMb: cfg.embeddedSharedBuffersMb });
  };

  const ready =
    cfg.mode === "off"
      ? new Promise<void>(() => {})
      : (async () => {
          for (let attempt = 0; !closed; attempt++) {
            try {
              const started = clock.now();
              client ??= await connect();
              if (closed) return void (await client.close());
              const m = await migrate(client, cfg.migrations);
              store = createSqlHistoryStore(client, { clock });
              metrics.up.set(1);
              log.info("history ready", { mode: cfg.mode, schemaVersion: m.version, migrationsApplied: m.applied, ms: clock.now() - started });
              return;
            } catch (err) {
              metrics.up.set(0);
              if (err instanceof MigrationError) log.error(err.message);
              else log.warn("history: database not ready; retrying", { mode: cfg.mode, err: (err as Error).message });
              await new Promise<void>((r) => timers.push(clock.setTimeout(r, Math.min(cfg.retryMaxMs, 250 * 2 ** attempt))));
            }
          }
        })();
  ready.catch(() => {}); // failures are retried above; nothing rejects

  if (cfg.mode !== "off") {
    void ready.then(() => {
      if (closed) return;
      timers.push(
        clock.setInterval(() => {
          store?.ping().then(
            () => metrics.up.set(1),
            () => metrics.up.set(0),
          );
        }, deps.probeIntervalMs),
      );
      const repair = deps.readLog
        ? createHistoryRepair({ store: () => store, readLog: deps.readLog, clock, nodeId: deps.nodeId, bootId, lookbackMs: deps.logMaxAgeMs, settleMs: cfg.repairSettleMs })
        : undefined;
      let repairing = false;
      const repairAndRefresh = async () => {
        if (repairing || !store) return;
        repairing = true;
        try {
          await status.refresh();
          const r = await repair?.run();
          if (r && r.recovered + r.lost > 0) log.warn("history repair: events recorded from the rooms' logs", { recovered: r.recovered, lost: r.lost });
        } catch (err) {
          deps.loopError("history_repair", err);
        } finally {
          repairing = false;
        }
      };
      void repairAndRefresh();
      timers.push(clock.setInterval(() => void repairAndRefresh(), cfg.repairIntervalMs));
      let pruning = false;
      timers.push(
        clock.setInterval(async () => {
          if (pruning || !store) return;
          pruning = true;
          try {
            const now = clock.now();
            const r = await store.prune({
              activityBeforeMs: now - cfg.retentionMs,
              lastSeenBeforeMs: now - deps.lastSeenRetentionMs,
              batchSize: cfg.retentionBatchRows,
              shouldStop: () => closed,
            });
            metrics.retentionDeleted.inc({ table: "activity" }, r.activity);
            metrics.retentionDeleted.inc({ table: "user_status" }, r.userStatus);
            if (r.activity + r.userStatus > 0) log.info("history retention", { activityDeleted: r.activity, userStatusDeleted: r.userStatus });
          } catch (err) {
            deps.loopError("history_retention", err);
          } finally {
            pruning = false;
          }
        }, cfg.retentionIntervalMs),
      );
    });
  }

  return {
    mode: cfg.mode,
    store: () => store,
    writer,
    status,
    recordCommit(commit) {
      try {
        recorder(commit);
      } catch (err) {
        deps.loopError("history_record", err);
      }
    },
    ready,
    async close(deadlineMs) {
      // A database that never became ready takes nothing: waiting for it would only delay the exit.
      const { unwritten } = await writer.close(store ? deadlineMs : 0);
      if (store) await status.writer.close();
      if (unwritten > 0) log.warn("history: rows not written at shutdown (database unreachable)", { rows: unwritten });
      closed = true;
      for (const t of timers) t.cancel();
      store = undefined;
      await client?.close().catch(() => {});
    },
  };
}

/** The writer of a server with history off: records nothing. */
const offWriter: HistoryWriter = {
  record: (_row: ActivityRecord) => {},
  depth: () => 0,
  flush: async () => {},
  close: async () => ({ unwritten: 0 }),
};
