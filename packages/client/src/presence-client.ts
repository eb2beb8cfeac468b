import { systemClock } from "../../../src/core/clock.js";
import { asClientError, DEFAULT_BROADCAST_MAX_BYTES, makeTransport, type PresenceClientOptions } from "./client-options.js";
import { createBroadcastSender } from "./broadcast-sender.js";
import { createConnection } from "./connection.js";
import { defaultFrameScheduler } from "./cursor-helper.js";
import { createEmitter } from "./emitter.js";
import { PresenceClientError } from "./errors.js";
import { roomOfPage, watchLocation, type FollowPageOptions, type LocationLike } from "./page-location.js";
import { cursorPositionToPb, viewFromPb } from "./proto-mapping.js";
import { RoomHandleImpl, type HandleHost, type RoomHandle } from "./room-handle.js";
import { createRoomState, type RoomState, type RoomStateHost } from "./room-state.js";
import type { Activity, ConnectionStatus, PresenceEvents, RoomEvents, SelfInfo } from "./types.js";
import { createVisibilityController } from "./visibility.js";
import { createUserStatusTracker, type UsersHandle } from "./user-status.js";
import type { JsonObject } from "@bufbuild/protobuf";
import { PresenceOverride as PbPresenceOverride } from "../../../gen/presence/v1/types_pb.js";

export type { PresenceClientOptions } from "./client-options.js";

/**
 * The presence client: one session for this tab, joined to any number of rooms, over the
 * WebSocket bridge or Connect-Web, with the same API on both. This module holds the public API,
 * the rooms and their handles (join, leave, navigate, metadata) and the browser wiring (page
 * visibility, the `online` event); the connection state machine (cycles, reconnect with backoff
 * and session reclaim, heartbeats, pause) is in `connection.ts`, each room's replica in
 * `room-state.ts`.
 *
 * Page visibility (browsers). Hidden 30 s → `away` (one AWAY heartbeat; Connect heartbeats stop,
 * so the session lapses after its TTL); hidden 5 min → the rooms are left and the connection
 * closed (`paused`); visible again → `active`, reconnecting and rejoining if needed.
 */
export interface PresenceClient {
  readonly status: ConnectionStatus;
  /** True while connected (joined and watching every room). */
  readonly connected: boolean;
  /** This client's activity (`away` when the tab is hidden for a while, or set by `setActivity`). */
  readonly activity: Activity;
  /** This tab's public connection id, once it has a session. */
  readonly connectionId: string | undefined;
  /** Resolves once connected; rejects on a terminal error or `close()`. */
  connect(): Promise<void>;
  /** Leaves every room, ends the session and stops all timers. The client cannot be reused. */
  close(): Promise<void>;
  /**
   * Joins a room (connecting if needed) and returns its live handle at once. `presence`: your
   * initial typed presence in the room (a JSON object; change it with `handle.setPresence`).
   */
  join(room: string, metadata?: Record<string, string>, options?: { presence?: JsonObject | undefined }): RoomHandle;
  /**
   * Joins the room of a page and follows client-side route changes with Navigate. A string is a
   * URL or path; a Location (default: `globalThis.location`) is watched for changes.
   */
  followPage(page?: string | LocationLike, options?: FollowPageOptions): RoomHandle;
  /** Reports activity explicitly (e.g. an app's own idle detection). Visibility changes override it. */
  setActivity(activity: Activity): void;
  /**
   * The user did something: an activity signal for the server's away rule, sent at most once per
   * `activitySignalMs` (30 s). Called by the SDK itself on page input unless `trackInput: false`.
   */
  signalActivity(): void;
  /**
   * Sets the user's custom status text, invisible flag and/or manual presence ("away" or "online"
   * across all of the user's devices until "auto").
   */
  setStatus(status: { customStatus?: string | undefined; invisible?: boolean | undefined; presence?: "auto" | "away" | "online" | undefined }): Promise<void>;
  /**
   * Follows the status of users (online / away / offline, last seen, custom status) live. All
   * handles share one server watch of the union of their ids; close the handle when done.
   */
  users(userIds: readonly string[]): UsersHandle;
  /** Every room handle currently held. */
  rooms(): RoomHandle[];
  on<K extends keyof PresenceEvents>(event: K, fn: (payload: PresenceEvents[K]) => void): () => void;
}

export function createPresenceClient(options: PresenceClientOptions): PresenceClient {
  const clock = options.clock ?? systemClock;
  const transport = makeTransport(options, clock);
  const emitter = createEmitter<PresenceEvents>();
  const rooms = new Map<string, RoomState>();
  const leftOffline = new Set<string>();
  const tracker = createUserStatusTracker(
    {
      canWatch: () => conn.status === "connected",
      ensureConnected: () => conn.ensureConnecting(),
      watch: (ids) => transport.watchUsers(ids),
      unwatch: () => transport.unwatchUsers(),
    },
    clock,
  );
  const conn = createConnection({ options, clock, transport, emitter, rooms, leftOffline, users: tracker });
  const live = () => conn.status === "connected" && conn.session !== null;
  const sendBroadcast = createBroadcastSender({
    transport,
    maxBytes: options.broadcastMaxBytes ?? DEFAULT_BROADCAST_MAX_BYTES,
    sessionIn: (room) => (live() && rooms.get(room)?.watching ? conn.session : null),
  });

  // ---- what a room replica needs -------------------------------------------------------------------

  const host: RoomStateHost = {
    clock,
    selfConnectionId: () => conn.session?.connectionId,
    emit(state, event, payload) {
      emitter.emit(event, payload as PresenceEvents[typeof event]);
      for (const h of state.handles) (h as RoomHandleImpl).deliver(event, payload as RoomEvents[typeof event]);
    },
    ended(state) {
      if (rooms.get(state.room) !== state) return;
      rooms.delete(state.room);
      if (state.watching) transport.unwatch(state.room);
      state.fail(new PresenceClientError("failed_precondition", `room "${state.room}" was ended`, "ROOM_ENDED"));
      state.dispose();
      if (rooms.size === 0 && live()) conn.goIdle(); // the server ended the session with its last room
    },
    resync(state) {
      if (conn.status !== "connected" || !state.watching) return;
      transport.unwatch(state.room);
      transport.watch(state.room); // no resume position: the server starts with a fresh snapshot
    },
    sendTyping(state, typing) {
      const s = conn.session;
      if (!live() || !s || !state.watching) return;
      const myGen = conn.gen;
      transport.setTyping({ sessionId: s.sessionId, room: state.room, typing }).catch((e) => conn.onCallError(myGen, e));
    },
    sendCursor(state, position) {
      const s = conn.session;
      if (!live() || !s || !state.watching) return;
      const myGen = conn.gen;
      return transport.updateCursor({ sessionId: s.sessionId, room: state.room, position: cursorPositionToPb(position) }).catch((e) => conn.onCallError(myGen, e));
    },
    sendPresence(state, presence, replace) {
      const s = conn.session;
      if (!live() || !s || !state.watching) return false;
      const myGen = conn.gen;
      transport.updatePresence({ sessionId: s.sessionId, room: state.room, presence, replace }).catch((e) => conn.onCallError(myGen, e));
      return true;
    },
    presenceIntervalMs: options.presenceIntervalMs ?? 100,
    typingOptions: options.typing ?? {},
    frameScheduler: options.frameScheduler ?? defaultFrameScheduler(clock),
  };

  // ---- rooms and handles ---------------------------------------------------------------------------

  function newRoomState(room: string, metadata: Record<string, string>, presence?: JsonObject): RoomState {
    const state = createRoomState(room, metadata, host, presence);
    rooms.set(room, state);
    if (conn.status === "connected") conn.joinLive(state);
    else conn.ensureConnecting();
    return state;
  }

  function join(room: string, metadata?: Record<string, string>, opts: { presence?: JsonObject | undefined } = {}): RoomHandle {
    if (conn.status === "closed") throw new Error("the presence client is closed");
    const existing = rooms.get(room);
    if (existing) {
      const handle = new RoomHandleImpl(handleHost, existing);
      if (metadata && !sameRecord(metadata, existing.metadata)) void handle.setMetadata(metadata).catch(() => undefined);
      if (opts.presence) handle.setPresence(opts.presence);
      return handle;
    }
    return new RoomHandleImpl(handleHost, newRoomState(room, { ...(metadata ?? {}) }, opts.presence));
  }

  /** Lets go of `state` for `handle`; leaves the room when no handle holds it any more. */
  async function releaseHandle(handle: RoomHandleImpl, state: RoomState, alreadyDetached = false): Promise<void> {
    if (!alreadyDetached) state.handles.delete(handle);
    if (state.handles.size > 0 || state.disposed) return;
    rooms.delete(state.room);
    const wasWatching = state.watching;
    if (state.typing.active) state.typing.stop();
    state.dispose();
    const s = conn.session;
    if (!live() || !s) {
      if (s) leftOffline.add(state.room);
      if (rooms.size === 0 && conn.status !== "closed" && conn.status !== "paused" && conn.status !== "disconnected") conn.goIdle();
      return;
    }
    const myGen = conn.gen;
    await conn.serial(async () => {
      if (myGen !== conn.gen) {
        if (conn.session) leftOffline.add(state.room);
        return;
      }
      if (wasWatching) transport.unwatch(state.room);
      await transport.leave({ sessionId: s.sessionId, room: state.room }).catch(() => undefined);
      if (myGen === conn.gen && rooms.size === 0) conn.goIdle(); // the server ended the session with its last room
    });
  }

  /** Moves `handle` to room `to`: one Navigate when it alone held its room, else a join (and maybe a leave). */
  async function navigateHandle(handle: RoomHandleImpl, to: string, metadata?: Record<string, string>): Promise<void> {
    const from = handle.state;
    if (from.room === to) return;
    const target = rooms.get(to);
    if (target) {
      handle.attach(target);
      await releaseHandle(handle, from, true);
      return;
    }
    if (from.handles.size > 1) {
      handle.attach(newRoomState(to, { ...(metadata ?? from.metadata) }, from.presence));
      return;
    }
    const next = createRoomState(to, { ...(metadata ?? from.metadata) }, host, from.presence);
    rooms.delete(from.room);
    rooms.set(to, next);
    handle.attach(next);
    const wasWatching = from.watching;
    if (from.typing.active) from.typing.stop();
    from.dispose();
    const s = conn.session;
    if (!live() || !s) {
      if (s) leftOffline.add(from.room);
      conn.ensureConnecting();
      return;
    }
    const myGen = conn.gen;
    await conn.serial(async () => {
      if (myGen !== conn.gen || next.disposed) {
        if (conn.session) leftOffline.add(from.room);
        return;
      }
      if (wasWatching) transport.unwatch(from.room);
      try {
        const res = await transport.navigate({ sessionId: s.sessionId, fromRoom: from.room, toRoom: to, metadata: next.metadata });
        if (myGen !== conn.gen) return;
        next.joinedGen = myGen;
        if (res.view && !res.view.membersOmitted) next.seed(viewFromPb(res.view));
        conn.watchRoom(next);
        // Navigate carries no presence: the new room gets it as one update.
        if (Object.keys(next.presence).length > 0) next.setPresence(next.presence, true);
      } catch (e) {
        const err = asClientError(e);
        if (myGen !== conn.gen) return;
        if (err.requestRejected) conn.dropRoom(next, err);
        else conn.fail(myGen, err, "navigate failed");
      }
    });
  }

  const handleHost: HandleHost = {
    status: () => conn.status,
    selfInfo(state): SelfInfo | null {
      const s = conn.session;
      return s ? { connectionId: s.connectionId, userId: state.selfUserId(), anonymous: conn.anonymous } : null;
    },
    onConnection: (event, fn) => emitter.on(event, fn),
    broadcast: (handle, type, payload) => sendBroadcast(handle.room, type, payload),
    leave: (handle) => releaseHandle(handle, handle.state),
    navigate: (handle, room, metadata) => navigateHandle(handle, roomOfPage(room), metadata),
    async setMetadata(handle, metadata) {
      const state = handle.state;
      state.metadata = { ...metadata };
      if (!live()) return; // the next connection joins with it
      const myGen = conn.gen;
      await conn.serial(async () => {
        if (myGen !== conn.gen || state.disposed) return;
        try {
          await conn.joinRoom(state, myGen, false); // a re-Join with new metadata is one `update`
        } catch (e) {
          conn.onCallError(myGen, e);
          throw e;
        }
      });
    },
  };

  // ---- page visibility and the browser's "online" hint ---------------------------------------------

  const visibility =
    options.visibility === false
      ? null
      : createVisibilityController({
          ...options.visibility,
          clock,
          onChange(state) {
            if (conn.status === "closed") return;
            if (state === "away") conn.setActivity("away");
            else if (state === "disconnected") conn.pause();
            else {
              conn.setActivity("active");
              conn.resume();
            }
          },
        });
  const win = (globalThis as { window?: { addEventListener(t: string, f: () => void, o?: { passive: boolean }): void; removeEventListener(t: string, f: () => void): void } }).window;
  const onOnline = () => conn.retryNow();
  win?.addEventListener("online", onOnline);
  const INPUT_EVENTS = ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "scroll"];
  const onInput = () => conn.signalActivity();
  if (options.trackInput !== false) for (const t of INPUT_EVENTS) win?.addEventListener(t, onInput, { passive: true });
  visibility?.start();

  return {
    get status() {
      return conn.status;
    },
    get connected() {
      return conn.status === "connected";
    },
    get activity() {
      return conn.activity;
    },
    get connectionId() {
      return conn.session?.connectionId;
    },

    connect: () => conn.waitConnected(),

    async close() {
      if (conn.status === "closed") return;
      visibility?.stop();
      win?.removeEventListener("online", onOnline);
      for (const t of INPUT_EVENTS) win?.removeEventListener(t, onInput);
      const names = [...rooms.keys()];
      for (const r of rooms.values()) {
        r.watching = false;
        r.dispose();
      }
      rooms.clear();
      tracker.dispose();
      await conn.close(names);
      emitter.clear();
    },

    users: (ids) => {
      if (conn.status === "closed") throw new Error("the presence client is closed");
      return tracker.users(ids);
    },

    join,

    followPage(page, opts = {}) {
      const source = page ?? (globalThis as { location?: LocationLike }).location;
      if (source === undefined) throw new Error("followPage: no page given and no globalThis.location");
      const handle = join(roomOfPage(source, opts.withOrigin), opts.metadata) as RoomHandleImpl;
      if (typeof source !== "string") {
        handle.onLeave = watchLocation(source, (loc) => void handle.navigate(roomOfPage(loc, opts.withOrigin)).catch(conn.reportError));
      }
      return handle;
    },

    setActivity: (a) => conn.setActivity(a),
    signalActivity: () => conn.signalActivity(),

    async setStatus(st) {
      const s = conn.session;
      if (!live() || !s) throw new PresenceClientError("unavailable", "not connected");
      const presence = st.presence === "auto" ? PbPresenceOverride.AUTO : st.presence === "away" ? PbPresenceOverride.AWAY : st.presence === "online" ? PbPresenceOverride.ONLINE : PbPresenceOverride.UNSPECIFIED;
      await transport.setStatus({ sessionId: s.sessionId, customStatus: st.customStatus, invisible: st.invisible, presence });
    },

    rooms() {
      const out: RoomHandle[] = [];
      for (const s of rooms.values()) for (const h of s.handles) out.push(h as RoomHandleImpl);
      return out;
    },

    on: (event, fn) => emitter.on(event, fn),
  };
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
