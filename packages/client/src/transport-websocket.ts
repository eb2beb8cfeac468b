import { create, fromBinary, fromJsonString, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "../../../gen/presence/v1/frames_pb.js";
import { WatchPresenceResponseSchema } from "../../../gen/presence/v1/presence_pb.js";
import { Detail } from "../../../gen/presence/v1/types_pb.js";
import type { Clock, TimerHandle } from "../../../src/core/clock.js";
import { fromClose, fromErrorFrame, PresenceClientError } from "./errors.js";
import { resolveToken, type PresenceTransport, type TokenSource, type TransportHandlers } from "./transport.js";

/**
 * PresenceService over the WebSocket bridge (`frames.proto`): one socket carries one session and
 * every watched room. Frames are binary protobuf. The token travels in the subprotocol list
 * (`presence.v1`, `bearer.<jwt>`; browsers cannot set headers, and the server answers with
 * `presence.v1`, which must be one of the offered values) or in `?token=`.
 *
 * Requests carry a `request_id` and are answered by the ServerFrame with the same id (or an
 * ErrorFrame). Typing and cursor frames are fire-and-forget (`request_id = 0`): their errors arrive
 * with id 0 and go to `onError`. The socket keeps the session alive; closing with 1000 ends it at
 * once, any other close keeps it for the server's reconnect grace.
 */

/** A WebSocket constructor: the browser's, or `ws` in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object;

/** The part of a WebSocket this transport uses (browser WebSocket and `ws` both have it). */
interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: { message?: string | undefined; error?: unknown }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

const OPEN = 1;

export interface WebSocketTransportOptions {
  /** Bridge URL, e.g. `wss://presence.example.com/ws` (default port 8081, path `/ws`). */
  url: string;
  token?: TokenSource | undefined;
  /**
   * The WebSocket constructor. Default: the global `WebSocket`, looked up when connecting (not when
   * the client is made, so a client created during server-side rendering, where Node 20 has none
   * and nothing connects, is harmless).
   */
  webSocket?: WebSocketConstructor | undefined;
  /** How the token travels: subprotocol `bearer.<jwt>` (default) or query parameter `token`. */
  tokenVia?: "protocol" | "query" | undefined;
  clock: Clock;
  /** Opening deadline. Default 10,000 ms. */
  connectTimeoutMs?: number | undefined;
  /** Deadline of a request frame's answer. Default 10,000 ms. */
  requestTimeoutMs?: number | undefined;
}

type Pending = { resolve: (f: ServerFrame) => void; reject: (e: PresenceClientError) => void; timer: TimerHandle };
type ClientFrameBody = NonNullable<MessageInitShape<typeof ClientFrameSchema>["frame"]>;

export function createWebSocketPresenceTransport(o: WebSocketTransportOptions): PresenceTransport {
  const requestTimeoutMs = o.requestTimeoutMs ?? 10_000;
  let socket: SocketLike | null = null;
  let handlers: TransportHandlers | null = null;
  let seq = 0;
  const pending = new Map<number, Pending>();
  /** request id of a watch frame → its room, to route an ErrorFrame answering it. */
  const watchRequests = new Map<number, string>();
  /** request id of the last watch_users frame, until its ack or error arrives. */
  let usersRequest = 0;

  const nextId = () => (seq = seq >= 0xffff_fffe ? 1 : seq + 1);

  const failPending = (err: PresenceClientError) => {
    for (const p of pending.values()) {
      p.timer.cancel();
      p.reject(err);
    }
    pending.clear();
    watchRequests.clear();
  };

  const send = (requestId: number, frame: ClientFrameBody) => {
    const s = socket;
    if (!s || s.readyState !== OPEN) throw new PresenceClientError("unavailable", "not connected");
    s.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { requestId, frame })));
  };

  const request = (frame: ClientFrameBody): Promise<ServerFrame> =>
    new Promise((resolve, reject) => {
      const id = nextId();
      try {
        send(id, frame);
      } catch (e) {
        reject(e);
        return;
      }
      const timer = o.clock.setTimeout(() => {
        pending.delete(id);
        reject(new PresenceClientError("deadline_exceeded", `no answer to ${frame.case} within ${requestTimeoutMs} ms`));
      }, requestTimeoutMs);
      pending.set(id, { resolve, reject, timer });
    });

  /** Sends a request and returns the answer of the expected kind; an ErrorFrame rejects. */
  async function ask<C extends NonNullable<ServerFrame["frame"]["case"]>>(frame: ClientFrameBody, expect: C) {
    const answer = await request(frame);
    if (answer.frame.case === "error") throw fromErrorFrame(answer.frame.value);
    if (answer.frame.case !== expect) {
      throw new PresenceClientError("internal", `expected a ${expect} frame, got ${answer.frame.case ?? "an empty frame"}`);
    }
    return answer.frame.value as Extract<ServerFrame["frame"], { case: C }>["value"];
  }

  const decode = (data: unknown): ServerFrame | null => {
    try {
      if (typeof data === "string") return fromJsonString(ServerFrameSchema, data, { ignoreUnknownFields: true });
      if (data instanceof ArrayBuffer) return fromBinary(ServerFrameSchema, new Uint8Array(data));
      if (ArrayBuffer.isView(data)) return fromBinary(ServerFrameSchema, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch {
      return null;
    }
    return null;
  };

  const onFrame = (f: ServerFrame) => {
    const h = handlers;
    if (!h) return;
    if (f.requestId !== 0 && f.requestId === usersRequest) {
      usersRequest = 0;
      if (f.frame.case === "error") h.onUsersEnded(fromErrorFrame(f.frame.value));
      return; // else the ack of watch_users (its snapshot follows)
    }
    if (f.requestId !== 0) {
      const p = pending.get(f.requestId);
      if (p) {
        pending.delete(f.requestId);
        p.timer.cancel();
        p.resolve(f);
        return;
      }
      const room = watchRequests.get(f.requestId);
      if (room !== undefined) {
        watchRequests.delete(f.requestId);
        if (f.frame.case === "error") h.onWatchEnded(room, fromErrorFrame(f.frame.value));
        return; // else the ack of a watch (its snapshot follows)
      }
    }
    switch (f.frame.case) {
      case "watch":
        h.onWatchMessage(f.frame.value);
        return;
      case "users":
        h.onUsersMessage(f.frame.value);
        return;
      case "roomEnded":
        // A room of this socket's session ended: the same message a watch of it ends with.
        h.onWatchMessage(create(WatchPresenceResponseSchema, { message: { case: "ended", value: f.frame.value } }));
        return;
      case "error": {
        const err = fromErrorFrame(f.frame.value);
        if (f.frame.value.metadata["users"] !== undefined) return h.onUsersEnded(err);
        const room = f.frame.value.metadata["room"];
        if (room !== undefined && err.reason !== "SESSION_NOT_FOUND") h.onWatchEnded(room, err);
        else h.onError(err);
        return;
      }
      default:
        return; // acks of fire-and-forget frames
    }
  };

  const drop = (s: SocketLike, code: number, reason: string) => {
    s.onopen = s.onmessage = s.onerror = s.onclose = null;
    try {
      s.close(code, reason);
    } catch {
      // already closing
    }
  };

  return {
    kind: "websocket",
    keepsSessionAlive: true,

    async open(h) {
      if (socket) drop(socket, 4000, "reconnect");
      socket = null;
      const WebSocketImpl = o.webSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      // Terminal (failed_precondition): retrying cannot make a WebSocket appear.
      if (!WebSocketImpl) throw new PresenceClientError("failed_precondition", "no WebSocket available: pass `webSocket` to createPresenceClient (e.g. the `ws` package in Node 20)");
      const token = await resolveToken(o.token);
      let url = o.url;
      const protocols = ["presence.v1"];
      if (token !== "") {
        if (o.tokenVia === "query") url += `${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
        else protocols.push(`bearer.${token}`);
      }
      const s = new WebSocketImpl(url, protocols) as SocketLike;
      s.binaryType = "arraybuffer";
      await new Promise<void>((resolve, reject) => {
        let lastError = "";
        const timer = o.clock.setTimeout(() => {
          drop(s, 4000, "connect timeout");
          reject(new PresenceClientError("unavailable", `could not connect within ${o.connectTimeoutMs ?? 10_000} ms`));
        }, o.connectTimeoutMs ?? 10_000);
        s.onopen = () => {
          timer.cancel();
          resolve();
        };
        s.onerror = (ev) => {
          lastError = ev.message ?? (ev.error instanceof Error ? ev.error.message : "");
        };
        s.onclose = (ev) => {
          timer.cancel();
          s.onopen = s.onmessage = s.onerror = s.onclose = null;
          // A refused upgrade reaches a browser as a bare 1006; `ws` says "Unexpected server response: 401".
          if (/\b40[13]\b/.test(lastError)) reject(new PresenceClientError("unauthenticated", `upgrade refused: ${lastError}`, "UNAUTHENTICATED"));
          else reject(fromClose(ev.code, ev.reason || lastError));
        };
      });
      socket = s;
      handlers = h;
      s.onmessage = (ev) => {
        const f = decode(ev.data);
        if (f) onFrame(f);
      };
      s.onerror = () => {};
      s.onclose = (ev) => {
        s.onopen = s.onmessage = s.onerror = s.onclose = null;
        if (socket === s) socket = null;
        const err = fromClose(ev.code, ev.reason);
        failPending(err);
        const hh = handlers;
        handlers = null;
        hh?.onClosed(err);
      };
      return { anonymous: token === "" };
    },

    close(endSession) {
      handlers = null;
      const s = socket;
      socket = null;
      failPending(new PresenceClientError("canceled", "connection closed by the client"));
      if (s) drop(s, endSession ? 1000 : 4000, endSession ? "bye" : "reconnect");
    },

    join: (req) => ask({ case: "join", value: req }, "join"),
    leave: (req) => ask({ case: "leave", value: req }, "leave"),
    navigate: (req) => ask({ case: "navigate", value: req }, "navigate"),
    heartbeat: (req) => ask({ case: "heartbeat", value: req }, "heartbeat"),
    setStatus: (req) => ask({ case: "status", value: req }, "status"),
    broadcast: (req) => ask({ case: "broadcast", value: req }, "broadcast"),

    async setTyping(req) {
      send(0, { case: "typing", value: req });
    },
    async updateCursor(req) {
      send(0, { case: "cursor", value: req });
    },
    async updatePresence(req) {
      send(0, { case: "updatePresence", value: req });
    },

    watchUsers(userIds) {
      usersRequest = nextId();
      try {
        send(usersRequest, { case: "watchUsers", value: { userIds } });
      } catch {
        usersRequest = 0; // not connected: the next connection watches again
      }
    },

    unwatchUsers() {
      usersRequest = 0;
      try {
        send(0, { case: "unwatchUsers", value: {} });
      } catch {
        // not connected: nothing is watched
      }
    },

    watch(room, resumeFrom) {
      const id = nextId();
      for (const [rid, r] of watchRequests) if (r === room) watchRequests.delete(rid);
      watchRequests.set(id, room);
      const value = {
        room,
        detail: Detail.FULL,
        resumeFrom: resumeFrom && resumeFrom.epoch !== "" ? { epoch: resumeFrom.epoch, version: BigInt(resumeFrom.version) } : undefined,
      };
      try {
        send(id, { case: "watch", value });
      } catch {
        // not connected: the next connection watches again
      }
    },

    unwatch(room) {
      for (const [rid, r] of watchRequests) if (r === room) watchRequests.delete(rid);
      try {
        send(0, { case: "unwatch", value: { room } });
      } catch {
        // not connected: nothing is watched
      }
    },
  };
}
