import type { Clock } from "../core/clock.js";
import type { Timings } from "../core/options.js";
import type { PresenceError } from "../core/presence-error.js";
import type { Position, PresenceEvent, RoomView, StoreMessage } from "../core/presence-event.js";
import type { MemberOrder } from "../core/member-order.js";
import type { RoomStore } from "../store/ports/room-store.js";
import type { Detail, FanoutObserver, ResyncReason, WatchItem } from "./watch-item.js";

/**
 * The fan-out hub's per-room and per-watcher state, and its periodic checks: stalled readers, the
 * position check (tail loss) and the rollback of a room's version inside its epoch (see
 * fanout-hub.ts for the rules). The hub owns the state; these functions only read and mark it.
 */
export interface Watcher {
  room: RoomHub;
  detail: Detail;
  transport: string;
  /** "init" while the first snapshot / replay is being fetched: messages go to `early`. */
  phase: "init" | "live";
  early: StoreMessage[];
  queue: WatchItem[];
  pos: Position;
  needsSnapshot: boolean;
  countsDirty: boolean;
  wake: (() => void) | null;
  error: PresenceError | null;
  closed: boolean;
  /** When the reader was handed an item it has not come back from (0 = pulling). */
  parkedSince: number;
  /** Set while a flush larger than the queue is applied to a reader that was keeping up. */
  burst: boolean;
  /** The room ended: the `ended` item is queued and the watch ends after it. */
  ending: boolean;
  onStall?: () => void;
  order: MemberOrder;
  pageSize: number;
}

export interface RoomHub {
  name: string;
  watchers: Set<Watcher>;
  unsubscribe: () => void;
  pending: StoreMessage[];
  snapshot: { promise: Promise<RoomView> } | null;
  /** The store's position at the previous position check (null before the first). */
  checked: Position | null;
  /** The last event received live on the room's subscription (rollback detection). */
  lastLive: Position | null;
  /**
   * Fingerprints (commit time and counts) of the last RECENT_LIVE events received live, by version,
   * to tell what an event at or below `lastLive` is: the fingerprint already seen at its version is
   * the same message delivered twice; a version inside the window never received is a late
   * (reordered) delivery of a message whose gap already resynced the watchers; both are skipped.
   * Another fingerprint at a version received, or a version older than the window, is a rollback.
   */
  recent: Map<number, string>;
  /** Set while the store gives the room a new epoch after a rollback: snapshots wait for it. */
  renewing: Promise<unknown> | null;
}

export interface RoomChecksDeps {
  rooms: Map<string, RoomHub>;
  store: Pick<RoomStore, "position" | "renewEpoch">;
  clock: Clock;
  timings: Timings;
  obs: FanoutObserver;
  markResync(w: Watcher, reason: ResyncReason): boolean;
  wakeUp(w: Watcher): void;
}

/** Live events remembered per room to tell a duplicate delivery from a rollback. */
export const RECENT_LIVE = 64;

export interface RoomChecks {
  /** The room's version went backwards inside `seen.epoch`: a new epoch, then every watcher resyncs. */
  rolledBack(room: RoomHub, seen: Position): void;
  /**
   * Classifies an event received live: `new` (recorded as the room's last live event), `duplicate`
   * or `late` (skip it: see RoomHub.recent) or `rollback` (handled: the room gets a new epoch).
   */
  receivedLive(room: RoomHub, ev: PresenceEvent): "new" | "duplicate" | "late" | "rollback";
  checkPositions(): Promise<void>;
  checkStalls(): void;
}

export function createRoomChecks(d: RoomChecksDeps): RoomChecks {
  const { rooms, obs, markResync, wakeUp } = d;
  /** The room's version went backwards inside `seen.epoch`: a new epoch, then every watcher resyncs. */
  function rolledBack(room: RoomHub, seen: Position) {
    room.lastLive = null;
    room.recent.clear();
    room.pending = [];
    room.snapshot = null;
    const renewing = d.store.renewEpoch(room.name, seen).catch((err: unknown) => obs.error?.(err));
    room.renewing = renewing;
    void renewing.finally(() => {
      if (room.renewing === renewing) room.renewing = null;
    });
    for (const w of room.watchers) {
      if (w.closed) continue;
      w.early = [];
      markResync(w, "rollback");
      wakeUp(w);
    }
  }

  function receivedLive(room: RoomHub, ev: PresenceEvent): "new" | "duplicate" | "late" | "rollback" {
    const last = room.lastLive;
    const fingerprint = `${ev.timeMs}/${ev.counts.users}/${ev.counts.connections}/${ev.counts.anonymous}`;
    if (last && last.epoch === ev.epoch && ev.version <= last.version) {
      // A commit re-made after a partial data loss has another commit time (and usually counts).
      const seen = room.recent.get(ev.version);
      if (seen === fingerprint) return "duplicate";
      const oldest = room.recent.keys().next().value;
      if (seen === undefined && oldest !== undefined && ev.version > oldest) return "late";
      obs.rollback?.(room.name, { epoch: ev.epoch, version: ev.version, kind: ev.kind, fingerprint, seen: seen ?? null, lastVersion: last.version, oldestRemembered: oldest ?? null });
      rolledBack(room, last);
      return "rollback";
    }
    if (last && last.epoch !== ev.epoch) room.recent.clear();
    room.lastLive = { epoch: ev.epoch, version: ev.version };
    room.recent.set(ev.version, fingerprint);
    if (room.recent.size > RECENT_LIVE) room.recent.delete(room.recent.keys().next().value!);
    return "new";
  }

  /**
   * Resyncs live watchers that are behind the store while nothing is on its way (tail loss).
   * "Behind" means behind the position the store already had at the previous check: an event
   * committed since may still be in flight on the pub/sub connection (under load its reply on the
   * command connection can be read first), and resyncing for it would be spurious. A lost last
   * message is therefore detected within two check intervals.
   */
  async function checkPositions() {
    for (const room of [...rooms.values()]) {
      // The last live event known before the read: a store behind it has lost commits. One that
      // arrives while the read is in flight proves nothing (its commit may have run after the
      // read, and its message, on the other connection, be handled before the read's reply).
      const live = room.lastLive;
      let pos: Position;
      try {
        pos = await d.store.position(room.name);
      } catch (err) {
        obs.error?.(err);
        continue;
      }
      const prev = room.checked;
      room.checked = pos;
      if (live && live.epoch === pos.epoch && pos.version < live.version) {
        obs.rollback?.(room.name, { epoch: pos.epoch, version: pos.version, kind: "position", fingerprint: "", seen: null, lastVersion: live.version, oldestRemembered: null });
        rolledBack(room, live);
        continue;
      }
      if (room.pending.length > 0 || !prev || prev.epoch !== pos.epoch) continue;
      let woke = false;
      for (const w of room.watchers) {
        if (w.phase !== "live" || w.needsSnapshot || w.queue.length > 0) continue;
        if (prev.epoch !== w.pos.epoch || prev.version > w.pos.version) {
          markResync(w, "position");
          wakeUp(w);
          woke = true;
        }
      }
      if (woke) room.snapshot = null;
    }
  }

  function checkStalls() {
    const now = d.clock.now();
    for (const room of rooms.values()) {
      for (const w of room.watchers) {
        if (w.parkedSince > 0 && now - w.parkedSince >= d.timings.watcherStallMs) {
          w.parkedSince = 0;
          obs.stalled?.();
          w.onStall?.();
        }
      }
    }
  }
  return { rolledBack, receivedLive, checkPositions, checkStalls };
}
