import type { Config } from "../config.js";
import type { Clock } from "../core/clock.js";
import type { Caller } from "../core/identity.js";
import type { UserRestore } from "../core/user-status.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";
import { enableCallOrigin } from "../service/call-origin.js";
import { createHistoryService, type HistoryService } from "../service/history-service.js";
import type { PresenceStore } from "../store/presence-store.js";
import type { DurableUserStatus } from "./history-store.js";
import { startHistory, type History } from "./start-history.js";

/**
 * The history's part of the composition root (app.ts): starts the history (in the background),
 * subscribes it to the store's commit feed (recording happens on the committing node only), turns
 * call-origin tracking on, and builds the HistoryService and the hooks the presence service takes
 * (all undefined with history off, so they cost nothing then).
 */
export interface AppHistory {
  readonly history: History;
  readonly service: HistoryService;
  /** GetUserStatus: durable statuses of users the store no longer holds. */
  readonly durableStatus?: (userIds: string[]) => Promise<DurableUserStatus[]>;
  /** Join: the durable status a join that creates the user's record in the store restores (JoinInput.restoreStatus). */
  readonly restoreStatus?: (userId: string) => UserRestore | undefined;
  /** Stops recording, writes what is queued within `deadlineMs` and closes the database. */
  close(deadlineMs: number): Promise<void>;
}

export function startAppHistory(
  config: Config,
  d: {
    clock: Clock;
    log: Logger;
    metrics: Metrics;
    store: Pick<PresenceStore, "readLog" | "onCommit">;
    /** The rights check for `audit` on one room (AccessGuard.authorize). */
    authorizeRoom: (caller: Caller, op: "audit", room: string) => Promise<void>;
  },
): AppHistory {
  const off = config.history.mode === "off";
  const history = startHistory(config.history, {
    clock: d.clock,
    nodeId: config.nodeId,
    log: d.log,
    metrics: d.metrics.history,
    lastSeenRetentionMs: config.timings.lastSeenRetentionMs,
    probeIntervalMs: config.readiness.intervalMs,
    readLog: (room, from) => d.store.readLog(room, from),
    logMaxAgeMs: config.timings.logMaxAgeMs,
    statusError: (err) => {
      d.metrics.loopErrors.inc({ loop: "history_status" });
      d.log.warn("history: user status write-through failed", { err });
    },
    loopError: (loop, err) => {
      d.metrics.loopErrors.inc({ loop });
      d.log.error("history loop failed", { loop, err });
    },
  });
  if (!off) enableCallOrigin();
  const stopRecording = off ? () => {} : d.store.onCommit((commit) => history.recordCommit(commit));
  return {
    history,
    service: createHistoryService({
      mode: config.history.mode,
      store: () => history.store(),
      clock: d.clock,
      maxRangeMs: config.history.maxRangeMs,
      maxPageSize: config.history.maxPageSize,
      exportPageRows: config.history.exportPageRows,
      maxRoomNameBytes: config.limits.maxRoomNameBytes,
      maxUserIdBytes: config.limits.maxUserIdBytes,
      authorizeRoom: d.authorizeRoom,
    }),
    durableStatus: off ? undefined : (ids) => history.status.load(ids),
    restoreStatus: off ? undefined : (userId) => history.status.restoreOf(userId),
    async close(deadlineMs) {
      stopRecording();
      await history.close(deadlineMs);
    },
  };
}
