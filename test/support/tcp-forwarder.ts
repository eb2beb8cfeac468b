import * as net from "node:net";
import { createRespSplitter, type RespFrame } from "./resp-frames.js";

/**
 * A loopback TCP forwarder in front of a server: the link faults of reliability.md §5, with no
 * binary beyond Node.
 *
 * - Address stability: `pointAt(port)` sends new connections to `port` and drops the open ones (a
 *   server restarted on another port); `route(port)` only changes where new connections go (a
 *   balancer taking a draining node out of rotation while its connections finish).
 * - Latency: `setLatency(ms)` delays every chunk by `ms` in each direction, in order.
 * - Partition: `cut()` holds every byte in both directions, and new connections are accepted but
 *   not connected upstream, like a network that drops packets (TCP retransmits them later); `heal()`
 *   delivers what was held (in order, as TCP would after a short partition) or, with `reset`, kills
 *   every connection that was open (a long partition: the peers' connections timed out).
 * - Pub/sub faults (Redis links): server→client bytes are split into whole RESP frames; on a
 *   subscriber connection (the client sent SUBSCRIBE or SSUBSCRIBE) `filterPushes(fn)` decides per
 *   frame what is delivered: nothing (lost), twice (duplicated), or later (held by the filter and
 *   returned with a later frame: reordered).
 *
 * Everything it opens is closed by `close()`.
 */
export interface TcpForwarder {
  readonly port: number;
  /** New connections go to `port`; open connections are dropped. */
  pointAt(port: number): void;
  /** New connections go to `port`; open connections stay where they are. */
  route(port: number): void;
  /** One-way delay added to every chunk, in both directions (0: none). */
  setLatency(ms: number): void;
  /** Partition: hold every byte, connect no new connection upstream. */
  cut(): void;
  /** Ends a partition: deliver what was held, or with `reset` kill every connection open now. */
  heal(opts?: { reset?: boolean }): void;
  /**
   * Decides what a subscriber connection receives, frame by frame (null: everything, unchanged).
   * With `openOnly`, only the connections open now are filtered (a reconnect gets a clean one).
   */
  filterPushes(fn: PushFilter | null, opts?: { openOnly?: boolean }): void;
  /** Connections open now (client side), and how many of them are subscribers. */
  connections(): { open: number; subscribers: number };
  close(): Promise<void>;
}

/** Gets each server→client frame of a subscriber connection; returns the frames to deliver instead (in order). */
export type PushFilter = (frame: RespFrame) => RespFrame[];

interface Queue {
  items: { dueAt: number; data: Buffer }[];
  timer: NodeJS.Timeout | null;
}

interface Pipe {
  down: net.Socket;
  up: net.Socket | null;
  subscriber: boolean;
  /** This connection's own filter (`openOnly`), over the forwarder's. */
  filter: PushFilter | null;
  toUp: Queue;
  toDown: Queue;
  split: ReturnType<typeof createRespSplitter>;
}

export async function startTcpForwarder(initialTarget = 0): Promise<TcpForwarder> {
  let target = initialTarget;
  let latencyMs = 0;
  let partitioned = false;
  let filter: PushFilter | null = null;
  const pipes = new Set<Pipe>();

  const destroy = (p: Pipe) => {
    if (!pipes.delete(p)) return;
    for (const q of [p.toUp, p.toDown]) {
      if (q.timer) clearTimeout(q.timer);
      q.items = [];
    }
    p.down.destroy();
    p.up?.destroy();
  };

  /** Writes what is due, unless partitioned (then everything waits in the queue). */
  const pump = (p: Pipe, q: Queue, to: () => net.Socket | null) => {
    if (q.timer) clearTimeout(q.timer);
    q.timer = null;
    const sock = to();
    while (!partitioned && sock && q.items.length > 0) {
      const wait = q.items[0]!.dueAt - Date.now();
      if (wait > 0) {
        q.timer = setTimeout(() => pump(p, q, to), wait);
        return;
      }
      sock.write(q.items.shift()!.data);
    }
  };
  const send = (p: Pipe, q: Queue, to: () => net.Socket | null, data: Buffer) => {
    q.items.push({ dueAt: Date.now() + latencyMs, data });
    if (q.items.length === 1) pump(p, q, to);
  };

  const connectUp = (p: Pipe) => {
    const up = net.connect(target, "127.0.0.1");
    p.up = up;
    up.on("error", () => destroy(p));
    up.on("close", () => destroy(p));
    up.on("data", (chunk: Buffer) => {
      let frames: RespFrame[];
      try {
        frames = p.split.push(chunk);
      } catch {
        // Not RESP (a forwarder in front of something else): pass bytes through unchanged.
        frames = [{ raw: chunk, value: null }];
      }
      const fn = p.filter ?? filter;
      for (const f of p.subscriber && fn ? frames.flatMap(fn) : frames) send(p, p.toDown, () => p.down, f.raw);
    });
    pump(p, p.toUp, () => p.up);
  };

  const srv = net.createServer((down) => {
    const p: Pipe = { down, up: null, subscriber: false, filter: null, toUp: { items: [], timer: null }, toDown: { items: [], timer: null }, split: createRespSplitter() };
    pipes.add(p);
    down.on("error", () => destroy(p));
    down.on("close", () => destroy(p));
    down.on("data", (chunk: Buffer) => {
      if (!p.subscriber && /\r\ns?subscribe\r\n/i.test(chunk.toString("latin1"))) p.subscriber = true;
      send(p, p.toUp, () => p.up, chunk);
    });
    if (!partitioned) connectUp(p);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));

  return {
    port: (srv.address() as net.AddressInfo).port,
    pointAt(port) {
      target = port;
      for (const p of [...pipes]) destroy(p);
    },
    route(port) {
      target = port;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    cut() {
      partitioned = true;
    },
    heal({ reset = false } = {}) {
      partitioned = false;
      for (const p of [...pipes]) {
        if (reset) {
          destroy(p);
          continue;
        }
        if (!p.up) connectUp(p);
        pump(p, p.toUp, () => p.up);
        pump(p, p.toDown, () => p.down);
      }
    },
    filterPushes(fn, { openOnly = false } = {}) {
      if (!openOnly) return void (filter = fn);
      for (const p of pipes) if (p.subscriber) p.filter = fn;
    },
    connections: () => ({ open: pipes.size, subscribers: [...pipes].filter((p) => p.subscriber).length }),
    async close() {
      for (const p of [...pipes]) destroy(p);
      await new Promise((r) => srv.close(r));
    },
  };
}
