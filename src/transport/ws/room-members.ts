import type { Clock, TimerHandle } from "../../core/clock.js";
import type { RoomEndedInfo } from "../../core/presence-event.js";
import type { FanoutHub } from "../../fanout/fanout-hub.js";
import { roomEndedToPb } from "../wire.js";
import type { ServerFrameInit } from "./frames.js";
import type { Socket } from "./room-broadcaster.js";

/**
 * The member sockets of each room on this node (sockets whose session is in the room through
 * them) and the end of those rooms (rooms.proto EndRoom, or the idle reaper): every member socket
 * gets one `room_ended` frame (frames.proto ServerFrame 22), whether it watches the room or not (the
 * SDK always watches its rooms; a raw WebSocket client may not), and the room leaves the socket's
 * session state (`ended`; its last room: the session ended).
 *
 * How the end reaches this node: a room that a socket of this node watches has a broadcaster,
 * whose `ended` item is handed to `roomEnded`; a room with member sockets and no broadcaster gets a
 * `counts` watch of the fan-out hub (one per room per node, not per socket), which ends with the
 * same item. When the room's last broadcaster stops while members remain, that watch starts in the
 * same tick; a watch that fails (store down) is tried again after `retryMs` (PRESENCE_NODE_REFRESH_MS)
 * while members remain.
 */
export interface RoomMembersOptions {
  hub: FanoutHub;
  clock: Clock;
  /** Whether a broadcaster of this node watches the room (then its `ended` comes through `roomEnded`). */
  watched(room: string): boolean;
  reply(ws: Socket, frame: ServerFrameInit): void;
  /** The room ended for the socket's session: update the socket's state (no frame: sent here). */
  ended(ws: Socket, room: string): void;
  guard(handler: string, ws: Socket | null, fn: () => void): void;
  /** Pause before a failed end watch is opened again (the node refresh interval). */
  retryMs: number;
}

export interface RoomMembers {
  /** The socket's session is in `room` through it (Join, Navigate). */
  joined(ws: Socket, room: string): void;
  /** It is no longer (Leave, Navigate away, the session ended, the socket closed). */
  left(ws: Socket, room: string): void;
  /** The room ended: each member socket gets `room_ended` once. */
  roomEnded(room: string, info: RoomEndedInfo): void;
  /** The room's broadcaster stopped: its members' end is watched here from now on. */
  unwatched(room: string): void;
  /** Rooms with member sockets on this node. */
  size(): number;
  stop(): void;
}

interface EndWatch {
  abort: AbortController;
  retry: TimerHandle | null;
}

export function createRoomMembers(o: RoomMembersOptions): RoomMembers {
  const members = new Map<string, Set<Socket>>();
  const watches = new Map<string, EndWatch>();
  let stopped = false;

  function stopWatch(room: string): void {
    const w = watches.get(room);
    if (!w) return;
    watches.delete(room);
    w.abort.abort();
    w.retry?.cancel();
  }

  function watchEnd(room: string): void {
    if (stopped || watches.has(room) || !members.has(room) || o.watched(room)) return;
    const w: EndWatch = { abort: new AbortController(), retry: null };
    watches.set(room, w);
    void (async () => {
      try {
        for await (const item of o.hub.watch(room, { detail: "counts", transport: "ws", signal: w.abort.signal })) {
          if (item.type === "ended") return roomEnded(room, item.ended);
        }
        if (watches.get(room) === w) watches.delete(room); // ended without an end (the hub closed)
      } catch {
        // The store or the process refused the watch: try again while members remain.
        if (watches.get(room) !== w || w.abort.signal.aborted) return;
        w.retry = o.clock.setTimeout(() => {
          if (watches.get(room) !== w) return;
          watches.delete(room);
          watchEnd(room);
        }, o.retryMs);
      }
    })();
  }

  function roomEnded(room: string, info: RoomEndedInfo): void {
    const sockets = members.get(room);
    members.delete(room);
    stopWatch(room);
    for (const ws of sockets ?? []) {
      o.guard("room_ended", ws, () => {
        if (ws.getUserData().closed) return;
        o.reply(ws, { requestId: 0, frame: { case: "roomEnded", value: roomEndedToPb(info) } });
        o.ended(ws, room);
      });
    }
  }

  return {
    joined(ws, room) {
      let set = members.get(room);
      if (!set) members.set(room, (set = new Set()));
      set.add(ws);
      watchEnd(room);
    },
    left(ws, room) {
      const set = members.get(room);
      if (!set?.delete(ws) || set.size > 0) return;
      members.delete(room);
      stopWatch(room);
    },
    roomEnded,
    unwatched: (room) => watchEnd(room),
    size: () => members.size,
    stop() {
      stopped = true;
      for (const room of [...watches.keys()]) stopWatch(room);
      members.clear();
    },
  };
}
