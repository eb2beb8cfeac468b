/**
 * A real WebSocket client of the bridge for tests (the `ws` npm package): sends ClientFrames in
 * binary protobuf or JSON text, decodes every ServerFrame, matches answers by request id, and
 * records watch messages and the close. `pause()` stops reading the socket (no pongs, the kernel
 * buffers fill up: a slow or vanished peer), `terminate()` drops the TCP connection without a close
 * frame.
 */
import { create, fromBinary, fromJsonString, toBinary, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import type { Socket } from "node:net";
import WebSocket from "ws";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "../../gen/presence/v1/frames_pb.js";
import type { WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";

export type ClientFrameInit = MessageInitShape<typeof ClientFrameSchema>;
type FrameBody = NonNullable<ClientFrameInit["frame"]>;

export interface WsClientOptions {
  /** JWT, sent as `Authorization: Bearer` (default), as the `bearer.<jwt>` subprotocol, or as `?token=`. */
  token?: string;
  via?: "header" | "protocol" | "query";
  /** Speak JSON text frames instead of binary protobuf. */
  json?: boolean;
  /** Source address of the connection (127.0.0.2 is another remote address than 127.0.0.1). */
  localAddress?: string;
}

export interface WsTestClient {
  readonly ws: WebSocket;
  /** Every decoded frame received, in order. */
  readonly frames: ServerFrame[];
  /** Resolves with the close code and reason (also for a failed handshake: code 0). */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Sends a frame with a fresh request id and resolves with the frame answering it. */
  request(frame: FrameBody, timeoutMs?: number): Promise<ServerFrame>;
  /** Sends a frame as is (request id 0 unless given). */
  send(frame: ClientFrameInit): void;
  /** Watch messages received (optionally of one room: snapshots, events, typing, cursors, counts). */
  watchMessages(room?: string): WatchPresenceResponse[];
  /** Calls `listener` for every frame received from now on (cheap incremental consumers). */
  onFrame(listener: (f: ServerFrame) => void): void;
  /** Resolves when a frame matching `pred` has arrived (checks the ones already received first). */
  waitFor(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  pause(): void;
  resume(): void;
  terminate(): void;
  close(code?: number, reason?: string): void;
}

/** The room a watch message belongs to ("" for keepalives). */
export function roomOf(m: WatchPresenceResponse): string {
  switch (m.message.case) {
    case "snapshot":
      return m.message.value.view?.room ?? "";
    case "event":
    case "typing":
    case "cursors":
    case "counts":
      return m.message.value.room;
    default:
      return "";
  }
}

/** Opens a socket and resolves once it is open; rejects with the handshake error (e.g. 401). */
export async function connectWs(url: string, opts: WsClientOptions = {}): Promise<WsTestClient> {
  const headers: Record<string, string> = {};
  const protocols = ["presence.v1"];
  let target = url;
  if (opts.token !== undefined) {
    if ((opts.via ?? "header") === "header") headers.authorization = `Bearer ${opts.token}`;
    else if (opts.via === "protocol") protocols.push(`bearer.${opts.token}`);
    else target = `${url}?token=${encodeURIComponent(opts.token)}`;
  }
  const ws = new WebSocket(target, protocols, { headers, maxPayload: 64 * 1024 * 1024, localAddress: opts.localAddress });
  const frames: ServerFrame[] = [];
  const waiters = new Set<{ pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }>();
  const listeners: ((f: ServerFrame) => void)[] = [];
  let nextId = 1;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on("unexpected-response", () => resolve({ code: 0, reason: "handshake refused" }));
  });
  ws.on("message", (data, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const f = isBinary ? fromBinary(ServerFrameSchema, buf) : fromJsonString(ServerFrameSchema, buf.toString("utf8"));
    frames.push(f);
    for (const l of listeners) l(f);
    for (const w of [...waiters]) {
      if (w.pred(f)) {
        waiters.delete(w);
        w.resolve(f);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`Unexpected server response: ${res.statusCode}`), { statusCode: res.statusCode })));
  });
  ws.on("error", () => {}); // later errors surface as the close

  const send = (frame: ClientFrameInit) => {
    const msg = create(ClientFrameSchema, frame);
    if (opts.json) ws.send(toJsonString(ClientFrameSchema, msg));
    else ws.send(toBinary(ClientFrameSchema, msg));
  };
  const waitFor = (pred: (f: ServerFrame) => boolean, timeoutMs = 5_000) => {
    const seen = frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<ServerFrame>((resolve, reject) => {
      const w = { pred, resolve: (f: ServerFrame) => (clearTimeout(t), resolve(f)) };
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`no matching frame within ${timeoutMs} ms (got ${frames.length} frames)`));
      }, timeoutMs);
      waiters.add(w);
    });
  };
  const socket = () => (ws as unknown as { _socket: Socket })._socket;
  return {
    ws,
    frames,
    closed,
    request(frame, timeoutMs) {
      const requestId = nextId++;
      const answer = waitFor((f) => f.requestId === requestId, timeoutMs);
      send({ requestId, frame });
      return answer;
    },
    send,
    onFrame: (l) => void listeners.push(l),
    watchMessages: (room) =>
      frames.flatMap((f) => (f.frame.case === "watch" && (room === undefined || roomOf(f.frame.value) === room) ? [f.frame.value] : [])),
    waitFor,
    pause: () => socket().pause(),
    resume: () => socket().resume(),
    terminate: () => ws.terminate(),
    close: (code = 1000, reason = "bye") => ws.close(code, reason),
  };
}
