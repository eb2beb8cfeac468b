import type { Clock, TimerHandle } from "../../../src/core/clock.js";
import { createBackoff } from "./backoff.js";
import { asClientError, DEFAULT_HEARTBEAT_MS, DEFAULT_STALE_MS, type PresenceClientOptions } from "./client-options.js";
import type { Emitter } from "./emitter.js";
import { PresenceClientError } from "./errors.js";
import type { RoomState } from "./room-state.js";
import type { PresenceTransport } from "./transport.js";
import type { Activity, ConnectionStatus, PresenceEvents } from "./types.js";
import type { UserStatusTracker } from "./user-status.js";
import { createConnectionIo, type ConnectionState, type SessionInfo } from "./connection-io.js";

export type { SessionInfo } from "./connection-io.js";

/**
 * The connection state machine of a presence client: one session for this tab, joined to every
 * room of `rooms` and watching each of them. What goes over the wire (Join requests and answers,
 * heartbeats, incoming watch messages) is in connection-io.ts.
 *
 * A *cycle* opens the transport, joins every room (the first Join creates the session with a
 * `request_id`, so a retried Join never makes two, or reclaims it with `session_id` +
 * `resume_secret`), leaves the rooms dropped while offline, and watches every room from its last
 * applied `(epoch, version)`. When anything fails (socket closed, stream ended, heartbeat refused)
 * `fail` abandons the connection, keeps every room's view as it is, and schedules the next cycle
 * after a jittered exponential backoff; terminal errors (close codes 4500–4999, unauthenticated, …)
 * end in `disconnected`. Every async step checks the connection generation `gen`, so work of an
 * abandoned connection never touches the current one. Session work runs one at a time (`serial`).
 *
 * Liveness: Connect sessions Heartbeat every lease interval (and not while away); WebSocket
 * sessions live with the socket, heartbeat frames only report activity. A connection that received
 * nothing for `staleAfterMs` while watching is replaced.
 */
export interface Connection {
  readonly status: ConnectionStatus;
  readonly session: SessionInfo | null;
  readonly activity: Activity;
  readonly anonymous: boolean;
  /** Generation of the current connection (bumped whenever one is abandoned). */
  readonly gen: number;
  /** Runs session work one at a time (a first Join must finish before the next Join). */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** Starts connecting when idle or given up. */
  ensureConnecting(): void;
  /** Resolves once connected; rejects on a terminal error or close. */
  waitConnected(): Promise<void>;
  /** Joins and watches a room added while connected. */
  joinLive(state: RoomState): void;
  /** Joins one room in connection `myGen` (see the cycle). */
  joinRoom(state: RoomState, myGen: number, reclaim: boolean): Promise<"resumed" | "new" | "joined" | "failed">;
  watchRoom(state: RoomState): void;
  /** A room the server refused for good: its handles see the error, the other rooms carry on. */
  dropRoom(state: RoomState, err: Error): void;
  fail(myGen: number, err: PresenceClientError, reason: string): void;
  /** A failed side call (typing, cursor, heartbeat): reconnects when the session or connection is lost. */
  onCallError(myGen: number, e: unknown): void;
  setActivity(activity: Activity): void;
  /** The user did something (input): sends an activity signal, at most once per `activitySignalMs`. */
  signalActivity(): void;
  /** Hidden for long: leave every room, end the session, close; `resume` when visible. */
  pause(): void;
  resume(): void;
  /** No room left: end the session and close. */
  goIdle(): void;
  /** The browser says the network is back: retry now. */
  retryNow(): void;
  /** Ends for good: leaves the given rooms (Connect), ends the session, closes. */
  close(rooms: string[]): Promise<void>;
  reportError(e: unknown): void;
}

export interface ConnectionDeps {
  /** The user watch list: keeps the connection up without rooms, re-watched after each reconnect. */
  users: Pick<UserStatusTracker, "active" | "connected" | "onMessage" | "onEnded">;
  options: PresenceClientOptions;
  clock: Clock;
  transport: PresenceTransport;
  emitter: Emitter<PresenceEvents>;
  /** The client's rooms (joined in insertion order). */
  rooms: Map<string, RoomState>;
  /** Rooms left while offline that a reclaimed session may still hold. */
  leftOffline: Set<string>;
}

export function createConnection(d: ConnectionDeps): Connection {
  const { options, clock, transport, emitter, rooms, leftOffline } = d;
  const backoff = createBackoff(options.reconnect);
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_MS;

  const st: ConnectionState = {
    status: "idle",
    session: null,
    activity: "active",
    anonymous: false,
    gen: 0,
    heartbeatMs: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS,
    lastReceiveAt: 0,
    lastSignalAt: 0,
    creationRequestId: null,
  };
  let everConnected = false;
  let heartbeatTimer: TimerHandle | null = null;
  let reconnectTimer: TimerHandle | null = null;
  let staleTimer: TimerHandle | null = null;
  const activitySignalMs = options.activitySignalMs ?? 30_000;
  let waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let queue: Promise<unknown> = Promise.resolve();

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  };

  const setStatus = (next: ConnectionStatus) => {
    if (next === st.status) return;
    const previous = st.status;
    st.status = next;
    emitter.emit("status", { status: next, previous });
  };

  const settleWaiters = (err?: Error) => {
    const ws = waiters;
    waiters = [];
    for (const w of ws) err ? w.reject(err) : w.resolve();
  };

  const reportError = (e: unknown) => emitter.emit("error", e instanceof Error ? e : new Error(String(e)));

  const onCallError = (myGen: number, e: unknown) => {
    if (myGen !== st.gen) return;
    const err = asClientError(e);
    if (err.sessionLost || (err.retryable && err.code !== "canceled" && err.code !== "deadline_exceeded")) {
      fail(myGen, err, err.sessionLost ? "session lost" : "request failed");
    } else reportError(err);
  };

  const io = createConnectionIo(st, d, {
    fail: (myGen, err, reason) => fail(myGen, err, reason),
    reportError,
    onCallError: (myGen, e) => onCallError(myGen, e),
    dropRoom: (state, err) => dropRoom(state, err),
    restartHeartbeat: () => startHeartbeat(),
  });
  const { handlersFor, joinRoom, sendHeartbeat } = io;

  const clearTimers = () => {
    for (const t of [heartbeatTimer, staleTimer, reconnectTimer]) t?.cancel();
    heartbeatTimer = staleTimer = reconnectTimer = null;
  };

  /** Abandons the current connection (if any) and starts a new cycle after `delayMs`. */
  const scheduleCycle = (delayMs: number) => {
    clearTimers();
    const myGen = ++st.gen;
    const run = () => void serial(() => cycle(myGen));
    if (delayMs <= 0) run();
    else reconnectTimer = clock.setTimeout(run, delayMs);
  };

  async function cycle(myGen: number): Promise<void> {
    if (myGen !== st.gen || st.status === "closed" || st.status === "paused") return;
    setStatus(everConnected ? "reconnecting" : "connecting");
    let resumed = false;
    try {
      const opened = await transport.open(handlersFor(myGen));
      if (myGen !== st.gen) return;
      st.anonymous = opened.anonymous;
      st.lastReceiveAt = clock.now();
      let first = true;
      // Rooms joined or left while this loop awaits are picked up by the next turn.
      for (;;) {
        const next = [...rooms.values()].find((s) => s.joinedGen !== myGen);
        if (next) {
          const r = await joinRoom(next, myGen, first);
          if (myGen !== st.gen) return;
          if (r !== "failed") {
            if (first) resumed = r === "resumed";
            first = false;
          }
          continue;
        }
        const gone = leftOffline.values().next();
        if (gone.done) break;
        leftOffline.delete(gone.value);
        // A reclaimed session still holds the rooms left while offline.
        if (st.session && !rooms.has(gone.value)) await transport.leave({ sessionId: st.session.sessionId, room: gone.value }).catch(() => undefined);
        if (myGen !== st.gen) return;
      }
      for (const s of rooms.values()) watchRoom(s);
    } catch (e) {
      if (myGen === st.gen) fail(myGen, asClientError(e), "connect failed");
      return;
    }
    backoff.reset();
    everConnected = true;
    startHeartbeat();
    startStaleCheck(myGen);
    setStatus("connected");
    emitter.emit("connected", { resumed });
    settleWaiters();
    d.users.connected();
  }

  const watchRoom = (state: RoomState) => {
    if (state.disposed) return;
    // A room waiting for a resync must start from a snapshot, not resume.
    transport.watch(state.room, state.resyncing ? undefined : state.position());
    state.watching = true;
  };

  const dropRoom = (state: RoomState, err: Error) => {
    rooms.delete(state.room);
    state.fail(err);
    reportError(err);
    state.dispose();
  };

  function fail(myGen: number, err: PresenceClientError, reason: string) {
    if (myGen !== st.gen || st.status === "closed" || st.status === "paused" || st.status === "idle") return;
    const wasConnected = st.status === "connected";
    clearTimers();
    st.gen++;
    transport.close(false);
    for (const s of rooms.values()) s.watching = false;
    if (err.sessionLost) st.session = null;
    const terminal = err.retry === "never" || (err.retry === "new_token" && typeof options.token !== "function");
    // A lost session is rejoined at once (once); everything else waits its backoff.
    const delay = terminal ? null : err.sessionLost && backoff.attempts === 0 ? (backoff.next(), 0) : backoff.next();
    if (delay === null) {
      setStatus("disconnected");
      emitter.emit("disconnected", { reason, code: err.closeCode, willReconnect: false, error: err });
      for (const r of rooms.values()) if (!r.view()) r.fail(err);
      settleWaiters(err);
      return;
    }
    if (wasConnected) emitter.emit("disconnected", { reason, code: err.closeCode, willReconnect: true, error: err });
    setStatus("reconnecting");
    scheduleCycle(delay);
  }

  /** Connect only: Heartbeat every interval while active (an away tab stops heartbeating, design §3). */
  function startHeartbeat() {
    heartbeatTimer?.cancel();
    heartbeatTimer = null;
    if (transport.keepsSessionAlive || st.activity === "away" || !st.session) return;
    heartbeatTimer = clock.setInterval(() => sendHeartbeat(false), st.heartbeatMs);
  }

  function startStaleCheck(myGen: number) {
    staleTimer?.cancel();
    staleTimer = null;
    if (staleAfterMs <= 0) return;
    staleTimer = clock.setInterval(() => {
      if (myGen !== st.gen || rooms.size === 0) return;
      const silentMs = clock.now() - st.lastReceiveAt;
      if (silentMs > staleAfterMs) fail(myGen, new PresenceClientError("unavailable", `no message for ${silentMs} ms`), "connection stale");
    }, Math.max(1_000, Math.floor(staleAfterMs / 3)));
  }

  const ensureConnecting = () => {
    if (st.status !== "idle" && st.status !== "disconnected") return;
    backoff.reset();
    setStatus(everConnected ? "reconnecting" : "connecting");
    scheduleCycle(0);
  };

  return {
    get status() {
      return st.status;
    },
    get session() {
      return st.session;
    },
    get activity() {
      return st.activity;
    },
    get anonymous() {
      return st.anonymous;
    },
    get gen() {
      return st.gen;
    },
    serial,
    ensureConnecting,
    joinRoom,
    watchRoom,
    dropRoom,
    fail,
    onCallError,
    reportError,

    waitConnected() {
      if (st.status === "closed") return Promise.reject(new Error("the presence client is closed"));
      if (st.status === "connected") return Promise.resolve();
      const p = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
      ensureConnecting();
      return p;
    },

    joinLive(state) {
      const myGen = st.gen;
      void serial(async () => {
        if (myGen !== st.gen || state.disposed || state.joinedGen === myGen) return;
        try {
          const r = await joinRoom(state, myGen, false);
          if (myGen !== st.gen || r === "failed") return;
          watchRoom(state);
          if (!heartbeatTimer) startHeartbeat();
        } catch (e) {
          if (myGen === st.gen) fail(myGen, asClientError(e), "join failed");
        }
      });
    },

    setActivity(next) {
      if (next === st.activity) return;
      st.activity = next;
      emitter.emit("activity", next);
      if (st.status !== "connected" || !st.session) return;
      sendHeartbeat(true); // reports the change at once (a WebSocket heartbeat frame only carries this)
      startHeartbeat();
    },

    signalActivity() {
      if (st.activity !== "active" || st.status !== "connected" || !st.session) return;
      if (clock.now() - st.lastSignalAt < activitySignalMs) return;
      sendHeartbeat(true);
    },

    pause() {
      if (st.status === "idle" || st.status === "closed" || st.status === "disconnected" || st.status === "paused") return;
      const wasConnected = st.status === "connected";
      clearTimers();
      const myGen = ++st.gen;
      const s = st.session;
      st.session = null;
      for (const r of rooms.values()) r.watching = false;
      setStatus("paused");
      if (wasConnected) emitter.emit("disconnected", { reason: "tab hidden", willReconnect: true });
      void serial(async () => {
        // Connect: one Leave per room ends the session now; WebSocket: close 1000 does.
        if (s && wasConnected && !transport.keepsSessionAlive) {
          await Promise.allSettled([...rooms.keys()].map((room) => transport.leave({ sessionId: s.sessionId, room })));
        }
        if (myGen === st.gen) transport.close(true);
      });
    },

    resume() {
      if (st.status !== "paused") return;
      const wanted = rooms.size > 0 || d.users.active();
      setStatus(wanted ? "reconnecting" : "idle");
      if (wanted) scheduleCycle(0);
    },

    goIdle() {
      if (rooms.size > 0 || st.status === "closed") return;
      if (d.users.active()) {
        // The server ended the session with its last room; the connection stays for the user watch.
        st.session = null;
        heartbeatTimer?.cancel();
        heartbeatTimer = null;
        leftOffline.clear();
        return;
      }
      clearTimers();
      st.gen++;
      transport.close(true);
      st.session = null;
      leftOffline.clear();
      setStatus("idle");
    },

    retryNow() {
      if (st.status === "reconnecting" && reconnectTimer) scheduleCycle(0);
    },

    async close(names) {
      if (st.status === "closed") return;
      const wasConnected = st.status === "connected";
      const s = st.session;
      clearTimers();
      st.gen++;
      setStatus("closed");
      if (wasConnected) emitter.emit("disconnected", { reason: "closed", willReconnect: false });
      settleWaiters(new Error("the presence client was closed"));
      st.session = null;
      if (wasConnected && s && !transport.keepsSessionAlive) {
        await Promise.allSettled(names.map((room) => transport.leave({ sessionId: s.sessionId, room })));
      }
      transport.close(true);
    },
  };
}
