/**
 * One benchmark client that speaks any of the three servers' protocols over the same raw
 * WebSocket (bench/lib/raw-ws.ts), so that every server gets the same generator and only a thin
 * protocol adapter differs:
 *
 * - `presence` (us): binary protobuf ClientFrames; a member Joins (metadata `t` = send time) and
 *   Watches the room (full detail); typing = SetTyping, cursors = UpdateCursor.
 * - `soketi` (Pusher protocol 7): JSON `pusher:subscribe` to `presence-<room>` with `auth` =
 *   `key:HMAC-SHA256(secret, socket_id:channel:channel_data)` as a Pusher auth backend would sign
 *   it; typing and cursors are `client-` events on the presence channel.
 * - `socketio` (our baseline): engine.io v4 over WebSocket (`0` open, `40` connect, `42[...]`
 *   events, `43<id>[...]` acks, ping `2` → pong `3`), events `join` (ack = members), `leave`,
 *   `typing`, `cursor`.
 *
 * The client keeps only what the scenarios measure: the size of its view of its room (`count`,
 * from snapshots/answers and join/leave events), join/leave events and deliveries seen, and, for
 * probe clients, the latency from the sender's clock (`t` in the join metadata or in the cursor's
 * x) to receipt. Our frames are not decoded with the generated code (too slow for thousands of
 * sockets): a tiny protobuf walker reads the counts and the message kind; probes decode fully.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { createHmac } from "node:crypto";
import { performance } from "node:perf_hooks";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import { ServerFrameSchema } from "../../gen/presence/v1/frames_pb.js";
import { Detail } from "../../gen/presence/v1/types_pb.js";
import type { Histogram } from "./histogram.js";
import { encodeClient } from "./presence-frames.js";
import { rawConnect, RawWs } from "./raw-ws.js";

/** The servers of the peer benchmark: ours on each WebSocket engine (`presence` = uWS), and the peers. */
export type ServerKind = "presence" | "presence-ws" | "soketi" | "socketio";
/** The protocol a client speaks to a server kind (both of our engines speak ours). */
export type Protocol = Exclude<ServerKind, "presence-ws">;
export const protocolOf = (k: ServerKind): Protocol => (k === "presence-ws" ? "presence" : k);

/** The Soketi app of bench/peers/soketi/start.mjs. */
export const SOKETI_APP = { id: "bench", key: "bench-key", secret: "bench-secret" };

/** Wall-clock milliseconds with sub-ms resolution, comparable across processes of this machine. */
export const now = (): number => performance.timeOrigin + performance.now();

export interface ClientStats {
  framesIn: number;
  /** Payload bytes of the messages handled (not counted for header-only clients). */
  bytesIn: number;
  /** Our server: snapshot pages received. */
  snapshotPagesIn: number;
  /** Membership events, typing changes and cursor positions received (one per event per client). */
  deliveries: number;
  joinsSeen: number;
  leavesSeen: number;
  /** Peers: member events that changed nothing in the id set (a join of an id already in the view, a leave of one not in it). */
  redundantMemberEvents: number;
  /** Peers: member events that arrived before the subscription answer (applied on top of it). */
  earlyMemberEvents: number;
  /** Ours: reclaims refused for another reason than SESSION_NOT_FOUND (store busy, draining, …), tried again. */
  reclaimRetries: number;
  /** Ours: reclaims refused with SESSION_NOT_FOUND, then joined afresh (a new session). */
  freshRejoins: number;
}

// ---- protobuf walker (our frames) ----

function varint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const x = b[pos++]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Calls `fn(field, start, end)` for each length-delimited field of the message in b[start, end); skips the others. */
function fields(b: Uint8Array, start: number, end: number, fn: (field: number, s: number, e: number) => void): void {
  let p = start;
  while (p < end) {
    let tag: number;
    [tag, p] = varint(b, p);
    const wt = tag & 7;
    if (wt === 0) [, p] = varint(b, p);
    else if (wt === 1) p += 8;
    else if (wt === 5) p += 4;
    else if (wt === 2) {
      let len: number;
      [len, p] = varint(b, p);
      fn(tag >>> 3, p, p + len);
      p += len;
    } else return;
  }
}

/** Counts.connections (field 2) of a Counts message. */
function connectionsOf(b: Uint8Array, s: number, e: number): number {
  let p = s;
  let out = 0;
  while (p < e) {
    let tag: number;
    [tag, p] = varint(b, p);
    if ((tag & 7) !== 0) return out;
    let v: number;
    [v, p] = varint(b, p);
    if (tag >>> 3 === 2) out = v;
  }
  return out;
}

interface Scan {
  /** Connection count of the room after this frame, or -1 when the frame has none. */
  count: number;
  kind: "join" | "event-join" | "event-left" | "event-other" | "snapshot" | "typing" | "cursors" | "error" | "other";
  cursors: number;
}

/** Reads what the benchmark needs from a ServerFrame without decoding it. */
function scanServerFrame(b: Uint8Array): Scan {
  const out: Scan = { count: -1, kind: "other", cursors: 0 };
  const viewCounts = (s: number, e: number) => fields(b, s, e, (f, a, z) => f === 4 && (out.count = connectionsOf(b, a, z)));
  fields(b, 0, b.length, (f, s, e) => {
    if (f === 30) out.kind = "error";
    else if (f === 10) {
      out.kind = "join";
      fields(b, s, e, (g, a, z) => g === 4 && viewCounts(a, z));
    } else if (f === 20) {
      fields(b, s, e, (g, a, z) => {
        if (g === 1) {
          out.kind = "snapshot";
          fields(b, a, z, (h, c, d) => h === 1 && viewCounts(c, d));
        } else if (g === 2) {
          out.kind = "event-other";
          fields(b, a, z, (h, c, d) => {
            if (h === 5) out.count = connectionsOf(b, c, d);
            else if (h === 10) out.kind = "event-join";
            else if (h === 11) out.kind = "event-left";
          });
        } else if (g === 3) fields(b, a, z, (h, c, d) => h === 4 && (out.count = connectionsOf(b, c, d)));
        else if (g === 5) out.kind = "typing";
        else if (g === 6) {
          out.kind = "cursors";
          fields(b, a, z, (h) => h === 2 && out.cursors++);
        }
      });
    }
  });
  return out;
}

/** The member id of a Pusher `member_added`/`member_removed` (its data is a JSON string: quotes escaped). */
const PUSHER_USER = /user_id\\?":\\?"([^"\\]+)/;
/** The member id of a Socket.IO baseline `joined`/`left` event. */
const SIO_USER = /"id":"([^"]+)"/;

// ---- the client ----

export interface PeerClientOptions {
  kind: Protocol;
  port: number;
  localAddress: string;
  user: string;
  /** Bearer token (ours; users are authenticated everywhere so that every server lists them). */
  token?: string;
  /** Decode every message for latency. */
  probe: boolean;
  latency: Histogram;
  /** Count frames only (no view tracking): for many watchers under a high delivery rate. */
  countOnly: boolean;
}

export class PeerClient {
  ws: RawWs | null = null;
  room = "";
  /** Size of this client's view of `room`; -1 until its first answer or snapshot. */
  count = -1;
  /** The join (or subscription) was answered. */
  joined = false;
  /** Time the view first reached `target` since the target was set (NaN: not yet). */
  convergedAt = NaN;
  target = -1;
  readonly stats: ClientStats = { framesIn: 0, bytesIn: 0, snapshotPagesIn: 0, deliveries: 0, joinsSeen: 0, leavesSeen: 0, redundantMemberEvents: 0, earlyMemberEvents: 0, reclaimRetries: 0, freshRejoins: 0 };
  /** Called after every message that changed `count` or `joined`. */
  onChange: (() => void) | null = null;
  /**
   * Peers (not countOnly): the member ids of the view, as their client libraries keep them
   * (pusher-js `Members`, a Socket.IO app's map): a duplicate `member_added`/`joined` for an id
   * already in the view, or a `member_removed`/`left` for one not in it, changes nothing.
   */
  private members = new Set<string>();
  /**
   * Member events that arrived before the subscription answer (Soketi's and Socket.IO's member
   * lists are read asynchronously, so a join can be broadcast to us before our own answer): they
   * are applied again on top of the answer's list, as a careful client would.
   */
  private early: Array<[string, boolean]> = [];
  /** `ws.frames` when `countFramesOnly` last folded them into `stats` (-1: payloads are handled). */
  private frameBase = -1;
  private socketId = "";
  private sessionId = "";
  private resumeSecret = "";
  private sioAck = 0;
  private watching = true;
  /** The last Join asked to reclaim the session (session id + resume secret). */
  private resuming = false;
  private opened: (() => void) | null = null;
  private joinedCb: (() => void) | null = null;
  /** Reclaims refused in a row (not SESSION_NOT_FOUND): the reconnect loop backs off by it. */
  refusalsInARow = 0;

  constructor(readonly o: PeerClientOptions) {}

  /** Connects and completes the protocol's handshake (Pusher: connection_established; engine.io: open + namespace connect). */
  async connect(): Promise<void> {
    const o = this.o;
    const path = o.kind === "presence" ? "/ws" : o.kind === "soketi" ? `/app/${SOKETI_APP.key}?protocol=7&client=js&version=8.0.0&flash=false` : "/socket.io/?EIO=4&transport=websocket";
    const ready = new Promise<void>((resolve) => (this.opened = resolve));
    this.joined = false;
    this.count = -1;
    this.ws = await rawConnect(o.port, o.localAddress, o.kind === "presence" ? o.token : undefined, (ws) => {
      // The server may speak first, in the same read as the 101: handlers must be able to answer.
      this.ws = ws;
      ws.onMessage = (p) => this.handle(p);
    }, {
      path,
      protocol: o.kind === "presence" ? "presence.v1" : null,
    });
    if (o.kind === "presence") this.opened?.();
    const timeout = setTimeout(() => this.ws?.destroy(), 20_000);
    this.ws.onClose = () => this.opened?.();
    await ready;
    clearTimeout(timeout);
    if (this.ws.closed) throw new Error("closed during the handshake");
  }

  /** Joins `room` (and watches it: every member is a watcher on all three servers); resolves when answered. */
  join(room: string, resume = false, watch = true): Promise<void> {
    this.room = room;
    this.watching = watch;
    this.early = [];
    const ws = this.ws!;
    const t = now();
    const answered = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`join of ${room} not answered in 15 s`)), 15_000);
      this.joinedCb = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    if (this.o.kind === "presence") {
      this.resuming = resume && this.sessionId !== "";
      const session = this.resuming ? { sessionId: this.sessionId, resumeSecret: this.resumeSecret } : {};
      ws.send(encodeClient({ requestId: 1, frame: { case: "join", value: { room, metadata: { t: String(t) }, ...session } } }));
      if (watch) ws.send(encodeClient({ requestId: 2, frame: { case: "watch", value: { room, detail: Detail.FULL } } }));
    } else if (this.o.kind === "soketi") {
      const channel = `presence-${room}`;
      const channelData = JSON.stringify({ user_id: this.o.user, user_info: { t } });
      const sig = createHmac("sha256", SOKETI_APP.secret).update(`${this.socketId}:${channel}:${channelData}`).digest("hex");
      ws.sendText(JSON.stringify({ event: "pusher:subscribe", data: { channel, auth: `${SOKETI_APP.key}:${sig}`, channel_data: channelData } }));
    } else {
      this.sioAck++;
      ws.sendText(`42${this.sioAck}${JSON.stringify(["join", { room, user: { id: this.o.user, t } }])}`);
    }
    return answered;
  }

  leave(): void {
    const ws = this.ws!;
    if (this.o.kind === "presence") {
      ws.send(encodeClient({ requestId: 3, frame: { case: "leave", value: { room: this.room } } }));
      if (this.watching) ws.send(encodeClient({ requestId: 4, frame: { case: "unwatch", value: { room: this.room } } }));
    }
    else if (this.o.kind === "soketi") ws.sendText(JSON.stringify({ event: "pusher:unsubscribe", data: { channel: `presence-${this.room}` } }));
    else ws.sendText(`42${JSON.stringify(["leave", { room: this.room }])}`);
    this.joined = false;
  }

  typing(on: boolean): void {
    const ws = this.ws!;
    if (this.o.kind === "presence") ws.send(encodeClient({ requestId: 0, frame: { case: "typing", value: { room: this.room, typing: on } } }));
    else if (this.o.kind === "soketi") ws.sendText(JSON.stringify({ event: "client-typing", channel: `presence-${this.room}`, data: { typing: on, t: now() } }));
    else ws.sendText(`42${JSON.stringify(["typing", { room: this.room, typing: on, t: now() }])}`);
  }

  /** A cursor move; x carries the send time so that receivers can measure latency on every server alike. */
  cursor(): void {
    const ws = this.ws!;
    const x = now();
    if (this.o.kind === "presence") ws.send(encodeClient({ requestId: 0, frame: { case: "cursor", value: { room: this.room, position: { x, y: 1 } } } }));
    else if (this.o.kind === "soketi") ws.sendText(JSON.stringify({ event: "client-cursor", channel: `presence-${this.room}`, data: { x, y: 1 } }));
    else ws.sendText(`42${JSON.stringify(["cursor", { room: this.room, x, y: 1 }])}`);
  }

  /**
   * Peers only (one message = one delivery there), for clients that stay joined: from now on data
   * frames are counted from their headers and their payloads are skipped (bench/lib/raw-ws.ts), so
   * that thousands of watchers cost the generator almost nothing. Probes keep decoding. Pings are
   * no longer answered: Pusher pings after 120 s of silence and Socket.IO closes an unanswering
   * socket after 45 s, both longer than a scenario's measuring window.
   */
  countFramesOnly(): void {
    if (this.o.kind === "presence" || this.o.probe || !this.ws || !this.joined) return;
    this.ws.onMessage = null;
    this.frameBase = this.ws.frames;
  }

  /** Folds the frames counted from headers into `stats` (call before reading them). */
  syncStats(): void {
    if (this.frameBase < 0 || !this.ws) return;
    const n = this.ws.frames - this.frameBase;
    this.frameBase = this.ws.frames;
    this.stats.framesIn += n;
    this.stats.deliveries += n;
  }

  setTarget(target: number): void {
    this.target = target;
    this.convergedAt = this.joined && this.count === target ? now() : NaN;
  }

  private setCount(n: number): void {
    this.count = n;
    if (this.joined && n === this.target && Number.isNaN(this.convergedAt)) this.convergedAt = now();
  }

  private answered(): void {
    this.joined = true;
    this.joinedCb?.();
    this.joinedCb = null;
    this.refusalsInARow = 0;
    this.setCount(this.count);
  }

  /** The member list of a subscription answer, with the member events that overtook it. */
  private setMembers(ids: string[]): void {
    this.members = new Set(ids);
    for (const [id, added] of this.early) {
      if (added) this.members.add(id);
      else this.members.delete(id);
    }
    this.early = [];
  }

  /** A member event of a peer: the view is the set of member ids (count = its size). */
  private memberChange(p: Buffer, re: RegExp, added: boolean): void {
    const id = re.exec(p.toString("latin1"))?.[1];
    if (id === undefined) return;
    if (!this.joined) {
      this.early.push([id, added]);
      this.stats.earlyMemberEvents++;
    } else if (this.members.has(id) === added) this.stats.redundantMemberEvents++;
    if (added) this.members.add(id);
    else this.members.delete(id);
    this.setCount(this.members.size);
  }

  private handle(p: Buffer): void {
    this.stats.framesIn++;
    this.stats.bytesIn += p.length;
    if (this.o.kind === "presence") this.handleOurs(p);
    else if (this.o.kind === "soketi") this.handlePusher(p);
    else this.handleSio(p);
    this.onChange?.();
  }

  private handleOurs(p: Buffer): void {
    if (this.o.countOnly && this.joined && !this.o.probe) {
      this.stats.deliveries++;
      return;
    }
    const s = scanServerFrame(p);
    const refused = s.kind === "error" && this.resuming ? fromBinary(ServerFrameSchema, p) : null;
    if (refused?.requestId === 1 && refused.frame.case === "error" && refused.frame.value.reason !== ErrorReason.SESSION_NOT_FOUND) {
      // Refused for another reason (the old server draining, the store busy): the session may well
      // be alive, so the SDK reconnects and tries the same reclaim again (a fresh Join would leave a
      // second member). The socket is dropped: the reconnect loop (generator.ts) takes it from there.
      this.stats.reclaimRetries++;
      // (Under a storm: STORE_UNAVAILABLE, Redis answering after the command timeout.) The wait
      // before that reconnect doubles with each refusal in a row (generator.ts), like the SDK's backoff.
      this.refusalsInARow++;
      this.ws?.destroy();
      return;
    }
    if (refused?.requestId === 1) {
      // The reclaim was refused (the session is gone, e.g. its reconnect grace ended while the
      // server restarted): join afresh, as the SDK does on SESSION_NOT_FOUND.
      this.stats.freshRejoins++;
      this.resuming = false;
      this.sessionId = "";
      this.resumeSecret = "";
      this.ws?.send(encodeClient({ requestId: 1, frame: { case: "join", value: { room: this.room, metadata: { t: String(now()) } } } }));
      return;
    }
    if (s.kind === "event-join") this.stats.joinsSeen++;
    else if (s.kind === "event-left") this.stats.leavesSeen++;
    else if (s.kind === "snapshot") this.stats.snapshotPagesIn++;
    if (s.kind.startsWith("event") || s.kind === "typing") this.stats.deliveries++;
    else if (s.kind === "cursors") this.stats.deliveries += s.cursors;
    if (s.kind === "join" && !this.sessionId) {
      const f = fromBinary(ServerFrameSchema, p);
      if (f.frame.case === "join" && f.frame.value.session) {
        this.sessionId = f.frame.value.session.sessionId;
        this.resumeSecret = f.frame.value.session.resumeSecret;
      }
    }
    if (s.count >= 0) this.count = s.count;
    if (!this.joined && (s.kind === "snapshot" || (s.kind === "join" && !this.watching))) this.answered();
    else if (s.count >= 0) this.setCount(s.count);
    if (this.o.probe && (s.kind === "event-join" || s.kind === "cursors")) {
      const f = fromBinary(ServerFrameSchema, p);
      const t = now();
      if (f.frame.case !== "watch") return;
      const m = f.frame.value.message;
      if (m.case === "event" && m.value.kind.case === "joined") {
        const sent = Number(m.value.kind.value.connection?.metadata["t"] ?? m.value.kind.value.user?.metadata["t"]);
        if (sent > 0) this.o.latency.add(t - sent);
      } else if (m.case === "cursors") for (const c of m.value.cursors) this.o.latency.add(t - (c.position?.x ?? t));
    }
  }

  private handlePusher(p: Buffer): void {
    // Cheap classification on the raw bytes; JSON only where a value is needed.
    if (p.includes("member_added")) {
      this.stats.joinsSeen++;
      this.stats.deliveries++;
      if (this.o.probe) {
        const t = now();
        const sent = (JSON.parse((JSON.parse(p.toString()) as { data: string }).data) as { user_info?: { t?: number } }).user_info?.t;
        if (sent) this.o.latency.add(t - sent);
      }
      if (!this.o.countOnly) this.memberChange(p, PUSHER_USER, true);
    } else if (p.includes("member_removed")) {
      this.stats.leavesSeen++;
      this.stats.deliveries++;
      if (!this.o.countOnly) this.memberChange(p, PUSHER_USER, false);
    } else if (p.includes("client-")) {
      this.stats.deliveries++;
      if (this.o.probe && p.includes("client-cursor")) {
        const t = now();
        this.o.latency.add(t - (JSON.parse(p.toString()) as { data: { x: number } }).data.x);
      }
    } else if (p.includes("subscription_succeeded")) {
      const m = JSON.parse(p.toString()) as { data: string };
      const presence = (JSON.parse(m.data) as { presence: { count: number; ids?: string[] } }).presence;
      this.setMembers(presence.ids ?? []);
      this.count = presence.ids ? this.members.size : presence.count;
      this.answered();
    } else if (p.includes("connection_established")) {
      const m = JSON.parse(p.toString()) as { data: string };
      this.socketId = (JSON.parse(m.data) as { socket_id: string }).socket_id;
      this.opened?.();
      this.opened = null;
    } else if (p.includes("pusher:ping")) this.ws?.sendText('{"event":"pusher:pong","data":{}}');
  }

  private handleSio(p: Buffer): void {
    const c0 = p[0];
    const c1 = p[1];
    if (c0 === 0x32 && p.length === 1) return void this.ws?.sendText("3"); // ping
    if (c0 === 0x34 && c1 === 0x32) {
      // 42["event",…]
      if (p.includes('"joined"')) {
        this.stats.joinsSeen++;
        this.stats.deliveries++;
        if (this.o.probe) {
          const t = now();
          const sent = (JSON.parse(p.subarray(2).toString()) as [string, { t?: number }])[1].t;
          if (sent) this.o.latency.add(t - sent);
        }
        if (!this.o.countOnly) this.memberChange(p, SIO_USER, true);
      } else if (p.includes('"left"')) {
        this.stats.leavesSeen++;
        this.stats.deliveries++;
        if (!this.o.countOnly) this.memberChange(p, SIO_USER, false);
      } else {
        this.stats.deliveries++;
        if (this.o.probe && p.includes('"cursor"')) {
          const t = now();
          this.o.latency.add(t - (JSON.parse(p.subarray(2).toString()) as [string, { x: number }])[1].x);
        }
      }
    } else if (c0 === 0x34 && c1 === 0x33) {
      // 43<id>[members]
      const s = p.toString();
      const members = JSON.parse(s.slice(s.indexOf("["))) as [Array<{ id?: string } | null>];
      this.setMembers(members[0].map((u) => String(u?.id)));
      this.count = this.members.size;
      this.answered();
    } else if (c0 === 0x30) this.ws?.sendText("40"); // engine.io open → connect the "/" namespace
    else if (c0 === 0x34 && c1 === 0x30) {
      this.opened?.();
      this.opened = null;
    }
  }
}
