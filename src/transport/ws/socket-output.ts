import type { Clock } from "../../core/clock.js";
import type { Metrics } from "../../metrics/registry.js";
import { CLOSE } from "./close-codes.js";
import { lazyFrame, type EncodedFrame, type ServerFrameInit } from "./frames.js";
import { topicOf, type Socket, type SocketIo } from "./room-broadcaster.js";
import { DROPPED, type EngineTopics } from "./ws-engine.js";
import type { SocketWatch } from "./ws-session.js";

/**
 * What the bridge sends, and what happens to a socket that cannot keep up. A socket whose send
 * buffer is over `maxBufferedBytes` misses deliveries (a uWS publish skips it silently, uws-notes
 * §2: the room broadcaster checks the cap before every publish), is marked "troubled", and gets
 * fresh snapshots of the rooms it missed once it drains below half the cap. A socket that stays
 * behind for `stallMs` is closed with 4001 (checked every `stallMs / 4`, 25 ms to 1 s).
 */
export interface SocketOutputOptions {
  clock: Clock;
  metrics?: Metrics;
  maxBufferedBytes: number;
  stallMs: number;
  /** The engine's topics (read when needed: the engine is created after the bridge's handlers). */
  topics: () => EngineTopics | undefined;
  /** Sends the owed snapshot of one watch (the room's broadcaster resyncs it). */
  resync: (ws: Socket, watch: SocketWatch) => void;
  /** Runs a body that must not throw into the engine. */
  guard: (handler: string, ws: Socket | null, fn: () => void) => void;
}

export interface SocketOutput {
  /** What the room broadcasters send through. */
  readonly io: SocketIo;
  /** Sends a frame in the socket's encoding; false when it was not sent (closed or dropped). */
  send(ws: Socket, frame: EncodedFrame): boolean;
  /** Answers a request; a lost answer marks the socket (the stall check applies). */
  /** Sends an answer (`binary`: its binary encoding, when made by a faster encoder than the generic one). */
  reply(ws: Socket, frame: ServerFrameInit, binary?: () => Uint8Array): void;
  /** The engine's drain event: a troubled socket below half its cap catches up. */
  drained(ws: Socket): void;
  /** The socket closed: nothing more to check. */
  forget(ws: Socket): void;
  /** Stops the stall checks (shutdown). */
  stop(): void;
}

export function createSocketOutput(o: SocketOutputOptions): SocketOutput {
  const { clock, metrics } = o;
  const cap = o.maxBufferedBytes;
  /** Sockets that missed deliveries (or a reply): resynced when they drain, closed when stuck. */
  const troubled = new Set<Socket>();

  function send(ws: Socket, frame: EncodedFrame): boolean {
    const s = ws.getUserData();
    if (s.closed) return false;
    const result = s.json ? ws.send(frame.json(), false) : ws.send(frame.binary(), true);
    if (result === DROPPED) {
      metrics?.wsFramesDropped.inc();
      metrics?.deliveriesDropped.inc({ transport: "ws", reason: "send_dropped" });
      return false;
    }
    metrics?.wsFramesSent.inc();
    return true;
  }

  function markTroubled(ws: Socket) {
    const s = ws.getUserData();
    if (s.overCapSince === 0) s.overCapSince = clock.now();
    troubled.add(ws);
  }

  /** The socket drained: owed snapshots are sent now, and it is subscribed again in the same tick. */
  function catchUp(ws: Socket) {
    const s = ws.getUserData();
    troubled.delete(ws);
    s.overCapSince = 0;
    for (const w of s.watches) if (w.needsSnapshot) o.resync(ws, w);
  }

  function maintain() {
    const now = clock.now();
    for (const ws of [...troubled]) {
      o.guard("maintenance", ws, () => {
        const s = ws.getUserData();
        if (s.closed) {
          troubled.delete(ws);
          return;
        }
        if (ws.getBufferedAmount() <= cap / 2) catchUp(ws);
        else if (now - s.overCapSince >= o.stallMs) ws.end(CLOSE.SLOW_CONSUMER.code, CLOSE.SLOW_CONSUMER.reason);
      });
    }
  }
  const maintenance = clock.setInterval(() => maintain(), Math.min(1_000, Math.max(25, Math.floor(o.stallMs / 4))));

  return {
    io: {
      send,
      overCap(ws) {
        if (ws.getBufferedAmount() <= cap) return false;
        metrics?.deliveriesDropped.inc({ transport: "ws", reason: "over_cap" });
        return true;
      },
      behind(ws, watch) {
        if (!watch.needsSnapshot) metrics?.wsSlowConsumerResyncs.inc();
        watch.needsSnapshot = true;
        if (watch.subscribed && !ws.getUserData().closed) o.topics()?.unsubscribe(ws, topicOf(watch.room));
        watch.subscribed = false;
        markTroubled(ws);
      },
    },
    send,
    reply(ws, frame, binary) {
      if (ws.getUserData().closed) return;
      if (!send(ws, lazyFrame(frame, binary))) markTroubled(ws); // a lost answer: the stall check applies
    },
    drained(ws) {
      if (troubled.has(ws) && ws.getBufferedAmount() <= cap / 2) catchUp(ws);
    },
    forget(ws) {
      troubled.delete(ws);
    },
    stop() {
      maintenance.cancel();
    },
  };
}
