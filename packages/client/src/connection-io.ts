import { Activity as PbActivity } from "../../../gen/presence/v1/types_pb.js";
import type { Clock } from "../../../src/core/clock.js";
import { anonymousIdOf, asClientError, randomId, type PresenceClientOptions } from "./client-options.js";
import type { PresenceClientError } from "./errors.js";
import { activityToPb, heartbeatIntervalOf, viewFromPb } from "./proto-mapping.js";
import type { RoomState } from "./room-state.js";
import { roomOfWatchMessage, type PresenceTransport, type TransportHandlers } from "./transport.js";
import type { Activity, ConnectionStatus } from "./types.js";
import type { UserStatusTracker } from "./user-status.js";

/**
 * The frame IO of a presence client's connection (connection.ts is the state machine around it):
 * what goes to the server (Join requests built from the connection's state, heartbeats that
 * report activity) and what comes back (Join answers applied to the session and the room, watch
 * and user-status messages routed to their rooms and tracker, watch ends classified). Every
 * answer checks the connection generation: work of an abandoned connection touches nothing.
 */

/** A client's session on the server. */
export interface SessionInfo {
  sessionId: string;
  resumeSecret: string;
  connectionId: string;
}

/** The connection's state, shared by the state machine and its IO. */
export interface ConnectionState {
  status: ConnectionStatus;
  session: SessionInfo | null;
  activity: Activity;
  anonymous: boolean;
  /** Generation of the current connection (bumped whenever one is abandoned). */
  gen: number;
  heartbeatMs: number;
  /** When the last message of the server arrived (the stale check). */
  lastReceiveAt: number;
  /** When the last activity signal (a Join, a heartbeat with ACTIVE) was sent. */
  lastSignalAt: number;
  /** request_id of the Join that creates the session, reused by its retries. */
  creationRequestId: string | null;
}

export interface ConnectionIoDeps {
  users: Pick<UserStatusTracker, "onMessage" | "onEnded">;
  options: PresenceClientOptions;
  clock: Clock;
  transport: PresenceTransport;
  rooms: Map<string, RoomState>;
}

/** What the IO asks of the state machine. */
export interface ConnectionMachine {
  fail(myGen: number, err: PresenceClientError, reason: string): void;
  reportError(e: unknown): void;
  onCallError(myGen: number, e: unknown): void;
  dropRoom(state: RoomState, err: Error): void;
  /** The lease's heartbeat interval changed: restart the heartbeat timer. */
  restartHeartbeat(): void;
}

export function createConnectionIo(st: ConnectionState, d: ConnectionIoDeps, m: ConnectionMachine) {
  const { options, clock, transport, rooms } = d;
  const { fail, reportError, onCallError, dropRoom } = m;

  const handlersFor = (myGen: number): TransportHandlers => ({
    onWatchMessage(msg) {
      if (myGen !== st.gen) return;
      st.lastReceiveAt = clock.now();
      const room = roomOfWatchMessage(msg);
      if (room !== undefined) rooms.get(room)?.onWatch(msg);
    },
    onWatchEnded(room, err) {
      if (myGen !== st.gen) return;
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
      if (myGen !== st.gen) return;
      if (err.sessionLost) fail(myGen, err, "session lost");
      else reportError(err);
    },
    onUsersMessage(msg) {
      if (myGen !== st.gen) return;
      st.lastReceiveAt = clock.now();
      d.users.onMessage(msg);
    },
    onUsersEnded(err) {
      if (myGen === st.gen) d.users.onEnded(err);
    },
  });

  async function joinRoom(state: RoomState, myGen: number, reclaim: boolean): Promise<"resumed" | "new" | "joined" | "failed"> {
    if (!st.session) st.creationRequestId ??= randomId(16);
    const req = {
      room: state.room,
      metadata: state.metadata,
      presence: state.presence,
      activity: activityToPb(st.activity),
      sessionId: st.session?.sessionId ?? "",
      resumeSecret: reclaim && st.session ? st.session.resumeSecret : "",
      requestId: st.session ? "" : (st.creationRequestId ?? ""),
      anonymousId: st.anonymous ? anonymousIdOf(options) : "",
    };
    let res;
    try {
      res = await transport.join(req);
    } catch (e) {
      const err = asClientError(e);
      if (myGen !== st.gen) throw err;
      if (err.requestRejected) {
        dropRoom(state, err);
        return "failed";
      }
      throw err;
    }
    if (myGen !== st.gen) return "joined";
    st.lastSignalAt = clock.now(); // a Join is an activity signal
    const hadSession = st.session;
    const s = res.session;
    if (s && s.sessionId !== "") {
      const changed = !st.session || st.session.connectionId !== s.connectionId;
      st.session = { sessionId: s.sessionId, resumeSecret: s.resumeSecret || st.session?.resumeSecret || "", connectionId: s.connectionId };
      st.creationRequestId = null;
      if (changed) for (const r of rooms.values()) r.refreshSelf();
    }
    st.heartbeatMs = options.heartbeatIntervalMs ?? heartbeatIntervalOf(res.lease) ?? st.heartbeatMs;
    state.joinedGen = myGen;
    if (res.view && !res.view.membersOmitted && !state.watching) state.seed(viewFromPb(res.view));
    if (!hadSession) return "new";
    return reclaim ? (res.resumed ? "resumed" : "new") : "joined";
  }

  /**
   * A heartbeat: `report` sends the current activity (a change, or an activity signal: ACTIVE makes
   * the server stamp the session, so it does not go away by silence); the periodic liveness
   * heartbeat sends none (UNSPECIFIED keeps the session's activity as the server decides it).
   */
  const sendHeartbeat = (report = false) => {
    if (!st.session) return;
    const myGen = st.gen;
    if (report && st.activity === "active") st.lastSignalAt = clock.now();
    transport
      .heartbeat({ sessionId: st.session.sessionId, activity: report ? activityToPb(st.activity) : PbActivity.UNSPECIFIED })
      .then((res) => {
        if (myGen !== st.gen) return;
        const interval = options.heartbeatIntervalMs ?? heartbeatIntervalOf(res.lease);
        if (interval !== undefined && interval !== st.heartbeatMs) {
          st.heartbeatMs = interval;
          m.restartHeartbeat();
        }
      })
      .catch((e) => onCallError(myGen, e));
  };

  return { handlersFor, joinRoom, sendHeartbeat };
}
