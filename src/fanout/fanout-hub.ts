import type { Clock, TimerHandle } from "../core/clock.js";
import type { Limits, Timings } from "../core/options.js";
import { limitExceeded, PresenceError } from "../core/presence-error.js";
import type { Counts, CursorBatch, Position, PresenceEvent, RoomView, StoreMessage, TypingEvent } from "../core/presence-event.js";
import type { EventBus } from "../store/ports/event-bus.js";
import type { RoomStore } from "../store/ports/room-store.js";

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
 */

export type Detail = "full" | "counts";

/** What a watch stream yields, in order. */
export type WatchItem =
  | { type: "snapshot"; view: RoomView; first: boolean; last: boolean }
  | { type: "event"; event: PresenceEvent }
  | { type: "counts"; room: string; epoch: string; version: number; counts: Counts }
  | { type: "keepalive"; timeMs: number }
  | { type: "typing"; typing: TypingEvent }
  | { type: "cursors"; batch: CursorBatch };

/**
 * Why a watcher got a fresh snapshot: `overflow` (its reader fell behind by a whole queue),
 * `burst` (one flush carried more items than a queue holds for a reader that was keeping up: one
 * snapshot is cheaper than the burst), `gap` / `epoch` (continuity broken), `resume_miss` (the
 * resume position is no longer in the log).
 */
export type ResyncReason = "overflow" | "burst" | "gap" | "epoch" | "resume_miss" | "reconnect" | "position";

/** Hooks for metrics; all optional. `transport` is the watch's {@link WatchOptions.transport}. */
export interface FanoutObserver {
  delivered?(kind: string): void;
  overflow?(transport: string): void;
  /** A live membership event was handed to the reader, `seconds` after its commit time (`timeMs`). */
  latency?(transport: string, seconds: number): void;
  resync?(reason: ResyncReason): void;
  stalled?(): void;
  error?(err: unknown): void;
}

export interface WatchOptions {
  detail: Detail;
  /** Who reads the watch, for metrics only (for example `connect`, `ws`). Default `connect`. */
  transport?: string;
  resumeFrom?: Position;
  /** Aborting removes the watcher at once (cleanup does not wait for the generator). */
  signal: AbortSignal;
  /** Called when the reader has not pulled for `watcherStallMs`; the transport resets the stream. */
  onStall?: () => void;
}

export interface FanoutHub {
  /** Opens a watch. Throws TOO_MANY_WATCHERS (limit_exceeded) when the process is full. */
  watch(room: string, options: WatchOptions): AsyncGenerator<WatchItem>;
  /** Live watchers by detail. */
  watcherCount(): { full: number; counts: number };
  /** Live watchers by transport ({@link WatchOptions.transport}), then detail. */
  watchersByTransport(): Record<string, { full: number; counts: number }>;
  /** Rooms with live watchers (one store subscription each). */
  roomCount(): number;
  /** Ends every watch with `error` (DRAINING on shutdown) and refuses new ones. */
  close(error: PresenceError): void;
}

export interface FanoutHubOptions {
  /** Snapshots, log replays and position checks. */
  rooms: Pick<RoomStore, "getView" | "readLog" | "position">;
  /** The rooms' committed events, typing and cursors. */
  bus: Pick<EventBus, "subscribe" | "ready">;
  clock: Clock;
  timings: Timings;
  limits: Limits;
  observer?: FanoutObserver;
}

interface Watcher {
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
  onStall?: () => void;
}

interface RoomHub {
  name: string;
  watchers: Set<Watcher>;
  unsubscribe: () => void;
  pending: StoreMessage[];
  snapshot: { promise: Promise<RoomView> } | null;
  /** The store's position at the previous position check (null before the first). */
  checked: Position | null;
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
    if (w.needsSnapshot) return false;
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
      const r: RoomHub = { name, watchers: new Set(), unsubscribe: () => {}, pending: [], snapshot: null, checked: null };
      r.unsubscribe = o.bus.subscribe(name, (m) => {
        r.snapshot = null; // the cached view is stale now
        r.pending.push(m);
        dirty.add(r);
        scheduleFlush();
      });
      rooms.set(name, r);
      room = r;
    }
    return room;
  }

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

  function pages(view: RoomView): WatchItem[] {
    const size = Math.max(1, o.limits.snapshotPageSize);
    const n = Math.max(1, Math.ceil(view.users.length / size));
    const out: WatchItem[] = [];
    for (let i = 0; i < n; i++) {
      const users = view.users.slice(i * size, (i + 1) * size);
      const page: RoomView =
        i === 0 ? { ...view, users } : { ...view, users, typing: [], cursors: [] };
      out.push({ type: "snapshot", view: page, first: i === 0, last: i === n - 1 });
    }
    return out;
  }

  /** Takes a fresh snapshot: messages arriving meanwhile are held and filtered by version after. */
  async function snapshot(w: Watcher): Promise<WatchItem[]> {
    w.phase = "init";
    w.needsSnapshot = false;
    w.queue.length = 0;
    await o.bus.ready(w.room.name);
    const view = w.detail === "counts"
      ? await o.rooms.getView(w.room.name, { includeMembers: false })
      : await sharedView(w.room);
    w.pos = { epoch: view.epoch, version: view.version };
    const first: WatchItem[] =
      w.detail === "counts"
        ? [{ type: "counts", room: view.room, epoch: view.epoch, version: view.version, counts: view.counts }]
        : pages(view);
    goLive(w);
    return first;
  }

  function goLive(w: Watcher) {
    w.phase = "live";
    const early = w.early;
    w.early = [];
    for (const m of early) apply(w, m);
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
      let pos: Position;
      try {
        pos = await o.rooms.position(room.name);
      } catch (err) {
        obs.error?.(err);
        continue;
      }
      const prev = room.checked;
      room.checked = pos;
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
    const now = o.clock.now();
    for (const room of rooms.values()) {
      for (const w of room.watchers) {
        if (w.parkedSince > 0 && now - w.parkedSince >= o.timings.watcherStallMs) {
          w.parkedSince = 0;
          obs.stalled?.();
          w.onStall?.();
        }
      }
    }
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
        onStall: opts.onStall,
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
