import { runWithOrigin } from "../../service/call-origin.js";
import { PresenceError, sessionNotFound } from "../../core/presence-error.js";
import type { Detail } from "../../fanout/fanout-hub.js";
import type { BroadcastFn } from "../../service/broadcast.js";
import type { PresenceService } from "../../service/presence-service.js";
import { broadcastCommandFromPb } from "../backend-wire.js";
import { joinRoomInfo, presenceOverrideFromPb, activityFromPb, cursorPositionFromPb, detailFromPb, leaseToPb, sessionToPb, userFromPb, userStatusToPb, viewToPb } from "../wire.js";
import { errorFrameFor } from "./close-codes.js";
import type { KnownClientFrame, ServerFrameInit } from "./frames.js";
import type { Socket } from "./room-broadcaster.js";
import { addRoom, removeRoom, type WsSession } from "./ws-session.js";
import { joinAnswerFrame } from "./snapshot-frames.js";

/**
 * The session model of the WebSocket bridge (frames.proto "Session"): translation of ClientFrames
 * into calls of the application service, and of their results into ServerFrames. No I/O of its
 * own: answers go out through `reply`, watches through the bridge's `watch` / `unwatch`.
 *
 * - A socket carries exactly one session. Its first Join creates it, or reclaims one with
 *   `session_id` + `resume_secret` (`resumed = true`, no leave/join broadcast), and binds it to
 *   the socket (`service.bind`: the node keeps it alive, no Heartbeat needed). Later Joins add rooms
 *   to that session whatever `session_id` they carry.
 * - Leave, Navigate, Heartbeat, typing, cursors, SetStatus and Broadcast act on the socket's session (a frame
 *   on a socket without one may name a session of the same caller, e.g. one made over Connect).
 * - An explicit Leave of the socket's last room ends the session at once and unbinds it; the next
 *   Join makes a new one.
 * - When the node refresh finds the session gone (kicked by an operator, purged, or reaped after a
 *   long store outage), the socket is closed with 4005 "session ended": the client reconnects and,
 *   its session being gone, gets a new one.
 * - `endSession` is the close cleanup: after a normal close (1000) the session leaves its rooms
 *   now; after any other close it is only unbound, which starts the reconnect grace.
 *
 * Every frame is answered when `request_id` ≠ 0 (its response, or an Ack), and errors always are
 * (ErrorFrame, with request_id 0 when none was given). Watch frames are acknowledged before the
 * first snapshot of the room is sent; their `resume_from` and `session_id` are ignored (the socket's
 * session is bound already, and a watch on a socket always starts from a snapshot).
 */
export interface FrameHandlerDeps {
  service: PresenceService;
  /** Sends a ServerFrame to the socket (nothing when it is closed); `binary`: its binary encoding, made by a faster encoder. */
  reply(ws: Socket, frame: ServerFrameInit, binary?: () => Uint8Array): void;
  /** Join answers of binary sockets reuse the encoded members of views above this many users (snapshot-frames.ts; default: never). */
  cachedViewsAbove?: number;
  /**
   * Validates a watch the service admitted (throws PresenceError) and returns the function that
   * starts it; `release` gives the caller's watch quota back when the watch ends.
   */
  prepareWatch(ws: Socket, room: string, detail: Detail, release: () => void): () => void;
  /** Stops watching a room (no-op when not watched). */
  unwatch(ws: Socket, room: string): void;
  /** The socket's session was found gone by the node refresh (kicked, purged, reaped): close it. */
  sessionLost(ws: Socket): void;
  /** Starts (or replaces) the socket's user watch list; throws what WatchUsers throws. */
  watchUsers(ws: Socket, userIds: string[]): void;
  /** Stops the socket's user watch list. */
  unwatchUsers(ws: Socket): void;
  /** The socket's session is now in `room` through this socket (its end is told to the socket). */
  joinedRoom(ws: Socket, room: string): void;
  /** It no longer is. */
  leftRoom(ws: Socket, room: string): void;
  /** PresenceService.Broadcast (the same service path as the RPC) and the room's watchers on this node. */
  broadcast: BroadcastSender;
  /** A frame was refused with a PresenceError (metrics by reason). */
  onRejected?(err: PresenceError): void;
  /** A frame failed with something else than a PresenceError (a bug: counted and logged). */
  onError?(err: unknown): void;
}

export interface BroadcastSender {
  send: BroadcastFn;
  roomWatchers(room: string): number;
}

export interface FrameHandler {
  /** Handles one frame of a socket; never rejects. Frames of one socket must be handled in order. */
  handle(ws: Socket, frame: KnownClientFrame): Promise<void>;
  /** Ends the socket's hold on its session: leaves its rooms first when `leaveRooms`. Never rejects. */
  endSession(ws: Socket, leaveRooms: boolean): Promise<void>;
  /** A room of the socket's session ended (its `room_ended` frame was sent): the session is no longer in it; its last room: it ended. */
  roomEnded(ws: Socket, room: string): void;
}

/** `binary`: the answer's binary encoding, when it is not the generic encoding of `frame` (which then lacks parts a binary socket does not need). */
type Answer = { frame: ServerFrameInit["frame"]; binary?: (requestId: number) => Uint8Array; after?: () => void };

export function createFrameHandler(d: FrameHandlerDeps): FrameHandler {
  const { service } = d;
  const ack: ServerFrameInit["frame"] = { case: "ack", value: {} };

  /** The socket's session, or the one the frame names when the socket has none yet. */
  const sessionOf = (s: WsSession, named: string): string => {
    const id = s.session?.sessionId ?? named;
    if (id === "") throw sessionNotFound();
    return id;
  };
  const isOwn = (s: WsSession, id: string) => s.session !== null && s.session.sessionId === id;

  /**
   * What the node refresh calls when it finds the socket's session gone. Made here, not inside
   * `dispatch`: a closure made there keeps dispatch's whole context (the frame, the Join's answer
   * with its view) alive for the life of the socket.
   */
  const lostHandler = (ws: Socket) => () => d.sessionLost(ws);

  /** The session ended on purpose: unbind it from the socket. */
  function forget(ws: Socket, s: WsSession) {
    s.release?.();
    s.release = null;
    s.session = null;
    for (const room of s.rooms) d.leftRoom(ws, room);
    s.rooms = [];
  }
  const enter = (ws: Socket, s: WsSession, room: string) => {
    addRoom(s, room);
    if (!s.closed) d.joinedRoom(ws, room);
  };
  const exit = (ws: Socket, s: WsSession, room: string) => {
    removeRoom(s, room);
    d.leftRoom(ws, room);
  };

  async function dispatch(ws: Socket, s: WsSession, f: KnownClientFrame): Promise<Answer> {
    const caller = s.caller;
    switch (f.frame.case) {
      case "join": {
        const v = f.frame.value;
        const base = {
          room: v.room,
          metadata: v.metadata,
          activity: activityFromPb(v.activity),
          requestId: v.requestId,
          onBehalfOf: v.onBehalfOf ? userFromPb(v.onBehalfOf) : undefined,
          anonymousId: v.anonymousId,
          presence: v.presence,
          scopes: v.scopes,
        };
        let r;
        if (s.session) {
          r = await service.join(caller, { ...base, sessionId: s.session.sessionId, resumeSecret: "" });
        } else {
          r = await service.join(caller, { ...base, sessionId: v.sessionId, resumeSecret: v.resumeSecret });
          // Frames of one socket run one at a time, so no other first Join can race this one.
          // A session this Join created or reclaimed is already recorded for this node: no store round trip.
          const fresh = r.sessionCreated || r.resumed ? r.lease : undefined;
          s.release = await service.bind(caller, r.session.sessionId, lostHandler(ws), fresh);
          s.session = r.session;
        }
        enter(ws, s, v.room);
        const answer = { session: sessionToPb(r.session), lease: leaseToPb(r.lease), resumed: r.resumed, heartbeatKey: r.heartbeatKey, udpPort: r.udpPort, scopes: [...(r.scopes ?? [])], roomInfo: joinRoomInfo(r) };
        // A binary socket's answer is encoded straight from the view: no pb object per member.
        if (s.json === false && d.cachedViewsAbove !== undefined) {
          const minUsers = d.cachedViewsAbove;
          return { frame: { case: "join", value: answer }, binary: (requestId) => joinAnswerFrame(requestId, answer, r.view, minUsers) };
        }
        return { frame: { case: "join", value: { ...answer, view: viewToPb(r.view) } } };
      }
      case "leave": {
        const v = f.frame.value;
        const id = sessionOf(s, v.sessionId);
        const r = await service.leave(caller, { sessionId: id, room: v.room });
        if (isOwn(s, id)) {
          exit(ws, s, v.room);
          if (r.left && s.rooms.length === 0) forget(ws, s); // its last room: the session ended
        }
        return { frame: { case: "leave", value: r } };
      }
      case "navigate": {
        const v = f.frame.value;
        const id = sessionOf(s, v.sessionId);
        const r = await service.navigate(caller, { sessionId: id, fromRoom: v.fromRoom, toRoom: v.toRoom, metadata: v.metadata });
        if (isOwn(s, id)) {
          if (v.fromRoom !== "" && v.fromRoom !== v.toRoom) exit(ws, s, v.fromRoom);
          enter(ws, s, v.toRoom);
        }
        return { frame: { case: "navigate", value: { view: viewToPb(r.view), lease: leaseToPb(r.lease) } } };
      }
      case "heartbeat": {
        const v = f.frame.value;
        const lease = await service.heartbeat(caller, { sessionId: sessionOf(s, v.sessionId), activity: activityFromPb(v.activity) });
        return { frame: { case: "heartbeat", value: { lease: leaseToPb(lease) } } };
      }
      case "typing": {
        const v = f.frame.value;
        await service.setTyping(caller, { sessionId: sessionOf(s, v.sessionId), room: v.room, typing: v.typing });
        return { frame: ack };
      }
      case "cursor": {
        const v = f.frame.value;
        await service.updateCursor(caller, { sessionId: sessionOf(s, v.sessionId), room: v.room, position: cursorPositionFromPb(v.position) });
        return { frame: ack };
      }
      case "watch": {
        const v = f.frame.value;
        // The `watch` right and the caller's watch quota, checked by the service like any watch.
        const admitted = await service.admitWatch(caller, v.room);
        try {
          return { frame: ack, after: d.prepareWatch(ws, admitted.room, detailFromPb(v.detail), admitted.release) };
        } catch (err) {
          admitted.release();
          throw err;
        }
      }
      case "unwatch":
        d.unwatch(ws, f.frame.value.room);
        return { frame: ack };
      case "status": {
        const v = f.frame.value;
        const r = await service.setStatus(caller, { sessionId: sessionOf(s, v.sessionId), customStatus: v.customStatus, invisible: v.invisible, presence: presenceOverrideFromPb(v.presence) });
        return { frame: { case: "status", value: { status: userStatusToPb(r) } } };
      }
      case "watchUsers":
        d.watchUsers(ws, f.frame.value.userIds);
        return { frame: ack };
      case "unwatchUsers":
        d.unwatchUsers(ws);
        return { frame: ack };
      case "broadcast": {
        // As the socket's session (the service checks it is in the room), like the other member frames.
        const sent = await d.broadcast.send(caller, broadcastCommandFromPb(f.frame.value, s.session?.sessionId ?? f.frame.value.sessionId));
        return { frame: { case: "broadcast", value: { localWatchers: d.broadcast.roomWatchers(sent.room) } } };
      }
      case "updatePresence": {
        const v = f.frame.value;
        await service.updatePresence(caller, { sessionId: sessionOf(s, v.sessionId), room: v.room, presence: v.presence ?? {}, replace: v.replace });
        return { frame: ack };
      }
    }
  }

  return {
    async handle(ws, f) {
      const s = ws.getUserData();
      try {
        const answer = await runWithOrigin(s.origin, () => dispatch(ws, s, f));
        const binary = answer.binary;
        if (f.requestId !== 0) d.reply(ws, { requestId: f.requestId, frame: answer.frame }, binary && (() => binary(f.requestId)));
        answer.after?.();
      } catch (err) {
        if (err instanceof PresenceError) d.onRejected?.(err);
        else d.onError?.(err);
        d.reply(ws, { requestId: f.requestId, frame: { case: "error", value: errorFrameFor(err) } });
      }
    },

    roomEnded(ws, room) {
      const s = ws.getUserData();
      if (!s.rooms.includes(room)) return;
      exit(ws, s, room);
      if (s.rooms.length === 0) forget(ws, s); // its last room: the store ended the session
    },

    async endSession(ws, leaveRooms) {
      const s = ws.getUserData();
      const grant = s.session;
      if (!grant) return;
      if (leaveRooms) {
        for (const room of [...s.rooms]) {
          try {
            await service.leave(s.caller, { sessionId: grant.sessionId, room });
          } catch (err) {
            // Gone already (expired, reaped) is fine: there is nothing left to end.
            if (!(err instanceof PresenceError)) d.onError?.(err);
          }
        }
      }
      forget(ws, s);
    },
  };
}
