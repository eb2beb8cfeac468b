import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  HeartbeatRequestSchema,
  HeartbeatResponse,
  JoinRequestSchema,
  JoinResponse,
  LeaveRequestSchema,
  LeaveResponse,
  NavigateRequestSchema,
  NavigateResponse,
  SetStatusRequestSchema,
  SetStatusResponse,
  SetTypingRequestSchema,
  UpdateCursorRequestSchema,
  WatchPresenceResponse,
  WatchUsersResponse,
} from "../../../gen/presence/v1/presence_pb.js";
import type { UpdatePresenceRequestSchema } from "../../../gen/presence/v1/member_presence_pb.js";
import type { BroadcastRequestSchema, BroadcastResponse } from "../../../gen/presence/v1/broadcast_pb.js";
import type { PresenceClientError } from "./errors.js";

/**
 * The seam between the client's state machine and the wire. Two implementations: Connect-Web
 * (unary RPCs plus one WatchPresence stream per room; the session is kept alive by Heartbeat) and
 * the WebSocket bridge (one socket, one session bound to it, frames from `frames.proto`). Every
 * method rejects with a PresenceClientError.
 */
export interface PresenceTransport {
  readonly kind: "connect" | "websocket";
  /**
   * True when the connection itself keeps the session alive (WebSocket): heartbeats then only
   * carry activity changes. False for Connect: the client sends Heartbeat every interval.
   */
  readonly keepsSessionAlive: boolean;
  /** Opens the connection (resolving the token once per call). Resolves when requests can be sent. */
  open(handlers: TransportHandlers): Promise<{ anonymous: boolean }>;
  /**
   * Ends the connection and every watch, without callbacks. `endSession`: the WebSocket closes
   * with 1000 (the server ends the session at once); otherwise it closes with 4000 and the server
   * keeps the session for the reconnect grace, so the next `open` can reclaim it.
   */
  close(endSession: boolean): void;
  join(req: MessageInitShape<typeof JoinRequestSchema>): Promise<JoinResponse>;
  leave(req: MessageInitShape<typeof LeaveRequestSchema>): Promise<LeaveResponse>;
  navigate(req: MessageInitShape<typeof NavigateRequestSchema>): Promise<NavigateResponse>;
  heartbeat(req: MessageInitShape<typeof HeartbeatRequestSchema>): Promise<HeartbeatResponse>;
  setTyping(req: MessageInitShape<typeof SetTypingRequestSchema>): Promise<void>;
  updateCursor(req: MessageInitShape<typeof UpdateCursorRequestSchema>): Promise<void>;
  setStatus(req: MessageInitShape<typeof SetStatusRequestSchema>): Promise<SetStatusResponse>;
  /** Changes the session's typed presence in a room (fire and forget; errors go to `onError`). */
  updatePresence(req: MessageInitShape<typeof UpdatePresenceRequestSchema>): Promise<void>;
  /** Sends a custom ephemeral event to a room's watchers (PresenceService.Broadcast; answered, never queued). */
  broadcast(req: MessageInitShape<typeof BroadcastRequestSchema>): Promise<BroadcastResponse>;
  /** Starts (or restarts) watching a room; messages go to `onWatchMessage`. */
  watch(room: string, resumeFrom?: { epoch: string; version: number }): void;
  unwatch(room: string): void;
  /** Starts (or replaces) the user watch list; messages go to `onUsersMessage`, a failure to `onUsersEnded`. */
  watchUsers(userIds: string[]): void;
  unwatchUsers(): void;
}

export interface TransportHandlers {
  /** A message of a watched room (snapshot page, event, typing, cursors, broadcast, keepalive). */
  onWatchMessage(msg: WatchPresenceResponse): void;
  /** A watch ended on its own (stream error, error frame). Not called after `unwatch`/`close`. */
  onWatchEnded(room: string, error: PresenceClientError): void;
  /** The connection was lost (WebSocket closed by the server or the network). Not called after `close`. */
  onClosed(error: PresenceClientError): void;
  /** An error that answers no pending request (a fire-and-forget typing or cursor frame). */
  onError(error: PresenceClientError): void;
  /** A message of the user watch list (snapshot, change, keepalive). */
  onUsersMessage(msg: WatchUsersResponse): void;
  /** The user watch ended on its own (refused, stream error). Not called after `unwatchUsers`/`close`. */
  onUsersEnded(error: PresenceClientError): void;
}

/** A bearer token, or a function that returns a fresh one (called at every (re)connect). */
export type TokenSource = string | (() => string | Promise<string>);

/** The token to present now; "" for an anonymous viewer. */
export async function resolveToken(token: TokenSource | undefined): Promise<string> {
  if (token === undefined) return "";
  return typeof token === "function" ? await token() : token;
}

/** The room a watch message belongs to (keepalives have none). */
export function roomOfWatchMessage(m: WatchPresenceResponse): string | undefined {
  const v = m.message;
  switch (v.case) {
    case "snapshot":
      return v.value.view?.room;
    case "event":
    case "counts":
    case "typing":
    case "cursors":
    case "ended":
    case "broadcast":
      return v.value.room;
    default:
      return undefined;
  }
}
