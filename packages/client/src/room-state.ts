import type { RoomView } from "../../../src/core/presence-event.js";
import type { Clock, TimerHandle } from "../../../src/core/clock.js";
import { createRoomViewTracker, type RoomViewTracker } from "../../../src/core/room-view-tracker.js";
import type { WatchPresenceResponse } from "../../../gen/presence/v1/presence_pb.js";
import { createCursorHelper, type CursorHelper, type FrameScheduler } from "./cursor-helper.js";
import { broadcastFromPb, cursorBatchFromPb, eventFromPb, typingFromPb, viewFromPb } from "./proto-mapping.js";
import { cursorsOf, diffViews, toViewState, userOf } from "./room-view-state.js";
import { createTypingHelper, type TypingHelper } from "./typing-helper.js";
import type { CursorPosition, RoomEndedEvent, RoomEvents, RoomViewState } from "./types.js";
import type { JsonObject } from "@bufbuild/protobuf";

/**
 * The client's replica of one joined room: the shared room-view tracker fed with snapshot pages,
 * versioned events, typing and cursors, plus what the SDK adds around it:
 *
 * - **No partial views.** A snapshot replaces the view only when its last page arrives; until then
 *   the previous view stays on screen (no flicker on reconnect). An event that does not follow
 *   the current version ("gap") makes the room resync: `host.resync` re-watches without a resume
 *   position and every event is ignored until the fresh snapshot starts.
 * - **Events.** Applied membership events become `join` / `leave` / `update`; a snapshot that
 *   replaces an earlier view is diffed into `join` / `leave` events marked `resync`.
 * - **Typing expiry.** Receivers expire typing entries themselves (the server only sends
 *   `typing = false` on stop or leave), so a timer fires at the earliest expiry.
 */
export interface RoomStateHost {
  clock: Clock;
  /** This client's connection id (the session's), if it has a session. */
  selfConnectionId(): string | undefined;
  /** Delivers a room event to the client's and the handles' listeners. */
  emit<K extends keyof RoomEvents>(state: RoomState, event: K, payload: RoomEvents[K]): void;
  /** Asks for a fresh snapshot of the room (re-watch without a resume position). */
  resync(state: RoomState): void;
  /** The room ended on the server: drop it (its handles see `ended`; no Leave is sent). */
  ended(state: RoomState): void;
  sendTyping(state: RoomState, typing: boolean): void;
  sendCursor(state: RoomState, position: CursorPosition): void | Promise<unknown>;
  /** Sends a typed-presence update; false when not connected (the next Join carries `presence`). */
  sendPresence(state: RoomState, presence: JsonObject, replace: boolean): boolean;
  /** Minimum time between two presence updates sent for one room (ms). */
  presenceIntervalMs: number;
  typingOptions: { idleMs?: number | undefined; refreshMs?: number | undefined };
  frameScheduler: FrameScheduler;
}

export interface RoomState {
  readonly room: string;
  metadata: Record<string, string>;
  /** Your typed presence in the room (applied locally at once; Joins carry it). */
  readonly presence: JsonObject;
  /**
   * Merges `partial` into your presence (or replaces it) now, and sends it: at once, or merged with
   * later calls after `presenceIntervalMs` (at most one update per interval per room).
   */
  setPresence(partial: JsonObject, replace: boolean): void;
  /** Handles that hold this room (the room is left when the last one lets go). */
  readonly handles: Set<object>;
  /** Generation of the connection in which the room was last joined (0 = not joined). */
  joinedGen: number;
  /** True while the room is watched on the current connection. */
  watching: boolean;
  readonly typing: TypingHelper;
  readonly cursor: CursorHelper;
  /** The current complete view, or null before the first one. Same object until it changes. */
  view(): RoomViewState | null;
  /** The user id of this client in the room, once seen in a view. */
  selfUserId(): string | undefined;
  /** True after a gap, until a fresh snapshot starts. */
  readonly resyncing: boolean;
  /** Position of the current view, to resume a watch. */
  position(): { epoch: string; version: number } | undefined;
  /** Resolves with the first complete view; rejects if the room fails or is left first. */
  readonly ready: Promise<RoomViewState>;
  /** A complete view from a Join or Navigate answer. */
  seed(view: RoomView): void;
  onWatch(msg: WatchPresenceResponse): void;
  /** The session (own connection id) changed: recompute `isSelf` marks. */
  refreshSelf(): void;
  /** The room cannot be joined (terminal error). */
  fail(err: Error): void;
  /** Set once the server said the room ended (the client then drops it). */
  readonly ended: RoomEndedEvent | null;
  dispose(): void;
  readonly disposed: boolean;
}

export function createRoomState(room: string, metadata: Record<string, string>, host: RoomStateHost, initialPresence?: JsonObject): RoomState {
  let presence: JsonObject = Object.freeze({ ...(initialPresence ?? {}) }) as JsonObject;
  /** Not sent yet: keys to merge (or the whole object when `pendingReplace`). */
  let pending: JsonObject | null = null;
  let pendingReplace = false;
  let presenceTimer: TimerHandle | null = null;
  const flushPresence = () => {
    presenceTimer = null;
    if (!pending || disposed) return;
    const body = pending;
    const replace = pendingReplace;
    pending = null;
    pendingReplace = false;
    // Not connected: dropped; the next Join carries the whole presence.
    if (host.sendPresence(state, body, replace)) presenceTimer = host.clock.setTimeout(flushPresence, host.presenceIntervalMs);
  };
  const tracker: RoomViewTracker = createRoomViewTracker();
  let cached: RoomViewState | null = null;
  let resyncing = false;
  let disposed = false;
  let ended: RoomEndedEvent | null = null;
  let selfUserId: string | undefined;
  let typingTimer: TimerHandle | null = null;
  let settle: { resolve: (v: RoomViewState) => void; reject: (e: Error) => void } | null = null;
  const ready = new Promise<RoomViewState>((resolve, reject) => (settle = { resolve, reject }));
  ready.catch(() => {}); // a caller who never awaits `ready` must not see an unhandled rejection

  const self = () => host.selfConnectionId();

  const recompute = (): RoomViewState | null => {
    const v = tracker.view();
    if (!v) return (cached = null);
    const me = self();
    if (me !== undefined) {
      const u = v.users.find((x) => x.connections.some((c) => c.connectionId === me));
      if (u) selfUserId = u.user.userId;
    }
    cached = toViewState(v, me, selfUserId);
    return cached;
  };

  const emit = <K extends keyof RoomEvents>(event: K, payload: RoomEvents[K]) => {
    if (!disposed) host.emit(state, event, payload);
  };

  const emitView = () => {
    const v = recompute();
    if (!v) return;
    if (settle) {
      settle.resolve(v);
      settle = null;
    }
    emit("view", v);
  };

  const scheduleTypingExpiry = () => {
    typingTimer?.cancel();
    typingTimer = null;
    const v = tracker.view();
    if (!v || v.typing.length === 0) return;
    const soonest = Math.min(...v.typing.map((t) => t.expiresInMs));
    typingTimer = host.clock.setTimeout(() => {
      typingTimer = null;
      const before = tracker.view()?.typing.length ?? 0;
      tracker.expireTyping(host.clock.now());
      const after = tracker.view()?.typing.length ?? 0;
      if (after !== before) {
        emitView();
        emit("typing", { room, typing: cached?.typing ?? [] });
      }
      scheduleTypingExpiry();
    }, Math.max(1, soonest + 1));
  };

  /** The view was replaced wholesale (snapshot or seed): diff, then publish. */
  const replaced = (previous: RoomView | null) => {
    const current = tracker.view();
    if (!current) return;
    if (previous && previous !== current) {
      const { joins, leaves } = diffViews(room, previous, current, self());
      for (const l of leaves) emit("leave", l);
      for (const j of joins) emit("join", j);
    }
    emitView();
    if (cached && (cached.typing.length > 0 || (previous?.typing.length ?? 0) > 0)) emit("typing", { room, typing: cached.typing });
    if (cached && (cached.cursors.length > 0 || (previous?.cursors.length ?? 0) > 0)) emit("cursors", { room, cursors: cached.cursors, moved: cached.cursors, removed: [] });
    scheduleTypingExpiry();
  };

  const state: RoomState = {
    room,
    metadata,
    handles: new Set(),
    joinedGen: 0,
    watching: false,
    typing: createTypingHelper({ clock: host.clock, send: (t) => host.sendTyping(state, t), ...host.typingOptions }),
    cursor: createCursorHelper({ send: (p) => host.sendCursor(state, p), schedule: host.frameScheduler }),
    view: () => cached,
    get presence() {
      return presence;
    },
    setPresence(partial, replace) {
      if (disposed) return;
      presence = Object.freeze(replace ? { ...partial } : { ...presence, ...partial }) as JsonObject;
      if (replace || !pending) {
        pending = replace ? { ...partial } : { ...partial };
        pendingReplace = replace;
      } else pending = { ...pending, ...partial };
      host.emit(state, "myPresence", presence);
      if (!presenceTimer) flushPresence();
    },
    selfUserId: () => selfUserId,
    position() {
      const v = tracker.view();
      return v && v.epoch !== "" ? { epoch: v.epoch, version: v.version } : undefined;
    },
    ready,
    get disposed() {
      return disposed;
    },
    get resyncing() {
      return resyncing;
    },
    get ended() {
      return ended;
    },

    seed(view) {
      if (disposed) return;
      const previous = tracker.view();
      tracker.applySnapshotPage(view, true, true, host.clock.now());
      resyncing = false;
      replaced(previous);
    },

    onWatch(msg) {
      if (disposed) return;
      const m = msg.message;
      switch (m.case) {
        case "snapshot": {
          const page = m.value;
          if (!page.view) return;
          if (resyncing && !page.first) return; // the tail of a snapshot from before the resync
          if (page.first) resyncing = false;
          const previous = tracker.view();
          tracker.applySnapshotPage(viewFromPb(page.view), page.first, page.last, host.clock.now());
          if (page.last) replaced(previous);
          return;
        }
        case "event": {
          if (resyncing) return;
          const ev = eventFromPb(m.value);
          if (!ev) return;
          const result = tracker.applyEvent(ev);
          if (result === "gap") {
            resyncing = true;
            host.resync(state);
            return;
          }
          if (result === "duplicate") return;
          const v = tracker.view()!;
          const me = self();
          switch (ev.kind) {
            case "joined":
            case "updated": {
              const u = v.users.find((x) => x.user.userId === ev.user.userId);
              if (!u) break;
              const user = userOf(u, me);
              const connection = user.connections.find((c) => c.connectionId === ev.member.connectionId);
              if (!connection) break;
              if (ev.kind === "joined") emit("join", { room, user, connection, firstOfUser: ev.firstOfUser, isSelf: connection.isSelf, resync: false });
              else emit("update", { room, user, connection });
              break;
            }
            case "left":
              emit("leave", {
                room,
                userId: ev.userId,
                connectionId: ev.connectionId,
                reason: ev.reason,
                lastOfUser: ev.lastOfUser,
                isSelf: ev.connectionId === me,
                resync: false,
              });
              break;
            case "anonymous":
              break;
          }
          emitView();
          return;
        }
        case "typing": {
          if (!tracker.view()) return;
          tracker.applyTyping(typingFromPb(m.value), host.clock.now());
          emitView();
          emit("typing", { room, typing: cached?.typing ?? [] });
          scheduleTypingExpiry();
          return;
        }
        case "cursors": {
          const v = tracker.view();
          if (!v) return;
          const batch = cursorBatchFromPb(m.value);
          tracker.applyCursors(batch);
          emitView();
          emit("cursors", { room, cursors: cached?.cursors ?? [], moved: cursorsOf(batch.cursors, v, self()), removed: batch.removedConnectionIds });
          return;
        }
        case "ended": {
          if (ended) return; // the watch's message and the member frame both say it
          const e = m.value;
          ended = { room, endedBy: e.endedBy, reason: e.reason, endedAtMs: Number(e.endedAtMs), tombstoneUntilMs: Number(e.tombstoneUntilMs) };
          emit("ended", ended);
          host.ended(state);
          return;
        }
        case "broadcast":
          // Not part of the view: delivered as it comes, also while a resync is under way.
          emit("broadcast", broadcastFromPb(m.value, host.selfConnectionId()));
          return;
        default:
          return; // counts (not asked for), keepalive
      }
    },

    refreshSelf() {
      if (tracker.view()) emitView();
    },

    fail(err) {
      if (settle) {
        settle.reject(err);
        settle = null;
      }
    },

    dispose() {
      if (disposed) return;
      disposed = true;
      typingTimer?.cancel();
      presenceTimer?.cancel();
      state.typing.dispose();
      state.cursor.dispose();
      state.fail(new Error(`left room ${room}`));
    },
  };
  return state;
}
