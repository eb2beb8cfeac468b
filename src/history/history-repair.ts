import type { ActivityRecord } from "../core/activity.js";
import type { Clock } from "../core/clock.js";
import type { Position, PresenceEvent } from "../core/presence-event.js";
import { createActivityRecorder, membershipKey } from "./activity-recorder.js";
import type { HistoryStore } from "./history-store.js";

/**
 * Repairs the activity log from the rooms' own event logs, so that every committed membership
 * event ends up recorded exactly once even when its node died before writing it (kill -9 with a
 * batch queued: the commit feed is at most once and the queue lives in memory).
 *
 * Membership events of a room are numbered without holes per epoch, and the store keeps the newest
 * of them for a while (the Redis Stream of each room: PRESENCE_LOG_MAX_ENTRIES, 1,000, and
 * PRESENCE_LOG_MAX_AGE_MS, 2 min). Every `intervalMs` one node at a time (an advisory lock) looks at the
 * (room, epoch) pairs recorded in the last `lookbackMs`, finds the first version missing (a hole,
 * a missing start, or events after the last one recorded), reads the room's log from there, and
 * writes the events that are older than `settleMs` (so rows still in another node's queue are not
 * raced) and not stored yet. Keys make this idempotent with the committing node's own write.
 * Repaired rows carry `detail.recovered = true` and no node, address or user agent (the log does
 * not have them). A hole the log no longer covers is recorded once as a `gap` row with reason
 * `lost` and the versions missing.
 */
export interface HistoryRepairOptions {
  store: () => HistoryStore | undefined;
  /** The room's committed events after `from`, or null when they cannot be replayed exactly. */
  readLog(room: string, from: Position): Promise<PresenceEvent[] | null>;
  clock: Clock;
  nodeId: string;
  bootId: string;
  lookbackMs: number;
  settleMs: number;
}

export interface RepairResult {
  /** (room, epoch) pairs checked. */
  checked: number;
  /** Rows written from the rooms' logs. */
  recovered: number;
  /** Holes the logs no longer covered (recorded as gap rows). */
  lost: number;
}

export function createHistoryRepair(o: HistoryRepairOptions): { run(): Promise<RepairResult> } {
  return {
    async run() {
      const store = o.store();
      const result: RepairResult = { checked: 0, recovered: 0, lost: 0 };
      if (!store) return result;
      return (await store.exclusive("repair", () => repairWith(store, result))) ?? result;
    },
  };

  async function repairWith(store: HistoryStore, result: RepairResult): Promise<RepairResult> {
    const now = o.clock.now();
    const settled = now - o.settleMs;
    for (const e of await store.recentEpochs(now - o.lookbackMs)) {
      result.checked++;
      const missing = e.firstMissing;
      const events = await o.readLog(e.room, { epoch: e.epoch, version: missing - 1 });
      if (events === null) {
        if (e.nextRecorded !== undefined) {
          const key = `lost:${membershipKey(e.room, e.epoch, missing)}`;
          const { inserted } = await store.write([lostRow(key, e.room, e.epoch, missing, e.nextRecorded - 1, now, o.nodeId)]);
          result.lost += inserted;
        }
        continue;
      }
      const rows: ActivityRecord[] = [];
      const record = createActivityRecorder({ nodeId: o.nodeId, bootId: o.bootId, origin: () => undefined, record: (r) => rows.push({ ...r, nodeId: "", detail: { ...r.detail, recovered: true } }) });
      for (const ev of events) if (ev.timeMs <= settled) record({ type: "room_event", nodeId: "", timeMs: ev.timeMs, event: ev });
      if (rows.length > 0) result.recovered += (await store.write(rows)).inserted;
    }
    return result;
  }
}

function lostRow(key: string, room: string, epoch: string, fromVersion: number, toVersion: number, now: number, nodeId: string): ActivityRecord {
  return {
    key,
    timeMs: now,
    kind: "gap",
    room,
    userId: "",
    connectionId: "",
    reason: "lost",
    nodeId,
    remoteAddr: "",
    userAgent: "",
    epoch,
    version: 0,
    invisible: false,
    users: 0,
    connections: 0,
    anonymous: 0,
    detail: { fromVersion, toVersion, untilMs: now },
  };
}
