import type { Clock } from "../../core/clock.js";
import type { RoomEndedInfo } from "../../core/presence-event.js";
import { draining, limitExceeded } from "../../core/presence-error.js";
import type { Detail, FanoutHub } from "../../fanout/fanout-hub.js";
import type { Logger } from "../../logger.js";
import type { Metrics } from "../../metrics/registry.js";
import { errorFrameFor } from "./close-codes.js";
import type { ServerFrameInit } from "./frames.js";
import { createRoomBroadcaster, type RoomBroadcaster, type Socket, type SocketIo } from "./room-broadcaster.js";
import type { EngineTopics } from "./ws-engine.js";
import { addWatch, findWatch, removeWatch, type SocketWatch } from "./ws-session.js";

/**
 * The rooms the bridge's sockets watch: one room broadcaster per watched room (created by the
 * first watch, stopped with the last), at most `maxWatchesPerSocket` rooms per socket
 * (TOO_MANY_ROOMS past it). A room that ends or whose hub watch fails is forgotten, and its
 * sockets' watches of it are over (a failure is told with an ErrorFrame).
 */
export interface RoomWatchesOptions {
  hub: FanoutHub;
  clock: Clock;
  io: SocketIo;
  /** The engine's topics (read when a room is first watched). */
  topics: () => EngineTopics | undefined;
  snapshotPageSize: number;
  cursorTtlMs: number;
  maxWatchesPerSocket: number;
  /** True once the bridge is shutting down: new watches are refused with DRAINING. */
  isClosing: () => boolean;
  reply: (ws: Socket, frame: ServerFrameInit) => void;
  guard: (handler: string, ws: Socket | null, fn: () => void) => void;
  metrics?: Metrics;
  logger?: Logger;
  /** A watched room ended (after its watchers got their `ended`): its member sockets are told. */
  onRoomEnded?(room: string, ended: RoomEndedInfo): void;
  /** The room's broadcaster stopped (its last watch ended): its member sockets' end is watched elsewhere. */
  onUnwatched?(room: string): void;
}

export interface RoomWatches {
  /**
   * Checks that the socket may watch `room` (throws TOO_MANY_ROOMS or DRAINING) and returns the
   * function that starts the watch once the request is admitted.
   */
  prepareWatch(ws: Socket, room: string, detail: Detail, release: () => void): () => void;
  unwatch(ws: Socket, room: string): void;
  /** Sends the owed snapshot of a watch (a socket that drained). */
  resync(ws: Socket, watch: SocketWatch): void;
  /** Whether a socket of this node watches the room (a broadcaster runs). */
  watched(room: string): boolean;
  /** Stops every broadcaster (shutdown). */
  stop(): void;
}

export function createRoomWatches(o: RoomWatchesOptions): RoomWatches {
  const { metrics, logger: log } = o;
  const broadcasters = new Map<string, RoomBroadcaster>();

  function broadcasterFor(room: string): RoomBroadcaster {
    const existing = broadcasters.get(room);
    if (existing) return existing;
    const b: RoomBroadcaster = createRoomBroadcaster({
      room,
      hub: o.hub,
      clock: o.clock,
      io: o.io,
      topics: o.topics(),
      snapshotPageSize: o.snapshotPageSize,
      cursorTtlMs: o.cursorTtlMs,
      onPublished: (n) => metrics?.wsFramesSent.inc(n),
      onError: (err) => {
        metrics?.loopErrors.inc({ loop: "ws_broadcast" });
        log?.error("websocket broadcast failed", { err });
      },
      onEnded: (ended) => {
        // The room ended: every socket got its `ended` frame; their watches of it are over.
        if (broadcasters.get(room) === b) broadcasters.delete(room);
        for (const ws of b.sockets()) o.guard("watch_ended", ws, () => {
          b.remove(ws);
          removeWatch(ws.getUserData(), room);
        });
        b.stop();
        o.onRoomEnded?.(room, ended);
      },
      onFailed: (err) => {
        // The room's hub watch ended (store down, process full): tell its sockets, forget the room.
        if (broadcasters.get(room) === b) broadcasters.delete(room);
        for (const ws of b.sockets()) {
          o.guard("watch_failed", ws, () => {
            b.remove(ws);
            removeWatch(ws.getUserData(), room);
            o.reply(ws, { requestId: 0, frame: { case: "error", value: errorFrameFor(err, { room }) } });
          });
        }
        b.stop();
        o.onUnwatched?.(room);
      },
    });
    broadcasters.set(room, b);
    return b;
  }

  function unwatch(ws: Socket, room: string) {
    const s = ws.getUserData();
    if (!removeWatch(s, room)) return;
    const b = broadcasters.get(room);
    if (!b) return;
    b.remove(ws);
    if (b.size() === 0) {
      b.stop();
      broadcasters.delete(room);
      o.onUnwatched?.(room);
    }
  }

  return {
    prepareWatch(ws, room, detail, release) {
      const s = ws.getUserData();
      if (!findWatch(s, room) && s.watches.length >= o.maxWatchesPerSocket) {
        throw limitExceeded("watch.room", o.maxWatchesPerSocket, s.watches.length + 1, "watched rooms per socket", "TOO_MANY_ROOMS");
      }
      if (o.isClosing()) throw draining();
      return () => {
        if (s.closed) return release();
        unwatch(ws, room); // watching again restarts with a fresh snapshot
        const w: SocketWatch = { room, detail, needsSnapshot: false, subscribed: false, started: false, release };
        addWatch(s, w);
        broadcasterFor(room).add(ws, w);
      };
    },
    unwatch,
    watched: (room) => broadcasters.has(room),
    resync(ws, watch) {
      broadcasters.get(watch.room)?.resync(ws, watch);
    },
    stop() {
      for (const b of [...broadcasters.values()]) b.stop();
      broadcasters.clear();
    },
  };
}
