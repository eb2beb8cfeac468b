import type { Caller } from "../../core/identity.js";
import type { Detail } from "../../fanout/fanout-hub.js";
import type { SessionGrant } from "../../store/presence-store.js";

/**
 * Per-socket state of the WebSocket bridge: the typed user data of a uWS socket (given to
 * `res.upgrade`, returned by `ws.getUserData()`, still readable in the `close` handler). No ad-hoc
 * fields on sockets: everything the bridge keeps about a socket is here.
 */
export interface WsSession {
  /** Serial number of the socket in this process (logs only; never sent). */
  readonly serial: number;
  /** Who opened the socket (verified at the upgrade); every frame acts as this caller. */
  readonly caller: Caller;
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
  /** Rooms the session joined through this socket. */
  readonly rooms: Set<string>;
  /** Rooms this socket watches. */
  readonly watches: Map<string, SocketWatch>;
  /**
   * Since when the socket has been over its buffered-bytes cap with a delivery missed (ms since the
   * epoch; 0 = not). A socket in this state longer than the stall limit is closed with 4001.
   */
  overCapSince: number;
  /** Frames received and not answered yet (bounded: the rest is refused). */
  pendingFrames: number;
  /** Frames of one socket run one after another, in arrival order; the close cleanup runs last. */
  chain: Promise<void>;
  /** Set in the uWS `close` handler: the socket must not be touched any more. */
  closed: boolean;
  /** The close code seen by the `close` handler (1000 ends the session at once). */
  closeCode: number;
  /** Timer that closes the socket with 4003 when the token expires. */
  expiryTimer: { cancel(): void } | null;
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
export function createWsSession(caller: Caller, tokenExpiresAtMs: number): WsSession {
  return {
    serial: ++serials,
    caller,
    tokenExpiresAtMs,
    json: undefined,
    session: null,
    release: null,
    rooms: new Set(),
    watches: new Map(),
    overCapSince: 0,
    pendingFrames: 0,
    chain: Promise.resolve(),
    closed: false,
    closeCode: 0,
    expiryTimer: null,
  };
}
