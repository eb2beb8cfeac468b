import type { Clock, TimerHandle } from "../../../src/core/clock.js";
import { createBackoff } from "./backoff.js";
import { anonymousIdOf, asClientError, DEFAULT_HEARTBEAT_MS, DEFAULT_STALE_MS, randomId, type PresenceClientOptions } from "./client-options.js";
import type { Emitter } from "./emitter.js";
import { PresenceClientError } from "./errors.js";
import { activityToPb, heartbeatIntervalOf, viewFromPb } from "./proto-mapping.js";
import { Activity as PbActivity } from "../../../gen/presence/v1/types_pb.js";
import type { RoomState } from "./room-state.js";
import { roomOfWatchMessage, type PresenceTransport, type TransportHandlers } from "./transport.js";
import type { Activity, ConnectionStatus, PresenceEvents } from "./types.js";
import type { UserStatusTracker } from "./user-status.js";

/**
 * The connection state machine of a presence client: one session for this tab, joined to every
 * room of `rooms` and watching each of them.
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
export interface SessionInfo {
  sessionId: string;
  resumeSecret: string;
  connectionId: string;
}

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

  let status: ConnectionStatus = "idle";
  let session: SessionInfo | null = null;
  let activity: Activity = "active";
  let anonymous = false;
  let everConnected = false;
  let gen = 0;
  let heartbeatMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
  let heartbeatTimer: TimerHandle | null = null;
  let reconnectTimer: TimerHandle | null = null;
  let staleTimer: TimerHandle | null = null;
  let lastReceiveAt = 0;
  /** When the last activity signal (a heartbeat with ACTIVE) was sent. */
  let lastSignalAt = 0;
  const activitySignalMs = options.activitySignalMs ?? 30_000;
  /** request_id of the Join that creates the session, reused by its retries. */
  let creationRequestId: string | null = null;
  let waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let queue: Promise<unknown> = Promise.resolve();

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  };

  const setStatus = (next: ConnectionStatus) => {
    if (next === status) return;
    const previous = status;
    status = next;
    emitter.emit("status", { status: next, previous });
  };

  const settleWaiters = (err?: Error) => {
    const ws = waiters;
    waiters = [];
    for (const w of ws) err ? w.reject(err) : w.resolve();
  };

  const reportError = (e: unknown) => emitter.emit("error", e instanceof Error ? e : new Error(String(e)));

  const onCallError = (myGen: number, e: unknown) => {
    if (myGen !== gen) return;
    const err = asClientError(e);
    if (err.sessionLost || (err.retryable && err.code !== "canceled" && err.code !== "deadline_exceeded")) {
      fail(myGen, err, err.sessionLost ? "session lost" : "request failed");
    } else reportError(err);
  };

  const handlersFor = (myGen: number): TransportHandlers => ({
    onWatchMessage(msg) {
      if (myGen !== gen) return;
      lastReceiveAt = clock.now();
      const room = roomOfWatchMessage(msg);
      if (room !== undefined) rooms.get(room)?.onWatch(msg);
    },
    onWatchEnded(room, err) {
      if (myGen !== gen) return;
      const state = rooms.get(room);
      if (!state) return;
      if (err.reason === "SLOW_CONSUMER") {
        transport.watch(room, state.position()); // only this room fell behind
        return;
      }
      if (!err.retryable && !err.sessionLost) {
        state.watching = false;
        reportError(err);
        return;
      }
      fail(myGen, err, "watch ended");
    },
    onClosed: (err) => fail(myGen, err, "closed by server"),
    onError(err) {
      if (myGen !== gen) return;
      if (err.sessionLost) fail(myGen, err, "session lost");
      else reportError(err);
    },
    onUsersMessage(msg) {
      if (myGen !== gen) return;
      lastReceiveAt = clock.now();
      d.users.onMessage(msg);
    },
    onUsersEnded(err) {
      if (myGen === gen) d.users.onEnded(err);
    },
  });

  const clearTimers = () => {
    for (const t of [heartbeatTimer, staleTimer, reconnectTimer]) t?.cancel();
    heartbeatTimer = staleTimer = reconnectTimer = null;
  };

  /** Abandons the current connection (if any) and starts a new cycle after `delayMs`. */
  const scheduleCycle = (delayMs: number) => {
    clearTimers();
    const myGen = ++gen;
    const run = () => void serial(() => cycle(myGen));
    if (delayMs <= 0) run();
    else reconnectTimer = clock.setTimeout(run, delayMs);
  };

  async function cycle(myGen: number): Promise<void> {
    if (myGen !== gen || status === "closed" || status === "paused") return;
    setStatus(everConnected ? "reconnecting" : "connecting");
    let resumed = false;
    try {
      const opened = await transport.open(handlersFor(myGen));
      if (myGen !== gen) return;
      anonymous = opened.anonymous;
      lastReceiveAt = clock.now();
      let first = true;
      // Rooms joined or left while this loop awaits are picked up by the next turn.
      for (;;) {
        const next = [...rooms.values()].find((s) => s.joinedGen !== myGen);
        if (next) {
          const r = await joinRoom(next, myGen, first);
          if (myGen !== gen) return;
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
        if (session && !rooms.has(gone.value)) await transport.leave({ sessionId: session.sessionId, room: gone.value }).catch(() => undefined);
        if (myGen !== gen) return;
      }
      for (const s of rooms.values()) watchRoom(s);
    } catch (e) {
      if (myGen === gen) fail(myGen, asClientError(e), "connect failed");
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

  async function joinRoom(state: RoomState, myGen: number, reclaim: boolean): Promise<"resumed" | "new" | "joined" | "failed"> {
    if (!session) creationRequestId ??= randomId(16);
    const req = {
      room: state.room,
      metadata: state.metadata,
      presence: state.presence,
      activity: activityToPb(activity),
      sessionId: session?.sessionId ?? "",
      resumeSecret: reclaim && session ? session.resumeSecret : "",
      requestId: session ? "" : (creationRequestId ?? ""),
      anonymousId: anonymous ? anonymousIdOf(options) : "",
    };
    let res;
    try {
      res = await transport.join(req);
    } catch (e) {
      const err = asClientError(e);
      if (myGen !== gen) throw err;
      if (err.requestRejected) {
        dropRoom(state, err);
        return "failed";
      }
      throw err;
    }
    if (myGen !== gen) return "joined";
    lastSignalAt = clock.now(); // a Join is an activity signal
    const hadSession = session;
    const s = res.session;
    if (s && s.sessionId !== "") {
      const changed = !session || session.connectionId !== s.connectionId;
      session = { sessionId: s.sessionId, resumeSecret: s.resumeSecret || session?.resumeSecret || "", connectionId: s.connectionId };
      creationRequestId = null;
      if (changed) for (const r of rooms.values()) r.refreshSelf();
    }
    heartbeatMs = options.heartbeatIntervalMs ?? heartbeatIntervalOf(res.lease) ?? heartbeatMs;
    state.joinedGen = myGen;
    if (res.view && !res.view.membersOmitted && !state.watching) state.seed(viewFromPb(res.view));
    if (!hadSession) return "new";
    return reclaim ? (res.resumed ? "resumed" : "new") : "joined";
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
    if (myGen !== gen || status === "closed" || status === "paused" || status === "idle") return;
    const wasConnected = status === "connected";
    clearTimers();
    gen++;
    transport.close(false);
    for (const s of rooms.values()) s.watching = false;
    if (err.sessionLost) session = null;
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

  /**
   * A heartbeat: `report` sends the current activity (a change, or an activity signal: ACTIVE makes
   * the server stamp the session, so it does not go away by silence); the periodic liveness
   * heartbeat sends none (UNSPECIFIED keeps the session's activity as the server decides it).
   */
  const sendHeartbeat = (report = false) => {
    if (!session) return;
    const myGen = gen;
    if (report && activity === "active") lastSignalAt = clock.now();
    transport
      .heartbeat({ sessionId: session.sessionId, activity: report ? activityToPb(activity) : PbActivity.UNSPECIFIED })
      .then((res) => {
        if (myGen !== gen) return;
        const interval = options.heartbeatIntervalMs ?? heartbeatIntervalOf(res.lease);
        if (interval !== undefined && interval !== heartbeatMs) {
          heartbeatMs = interval;
          startHeartbeat();
        }
      })
      .catch((e) => onCallError(myGen, e));
  };

  /** Connect only: Heartbeat every interval while active (an away tab stops heartbeating, design §3). */
  function startHeartbeat() {
    heartbeatTimer?.cancel();
    heartbeatTimer = null;
    if (transport.keepsSessionAlive || activity === "away" || !session) return;
    heartbeatTimer = clock.setInterval(() => sendHeartbeat(false), heartbeatMs);
  }

  function startStaleCheck(myGen: number) {
    staleTimer?.cancel();
    staleTimer = null;
    if (staleAfterMs <= 0) return;
    staleTimer = clock.setInterval(() => {
      if (myGen !== gen || rooms.size === 0) return;
      const silentMs = clock.now() - lastReceiveAt;
      if (silentMs > staleAfterMs) fail(myGen, new PresenceClientError("unavailable", `no message for ${silentMs} ms`), "connection stale");
    }, Math.max(1_000, Math.floor(staleAfterMs / 3)));
  }

  const ensureConnecting = () => {
    if (status !== "idle" && status !== "disconnected") return;
    backoff.reset();
    setStatus(everConnected ? "reconnecting" : "connecting");
    scheduleCycle(0);
  };

  return {
    get status() {
      return status;
    },
    get session() {
      return session;
    },
    get activity() {
      return activity;
    },
    get anonymous() {
      return anonymous;
    },
    get gen() {
      return gen;
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
      if (status === "closed") return Promise.reject(new Error("the presence client is closed"));
      if (status === "connected") return Promise.resolve();
      const p = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
      ensureConnecting();
      return p;
    },

    joinLive(state) {
      const myGen = gen;
      void serial(async () => {
        if (myGen !== gen || state.disposed || state.joinedGen === myGen) return;
        try {
          const r = await joinRoom(state, myGen, false);
          if (myGen !== gen || r === "failed") return;
          watchRoom(state);
          if (!heartbeatTimer) startHeartbeat();
        } catch (e) {
          if (myGen === gen) fail(myGen, asClientError(e), "join failed");
        }
      });
    },

    setActivity(next) {
      if (next === activity) return;
      activity = next;
      emitter.emit("activity", next);
      if (status !== "connected" || !session) return;
      sendHeartbeat(true); // reports the change at once (a WebSocket heartbeat frame only carries this)
      startHeartbeat();
    },

    signalActivity() {
      if (activity !== "active" || status !== "connected" || !session) return;
      if (clock.now() - lastSignalAt < activitySignalMs) return;
      sendHeartbeat(true);
    },

    pause() {
      if (status === "idle" || status === "closed" || status === "disconnected" || status === "paused") return;
      const wasConnected = status === "connected";
      clearTimers();
      const myGen = ++gen;
      const s = session;
      session = null;
      for (const r of rooms.values()) r.watching = false;
      setStatus("paused");
      if (wasConnected) emitter.emit("disconnected", { reason: "tab hidden", willReconnect: true });
      void serial(async () => {
        // Connect: one Leave per room ends the session now; WebSocket: close 1000 does.
        if (s && wasConnected && !transport.keepsSessionAlive) {
          await Promise.allSettled([...rooms.keys()].map((room) => transport.leave({ sessionId: s.sessionId, room })));
        }
        if (myGen === gen) transport.close(true);
      });
    },

    resume() {
      if (status !== "paused") return;
      const wanted = rooms.size > 0 || d.users.active();
      setStatus(wanted ? "reconnecting" : "idle");
      if (wanted) scheduleCycle(0);
    },

    goIdle() {
      if (rooms.size > 0 || status === "closed") return;
      if (d.users.active()) {
        // The server ended the session with its last room; the connection stays for the user watch.
        session = null;
        heartbeatTimer?.cancel();
        heartbeatTimer = null;
        leftOffline.clear();
        return;
      }
      clearTimers();
      gen++;
      transport.close(true);
      session = null;
      leftOffline.clear();
      setStatus("idle");
    },

    retryNow() {
      if (status === "reconnecting" && reconnectTimer) scheduleCycle(0);
    },

    async close(names) {
      if (status === "closed") return;
      const wasConnected = status === "connected";
      const s = session;
      clearTimers();
      gen++;
      setStatus("closed");
      if (wasConnected) emitter.emit("disconnected", { reason: "closed", willReconnect: false });
      settleWaiters(new Error("the presence client was closed"));
      session = null;
      if (wasConnected && s && !transport.keepsSessionAlive) {
        await Promise.allSettled(names.map((room) => transport.leave({ sessionId: s.sessionId, room })));
      }
      transport.close(true);
    },
  };
}
