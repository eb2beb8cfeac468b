import type { Clock } from "../../core/clock.js";
import type { RoomEndedInfo, RoomView } from "../../core/presence-event.js";
import { createRoomViewTracker } from "../../core/room-view-tracker.js";
import type { FanoutHub, WatchItem } from "../../fanout/fanout-hub.js";
import { watchItemToPb } from "../wire.js";
import { lazyFrame, type EncodedFrame } from "./frames.js";
import { snapshotPageFrame } from "./snapshot-frames.js";
import type { BridgeSocket, EngineTopics } from "./ws-engine.js";
import type { SocketWatch } from "./ws-session.js";

/**
 * One broadcaster per watched room per node: the fast path of the WebSocket bridge (design §5,
 * uws-notes §2).
 *
 * It is the room's only watcher in the fan-out hub (`detail: full`), keeps the room's current view
 * with a room-view tracker, and encodes every item once: on an engine with topics (uWS) binary
 * sockets watching in full receive it through one publish on the room's topic; without topics (ws)
 * they receive the same encoded bytes by direct sends. JSON sockets and `counts` sockets always get
 * direct sends (counts at most once per event-loop turn after a membership change). Cursor batches
 * come from the store already coalesced per flush, typing already deduplicated.
 *
 * Gaps. uWS's `publish` silently skips a subscriber whose send buffer is over its cap. So before
 * every publish each subscriber over the cap is unsubscribed and marked "needs snapshot"; a dropped
 * direct send (`DROPPED`) does the same. Such a socket receives nothing more of the room until the
 * bridge sees it drain and calls `resync`: a fresh snapshot from the current view, then it is
 * subscribed again in the same tick, so it misses nothing and gets nothing twice. A socket that
 * starts watching is handled the same way (snapshot of the current view + subscribe, in one tick);
 * before the first snapshot arrives from the hub it simply waits. When the hub itself resyncs the
 * broadcaster (a gap, an epoch change, a burst), the new snapshot goes to every socket of the room.
 *
 * Snapshots sent from the current view drop cursors older than the cursor expiry and give typing
 * entries their remaining time; the encoded pages are shared by every socket served in the same
 * event-loop turn, and in rooms above one page each unchanged user's bytes are reused from the
 * previous encoding (snapshot-frames.ts).
 */
export type Socket = BridgeSocket;

/** The topic of a room's broadcasts (engines with topics). */
export const topicOf = (room: string): string => `r:${room}`;

/** What a broadcaster needs from the bridge to reach one socket. */
export interface SocketIo {
  /** Sends a frame in the socket's encoding; false when it was not sent (closed, or dropped by uWS). */
  send(ws: Socket, frame: EncodedFrame): boolean;
  /** Whether the socket's send buffer is over the cap (a publish would skip it). */
  overCap(ws: Socket): boolean;
  /** The socket missed a delivery of this watch: unsubscribe it, mark it, watch it drain. */
  behind(ws: Socket, watch: SocketWatch): void;
}

export interface RoomBroadcasterOptions {
  room: string;
  hub: FanoutHub;
  clock: Clock;
  io: SocketIo;
  /** The engine's topics (uWS), or undefined: every socket gets direct sends. */
  topics: EngineTopics | undefined;
  /** Users per snapshot page. */
  snapshotPageSize: number;
  /** Cursors older than this are left out of snapshots. */
  cursorTtlMs: number;
  /** The hub watch ended with an error (not on `stop`): the bridge tells the sockets and forgets the room. */
  onFailed(err: unknown): void;
  /** The room ended (its last `ended` frame went to every socket): forget the room's watches. */
  onEnded?(ended: RoomEndedInfo): void;
  /** An item could not be handled (counted; the broadcaster goes on). */
  onError(err: unknown): void;
  /** Binary deliveries handed to the engine by one publish (for `presence_ws_frames_sent_total`). */
  onPublished?(subscribers: number): void;
}

export interface RoomBroadcaster {
  readonly room: string;
  /** The topic of the room. */
  readonly topic: string;
  /** Adds a socket; it gets the current view (or the first one, when it arrives) and then live items. */
  add(ws: Socket, watch: SocketWatch): void;
  /** Removes a socket (unsubscribes it unless it is closed). */
  remove(ws: Socket): void;
  /**
   * Sends the socket a fresh snapshot (or counts) of the current view and, for binary full
   * watchers on an engine with topics, subscribes it, in this tick. False while the room has no view yet (it will get the
   * first one).
   */
  resync(ws: Socket, watch: SocketWatch): boolean;
  /** Sockets watching the room. */
  size(): number;
  /** The sockets watching the room (a copy). */
  sockets(): Socket[];
  /** Ends the hub watch and unsubscribes every socket. Idempotent. */
  stop(): void;
}

/** Starts a broadcaster: the hub watch begins at once. */
export function createRoomBroadcaster(o: RoomBroadcasterOptions): RoomBroadcaster {
  const topic = topicOf(o.room);
  const sockets = new Map<Socket, SocketWatch>();
  const tracker = createRoomViewTracker();
  let ready = false;
  let stopped = false;
  let restartWanted = false;
  let countsScheduled = false;
  let cache: { pages: EncodedFrame[]; counts: EncodedFrame } | null = null;
  /**
   * When each cursor was last updated, on this node's clock: cursors are stamped by the store's
   * clock (Redis'), which this node's may not match (F-T1), so their age is taken at receipt: from a
   * snapshot, by the store's time of the read; from a live batch, as new.
   */
  const cursorSeenAt = new Map<string, number>();
  let abort = new AbortController();

  const watchFrame = (item: WatchItem) => lazyFrame({ requestId: 0, frame: { case: "watch", value: watchItemToPb(item) } });

  function countsFrame(v: RoomView): EncodedFrame {
    return watchFrame({ type: "counts", room: v.room, epoch: v.epoch, version: v.version, counts: v.counts });
  }

  /** The current view as encoded snapshot pages and counts, shared within one event-loop turn. */
  function snapshotFrames(): { pages: EncodedFrame[]; counts: EncodedFrame } {
    if (cache) return cache;
    const now = o.clock.now();
    tracker.expireTyping(now);
    const current = tracker.view()!;
    const view: RoomView = { ...current, cursors: current.cursors.filter((c) => now - (cursorSeenAt.get(c.connectionId) ?? now) < o.cursorTtlMs) };
    const size = Math.max(1, o.snapshotPageSize);
    const n = Math.max(1, Math.ceil(view.users.length / size));
    const pages: EncodedFrame[] = [];
    for (let i = 0; i < n; i++) {
      const users = view.users.slice(i * size, (i + 1) * size);
      const page: RoomView = i === 0 ? { ...view, users } : { ...view, users, typing: [], cursors: [] };
      const [first, last] = [i === 0, i === n - 1];
      let b: Uint8Array | undefined;
      const json = watchFrame({ type: "snapshot", view: page, first, last });
      pages.push({ binary: () => (b ??= snapshotPageFrame(page, first, last, size, view.users.length)), json: () => json.json() });
    }
    const entry = { pages, counts: countsFrame(view) };
    cache = entry;
    setImmediate(() => {
      if (cache === entry) cache = null;
    });
    return entry;
  }

  function resync(ws: Socket, watch: SocketWatch): boolean {
    if (!ready || stopped) return false;
    const f = snapshotFrames();
    for (const frame of watch.detail === "counts" ? [f.counts] : f.pages) {
      if (!o.io.send(ws, frame)) {
        o.io.behind(ws, watch);
        return true;
      }
    }
    watch.needsSnapshot = false;
    watch.started = true;
    if (o.topics && watch.detail === "full" && !ws.getUserData().json && !watch.subscribed) {
      o.topics.subscribe(ws, topic);
      watch.subscribed = true;
    }
    return true;
  }

  /** Hands one live item to every socket that is in sync: one publish plus direct sends. */
  function broadcast(item: WatchItem) {
    const frame = watchFrame(item);
    const toCounts = item.type === "keepalive" || item.type === "ended";
    let subscribers = 0;
    for (const [ws, w] of sockets) {
      if (!w.started || w.needsSnapshot) continue;
      if (w.detail === "counts" && !toCounts) continue;
      // `ended` goes to each socket directly: the room's sockets unsubscribe right after it, and a
      // published frame is only delivered when the topic drains (a send drains the socket's first).
      if (w.subscribed && item.type !== "ended") {
        if (o.io.overCap(ws)) o.io.behind(ws, w);
        else subscribers++;
        continue;
      }
      if (!o.io.send(ws, frame)) o.io.behind(ws, w);
    }
    if (subscribers > 0) {
      o.topics?.publish(topic, frame.binary());
      o.onPublished?.(subscribers);
    }
  }

  function scheduleCounts() {
    if (countsScheduled) return;
    countsScheduled = true;
    setImmediate(() => {
      countsScheduled = false;
      const v = tracker.view();
      if (stopped || !v) return;
      let frame: EncodedFrame | undefined;
      for (const [ws, w] of sockets) {
        if (w.detail !== "counts" || !w.started || w.needsSnapshot) continue;
        frame ??= countsFrame(v);
        if (!o.io.send(ws, frame)) o.io.behind(ws, w);
      }
    });
  }

  /** Set when the room ended: the hub's watch is over, and so is this broadcaster. */
  let ended: RoomEndedInfo | null = null;

  function onItem(item: WatchItem) {
    const now = o.clock.now();
    switch (item.type) {
      case "snapshot":
        tracker.applySnapshotPage(item.view, item.first, item.last, now);
        if (item.first) {
          cursorSeenAt.clear();
          for (const c of item.view.cursors) cursorSeenAt.set(c.connectionId, now - Math.max(0, (item.view.readAtMs ?? now) - c.updatedAtMs));
        }
        if (!item.last) return;
        ready = true;
        cache = null;
        // The new state of the room, for every socket: the first one, or a resync of the hub.
        for (const [ws, w] of sockets) {
          if (o.io.overCap(ws)) o.io.behind(ws, w);
          else resync(ws, w);
        }
        return;
      case "event": {
        const applied = tracker.applyEvent(item.event);
        if (applied === "duplicate") return;
        if (applied === "gap") {
          // The hub guarantees continuity; if it ever breaks, start over from a fresh snapshot.
          restartWanted = true;
          return;
        }
        if (item.event.kind === "left") cursorSeenAt.delete(item.event.connectionId);
        cache = null;
        broadcast(item);
        scheduleCounts();
        return;
      }
      case "typing":
        tracker.applyTyping(item.typing, now);
        cache = null;
        broadcast(item);
        return;
      case "cursors":
        tracker.applyCursors(item.batch);
        for (const c of item.batch.cursors) cursorSeenAt.set(c.connectionId, now);
        for (const id of item.batch.removedConnectionIds) cursorSeenAt.delete(id);
        cache = null;
        broadcast(item);
        return;
      case "keepalive":
      case "broadcast":
        broadcast(item);
        return;
      case "counts":
        return; // not produced for full watchers
      case "ended":
        ended = item.ended;
        broadcast(item);
        return;
    }
  }

  async function run() {
    while (!stopped) {
      restartWanted = false;
      ready = false;
      abort = new AbortController();
      try {
        for await (const item of o.hub.watch(o.room, { detail: "full", transport: "ws", signal: abort.signal })) {
          try {
            onItem(item);
          } catch (err) {
            o.onError(err);
          }
          if (restartWanted || stopped) break;
        }
        if (ended) return o.onEnded?.(ended);
        if (!restartWanted) return;
      } catch (err) {
        if (stopped) return;
        if (restartWanted) continue;
        o.onFailed(err);
        return;
      }
    }
  }
  void run().catch((err) => o.onError(err));

  function remove(ws: Socket) {
    const w = sockets.get(ws);
    if (!w) return;
    sockets.delete(ws);
    if (w.subscribed && !ws.getUserData().closed) o.topics?.unsubscribe(ws, topic);
    w.subscribed = false;
  }

  return {
    room: o.room,
    topic,
    add(ws, watch) {
      sockets.set(ws, watch);
      if (ready) resync(ws, watch);
    },
    remove,
    resync,
    size: () => sockets.size,
    sockets: () => [...sockets.keys()],
    stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      for (const ws of [...sockets.keys()]) remove(ws);
    },
  };
}
