import type { CallOrigin } from "../../service/call-origin.js";
import type { Caller } from "../../core/identity.js";
import type { Detail } from "../../fanout/fanout-hub.js";
import type { SessionGrant } from "../../core/session.js";
import type { FrameBucket } from "../../core/frame-rate.js";

/**
 * Per-socket state of the WebSocket bridge: the typed user data of a uWS socket (given to
 * `res.upgrade`, returned by `ws.getUserData()`, still readable in the `close` handler). No ad-hoc
 * fields on sockets: everything the bridge keeps about a socket is here.
 *
 * Memory per idle connection is a product goal (bench idle scenario), so this object is created
 * with all its fields in one literal (one stable shape, no out-of-object properties), and its
 * collections are small arrays rather than Maps/Sets: a socket joins a few rooms and watches at
 * most `maxWatchesPerSocket` (default 16), where a linear scan costs less than a hash table.
 */
export interface WsSession extends FrameBucket {
  /** Serial number of the socket in this process (logs only; never sent). */
  readonly serial: number;
  /** Who opened the socket (verified at the upgrade); every frame acts as this caller. */
  readonly caller: Caller;
  /** The client's address and User-Agent at the upgrade (recorded in the activity log). */
  readonly origin: CallOrigin | undefined;
  /** When the caller's token expires (ms since the epoch); 0 when it does not (anonymous). */
  readonly tokenExpiresAtMs: number;
  /**
   * Encoding of the answers: fixed by the first frame (binary protobuf, or JSON text). JSON sockets
   * receive room broadcasts by direct sends; binary sockets through uWS topics.
   */
  json: boolean | undefined;
  /** The socket's one session: created or reclaimed by its first Join, null before and after it ends. */
  session: SessionGrant | null;
  /** Ends the node binding of `session` (starts the reconnect grace). */
  release: (() => void) | null;
  /**
   * Rooms the session joined through this socket (distinct, in join order). Replaced, never
   * mutated (exact-size arrays; safe to iterate while changing).
   */
  rooms: readonly string[];
  /** Rooms this socket watches (one entry per room; see {@link findWatch}). Replaced, never mutated. */
  watches: readonly SocketWatch[];
  /**
   * Since when the socket has been over its buffered-bytes cap with a delivery missed (ms since the
   * epoch; 0 = not). A socket in this state longer than the stall limit is closed with 4001.
   */
  overCapSince: number;
  /** Frames received and not answered yet (bounded: the rest is refused). */
  pendingFrames: number;
  /**
   * Frames of one socket run one after another, in arrival order; the close cleanup runs last.
   * Null when nothing is in flight (an idle socket holds no promise).
   */
  chain: Promise<void> | null;
  /** Set in the uWS `close` handler: the socket must not be touched any more. */
  closed: boolean;
  /** Gives the connection back to the port's and the address's limits (called once, at the close). */
  releaseConnection: (() => void) | null;
}

/** One watched room of one socket. */
export interface SocketWatch {
  readonly room: string;
  detail: Detail;
  /**
   * The socket missed a delivery of this room (it was over its cap at a publish, or a direct send
   * was dropped): it gets a fresh snapshot of the room once it drains, never a partial view.
   */
  needsSnapshot: boolean;
  /** Whether the socket is subscribed to the room's uWS topic (binary, full detail, in sync). */
  subscribed: boolean;
  /** True once the socket has received a first snapshot (or counts) of the room. */
  started: boolean;
  /** Gives the caller's watch quota back; called once, when the watch is removed. */
  readonly release: () => void;
}

/**
 * What log lines about a socket carry: its serial and, once it has a session, the session's public
 * connection id (the one room views show). Never the session id or the resume secret: those are
 * the session's capability (design §2), and a log reader must not be able to act as the client.
 */
export function socketLogFields(s: WsSession | undefined): { socket?: number; connectionId?: string } {
  if (s === undefined) return {};
  return s.session ? { socket: s.serial, connectionId: s.session.connectionId } : { socket: s.serial };
}

let serials = 0;

/** A fresh state for a socket that passed authentication. */
export function createWsSession(caller: Caller, tokenExpiresAtMs: number, origin?: CallOrigin): WsSession {
  return {
    serial: ++serials,
    caller,
    origin,
    tokenExpiresAtMs,
    json: undefined,
    session: null,
    release: null,
    rooms: [],
    watches: [],
    overCapSince: 0,
    pendingFrames: 0,
    frameTokens: 0, // filled to the burst when the socket opens
    frameTokensAtMs: 0,
    chain: null,
    closed: false,
    releaseConnection: null,
  };
}

/**
 * A copy of `a` without element `i`. `concat` and `slice` allocate exactly what they hold, whereas
 * spread, `push` and `filter` reserve 17 slots (~150 B) for an array of 1.
 */
function without<T>(a: readonly T[], i: number): T[] {
  return a.slice(0, i).concat(a.slice(i + 1));
}

/** The socket's watch of `room`, if any. */
export function findWatch(s: WsSession, room: string): SocketWatch | undefined {
  for (const w of s.watches) if (w.room === room) return w;
  return undefined;
}

/** Removes the socket's watch of `room` and releases its quota; false when it was not watched. */
export function removeWatch(s: WsSession, room: string): boolean {
  const i = s.watches.findIndex((w) => w.room === room);
  if (i < 0) return false;
  const w = s.watches[i]!;
  s.watches = without(s.watches, i);
  w.release();
  return true;
}

/** Adds a watch (of a room the socket does not watch). */
export function addWatch(s: WsSession, w: SocketWatch): void {
  s.watches = s.watches.concat(w);
}

/** Adds `room` to the rooms of the socket's session (no duplicates). */
export function addRoom(s: WsSession, room: string): void {
  if (!s.rooms.includes(room)) s.rooms = s.rooms.concat(room);
}

/** Removes `room` from the rooms of the socket's session. */
export function removeRoom(s: WsSession, room: string): void {
  const i = s.rooms.indexOf(room);
  if (i >= 0) s.rooms = without(s.rooms, i);
}
