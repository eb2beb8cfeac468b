import type { Clock, TimerHandle } from "../core/clock.js";
import type { Limits, Timings } from "../core/options.js";
import { limitExceeded, PresenceError } from "../core/presence-error.js";
import type { Position, RoomView, StoreMessage } from "../core/presence-event.js";
import type { EventBus } from "../store/ports/event-bus.js";
import type { MemberOrder } from "../core/member-order.js";
import type { RoomStore } from "../store/ports/room-store.js";
import { createRoomChecks, type RoomHub, type Watcher } from "./room-checks.js";
import { snapshotPages, type Detail, type FanoutObserver, type ResyncReason, type WatchItem, type WatchOptions } from "./watch-item.js";

/**
 * The per-process fan-out hub: room → local watchers.
 *
 * - One store subscription per room with local watchers (reference-counted; dropped with the last
 *   watcher).
 * - Deliveries are coalesced per event-loop turn: store messages are collected and handed to the
 *   watchers in one `setImmediate` flush, so an idle room adds no latency and a busy one batches.
 * - Every watcher has a bounded queue (`limits.watcherQueueSize`). The hub never awaits a watcher.
 *   On overflow the queue is dropped and the watcher is marked "needs snapshot": when its reader
 *   pulls again it gets one fresh snapshot, never a partial view (design §5, connect-notes §1).
 * - Continuity: a watcher applies an event only if it is `version + 1` in its epoch; older versions
 *   are duplicates and are skipped; a gap or another epoch triggers a snapshot (I4).
 * - Snapshots are shared: watchers arriving together for one room share one store read per
 *   version.
 * - A watcher whose reader has not pulled for `timings.watcherStallMs` is reported through
 *   `onStall` so the transport can reset its stream (a generator parked at `yield` cannot act).
 * - Keepalive items are produced after `timings.keepaliveMs` without any other item.
 * - A store `reset` (its subscription was interrupted) resyncs every watcher of the room once, and
 *   a position check every `timings.positionCheckMs` resyncs watchers that are behind the store
 *   with nothing queued: it catches a lost last message (tail loss).
 * - Rollback: a room's events arrive in strictly increasing versions per epoch. An event, or a
 *   position check, showing a version at or below one already received live in the same epoch
 *   means the store lost recent commits (a partial data loss that kept the epoch). The hub then asks
 *   the store for a new epoch (`renewEpoch`) and resyncs every watcher of the room once, after it.
 */

export type { Detail, FanoutObserver, ResyncReason, WatchItem, WatchOptions } from "./watch-item.js";

export interface FanoutHub {
  /** Opens a watch. Throws TOO_MANY_WATCHERS (limit_exceeded) when the process is full. */
  watch(room: string, options: WatchOptions): AsyncGenerator<WatchItem>;
  /** Live watchers by detail. */
  watcherCount(): { full: number; counts: number };
  /** Live watchers by transport ({@link WatchOptions.transport}), then detail. */
  watchersByTransport(): Record<string, { full: number; counts: number }>;
  /** Rooms with live watchers (one store subscription each). */
  roomCount(): number;
  /**
   * Full watchers of one room on this node: the ones a broadcast reaches (the WebSocket bridge's
   * watch of a room counts as one; counts watchers, such as the bridge's follow of its members'
   * rooms for room_ended, do not).
   */
  roomWatchers(room: string): number;
  /** Ends every watch with `error` (DRAINING on shutdown) and refuses new ones. */
  close(error: PresenceError): void;
}

export interface FanoutHubOptions {
  /** Snapshots, log replays, position checks and new epochs after a rollback. */
  rooms: Pick<RoomStore, "getView" | "readLog" | "position" | "renewEpoch">;
  /** The rooms' committed events, typing and cursors. */
  bus: Pick<EventBus, "subscribe" | "ready">;
  clock: Clock;
  timings: Timings;
  limits: Limits;
  observer?: FanoutObserver;
}

export function createFanoutHub(o: FanoutHubOptions): FanoutHub {
  const rooms = new Map<string, RoomHub>();
  const dirty = new Set<RoomHub>();
  const obs = o.observer ?? {};
  let flushScheduled = false;
  let closedWith: PresenceError | null = null;
  const counts = { full: 0, counts: 0 };
  const byTransport = new Map<string, { full: number; counts: number }>();
  let stallTimer: TimerHandle | null = null;
  let positionTimer: TimerHandle | null = null;
  let checkingPositions = false;

  const scheduleFlush = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  };

  function flush() {
    flushScheduled = false;
    for (const room of dirty) {
      const msgs = room.pending;
      room.pending = [];
      for (const w of room.watchers) {
        try {
          deliver(w, msgs);
        } catch (err) {
          obs.error?.(err);
        }
      }
    }
    dirty.clear();
  }

  function deliver(w: Watcher, msgs: StoreMessage[]) {
    if (w.closed) return;
    if (w.phase === "init") {
      w.early.push(...msgs);
      if (w.early.length > o.limits.watcherQueueSize * 4) {
        w.early = [];
        markResync(w, "overflow");
      }
      return;
    }
    // A reader that is keeping up (nothing queued, not parked at a yield) is not "slow" when one
    // flush alone exceeds its queue: that is a burst, resolved by one snapshot.
    const keepingUp = w.queue.length === 0 && w.parkedSince === 0;
    w.burst = keepingUp && msgs.length > o.limits.watcherQueueSize;
    let woke = false;
    for (const m of msgs) woke = apply(w, m) || woke;
    w.burst = false;
    if (woke) wakeUp(w);
  }

  /** Applies one store message to a live watcher; true when something was queued. */
  function apply(w: Watcher, m: StoreMessage): boolean {
    if (m.type === "ended") {
      // The last word: past any resync (the room is empty now) and past the queue cap.
      w.needsSnapshot = false;
      w.ending = true;
      w.queue.push({ type: "ended", ended: m.ended });
      return true;
    }
    if (w.needsSnapshot || w.ending) return false;
    if (m.type === "reset") return markResync(w, "reconnect");
    if (m.type === "event") {
      const ev = m.event;
      if (ev.epoch !== w.pos.epoch) return markResync(w, "epoch");
      if (ev.version <= w.pos.version) return false; // duplicate or older than the snapshot
      if (ev.version !== w.pos.version + 1) return markResync(w, "gap");
      w.pos = { epoch: ev.epoch, version: ev.version };
      if (w.detail === "counts") {
        const i = w.queue.findIndex((q) => q.type === "counts");
        const item: WatchItem = { type: "counts", room: ev.room, epoch: ev.epoch, version: ev.version, counts: ev.counts };
        if (i >= 0) w.queue[i] = item;
        else w.queue.push(item);
        return true;
      }
      return push(w, { type: "event", event: ev });
    }
    if (w.detail === "counts") return false;
    if (m.type === "typing") return push(w, { type: "typing", typing: m.typing });
    if (m.type === "broadcast") return push(w, { type: "broadcast", broadcast: m.broadcast });
    return push(w, { type: "cursors", batch: m.batch });
  }

  function push(w: Watcher, item: WatchItem): boolean {
    if (w.queue.length >= o.limits.watcherQueueSize) {
      if (w.burst) return markResync(w, "burst");
      obs.overflow?.(w.transport);
      return markResync(w, "overflow");
    }
    w.queue.push(item);
    return true;
  }

  function markResync(w: Watcher, reason: ResyncReason): boolean {
    if (!w.needsSnapshot) obs.resync?.(reason);
    w.needsSnapshot = true;
    w.queue.length = 0;
    return true;
  }

  function wakeUp(w: Watcher) {
    const f = w.wake;
    w.wake = null;
    f?.();
  }

  function roomFor(name: string): RoomHub {
    let room = rooms.get(name);
    if (!room) {
      const r: RoomHub = { name, watchers: new Set(), unsubscribe: () => {}, pending: [], snapshot: null, checked: null, lastLive: null, recent: new Map(), renewing: null };
      r.unsubscribe = o.bus.subscribe(name, (m) => {
        r.snapshot = null; // the cached view is stale now
        if (m.type === "event" && receivedLive(r, m.event) !== "new") return;
        r.pending.push(m);
        dirty.add(r);
        scheduleFlush();
      });
      rooms.set(name, r);
      room = r;
    }
    return room;
  }

  const { receivedLive, checkPositions, checkStalls } = createRoomChecks({ rooms, store: o.rooms, clock: o.clock, timings: o.timings, obs, markResync, wakeUp });

  function detach(w: Watcher) {
    if (w.closed) return;
    w.closed = true;
    counts[w.detail]--;
    byTransport.get(w.transport)![w.detail]--;
    w.room.watchers.delete(w);
    if (w.room.watchers.size === 0) {
      w.room.unsubscribe();
      rooms.delete(w.room.name);
      dirty.delete(w.room);
    }
    wakeUp(w);
  }

  /**
   * One store read per room, shared by the watchers that ask while it is in flight or in the same
   * event-loop turn (a burst of arrivals). It is dropped on the next store message and one turn
   * after it resolves, so typing times and cursors in a snapshot are never stale.
   */
  function sharedView(room: RoomHub): Promise<RoomView> {
    if (!room.snapshot) {
      const promise = o.rooms.getView(room.name, { includeMembers: true });
      const entry = { promise };
      room.snapshot = entry;
      const drop = () => {
        if (room.snapshot === entry) room.snapshot = null;
      };
      promise.then(() => setImmediate(drop), drop);
    }
    return room.snapshot.promise;
  }

  /** Takes a fresh snapshot: messages arriving meanwhile are held and filtered by version after. */
  async function snapshot(w: Watcher): Promise<WatchItem[]> {
    w.phase = "init";
    w.needsSnapshot = false;
    w.queue.length = 0;
    await o.bus.ready(w.room.name);
    if (w.room.renewing) await w.room.renewing;
    const view = w.detail === "counts"
      ? await o.rooms.getView(w.room.name, { includeMembers: false })
      : await sharedView(w.room);
    w.pos = { epoch: view.epoch, version: view.version };
    const first: WatchItem[] =
      w.detail === "counts"
        ? [{ type: "counts", room: view.room, epoch: view.epoch, version: view.version, counts: view.counts }]
        : snapshotPages(view, w.pageSize, w.order);
    goLive(w);
    return first;
  }

  function goLive(w: Watcher) {
    w.phase = "live";
    const early = w.early;
    w.early = [];
    for (const m of early) apply(w, m);
  }

  async function* run(w: Watcher, resumeFrom: Position | undefined, signal: AbortSignal): AsyncGenerator<WatchItem> {
    const emit = function* (items: WatchItem[], live = true): Generator<WatchItem> {
      for (const item of items) {
        if (w.closed) return;
        obs.delivered?.(item.type === "event" ? item.event.kind : item.type);
        // Replayed events (resume) are old by design: only live ones measure fan-out latency.
        if (live && item.type === "event") obs.latency?.(w.transport, Math.max(0, o.clock.now() - item.event.timeMs) / 1000);
        w.parkedSince = o.clock.now();
        yield item;
        w.parkedSince = 0;
      }
    };
    try {
      let first: WatchItem[];
      if (resumeFrom && w.detail === "full") {
        const events = await o.rooms.readLog(w.room.name, resumeFrom);
        if (events) {
          w.pos = resumeFrom;
          first = events.map((event) => ({ type: "event", event }) as WatchItem);
          if (events.length > 0) w.pos = { epoch: resumeFrom.epoch, version: events[events.length - 1]!.version };
          goLive(w);
        } else {
          obs.resync?.("resume_miss");
          first = await snapshot(w);
        }
      } else {
        first = await snapshot(w);
      }
      yield* emit(first, false);
      let lastSent = o.clock.now();
      while (!w.closed) {
        if (w.error) throw w.error;
        if (w.needsSnapshot) {
          yield* emit(await snapshot(w));
          lastSent = o.clock.now();
          continue;
        }
        const item = w.queue.shift();
        if (item) {
          yield* emit([item]);
          if (item.type === "ended") return; // the stream ends after the room did (OK)
          lastSent = o.clock.now();
          continue;
        }
        const idleFor = o.clock.now() - lastSent;
        if (idleFor >= o.timings.keepaliveMs) {
          yield* emit([{ type: "keepalive", timeMs: o.clock.now() }]);
          lastSent = o.clock.now();
          continue;
        }
        await new Promise<void>((resolve) => {
          const t = o.clock.setTimeout(resolve, o.timings.keepaliveMs - idleFor);
          w.wake = () => {
            t.cancel();
            resolve();
          };
        });
      }
      if (w.error) throw w.error;
      signal.throwIfAborted();
    } finally {
      detach(w);
    }
  }

  return {
    watch(roomName, opts) {
      if (closedWith) throw closedWith;
      const total = counts.full + counts.counts;
      if (total >= o.limits.maxWatchers) {
        throw limitExceeded("watchers", o.limits.maxWatchers, total + 1, "per process", "TOO_MANY_WATCHERS");
      }
      const room = roomFor(roomName);
      const transport = opts.transport ?? "connect";
      const w: Watcher = {
        room,
        detail: opts.detail,
        transport,
        phase: "init",
        early: [],
        queue: [],
        pos: { epoch: "", version: 0 },
        needsSnapshot: false,
        countsDirty: false,
        wake: null,
        error: null,
        closed: false,
        parkedSince: 0,
        burst: false,
        ending: false,
        onStall: opts.onStall,
        order: opts.order ?? "joined",
        pageSize: Math.min(o.limits.snapshotPageSize, opts.snapshotPageSize || o.limits.snapshotPageSize),
      };
      room.watchers.add(w);
      counts[opts.detail]++;
      let t = byTransport.get(transport);
      if (!t) byTransport.set(transport, (t = { full: 0, counts: 0 }));
      t[opts.detail]++;
      stallTimer ??= o.clock.setInterval(checkStalls, Math.max(10, Math.floor(o.timings.watcherStallMs / 4)));
      positionTimer ??= o.clock.setInterval(() => {
        if (checkingPositions) return;
        checkingPositions = true;
        checkPositions().finally(() => (checkingPositions = false));
      }, o.timings.positionCheckMs);
      if (opts.signal.aborted) detach(w);
      else opts.signal.addEventListener("abort", () => detach(w), { once: true });
      return run(w, opts.resumeFrom, opts.signal);
    },
    watcherCount: () => ({ ...counts }),
    watchersByTransport: () => Object.fromEntries([...byTransport].map(([k, v]) => [k, { ...v }])),
    roomCount: () => rooms.size,
    roomWatchers(room) {
      let n = 0;
      for (const w of rooms.get(room)?.watchers ?? []) if (w.detail !== "counts") n++;
      return n;
    },
    close(error) {
      closedWith = error;
      stallTimer?.cancel();
      positionTimer?.cancel();
      for (const room of [...rooms.values()]) {
        for (const w of [...room.watchers]) {
          w.error = error;
          wakeUp(w);
        }
      }
    },
  };
}
