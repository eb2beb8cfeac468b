import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { getDefaultHighWaterMark } from "node:stream";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as http2 from "node:http2";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PresenceService, WatchPresenceRequestSchema, WatchPresenceResponseSchema } from "../../gen/presence/v1/presence_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { createWatchRecorder, recordWatch, toComparableDomain, waitFor, type RecordedWatch, type WatchRecorder } from "../support/watch-recorder.js";

/*
 * F-O2: a Connect stream consumer that stops reading. HTTP/2 flow control stalls the server's
 * writer for that stream (its generator parks at `yield`), while a room keeps churning. The hub must
 * keep that watcher's queue bounded (overflow → "needs snapshot", counted), never slow the other
 * watchers (they get every event, promptly), and, when the client reads again, send it one fresh
 * snapshot so it converges. A stream parked longer than PRESENCE_WATCHER_STALL_MS is reset and its
 * watcher removed.
 *
 * The slow client is a raw node:http2 gRPC stream: once paused, Node stops consuming its DATA, so
 * the stream's 64 KiB window fills and the server's write waits for a WINDOW_UPDATE that never comes.
 */

type PresenceClient = Client<typeof PresenceService>;

const servers: TestServer[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

// A full GC between measurements, so heap growth means retained memory, not churn garbage.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RawWatch {
  recorder: WatchRecorder;
  stream: http2.ClientHttp2Stream;
  /** Messages decoded so far. */
  received(): number;
  pause(): void;
  resume(): void;
  /** Set when the stream closed: the RST code (0 for a clean end) and whether 'error' fired. */
  closed: Promise<{ rstCode: number; error: Error | null }>;
}

/** A gRPC WatchPresence call on a raw HTTP/2 stream, decoded into a recorder while it is read. */
function rawWatch(baseUrl: string, room: string): RawWatch {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  const stream = session.request({
    ":method": "POST",
    ":path": "/presence.v1.PresenceService/WatchPresence",
    "content-type": "application/grpc+proto",
    te: "trailers",
  });
  const body = toBinary(WatchPresenceRequestSchema, create(WatchPresenceRequestSchema, { room }));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  stream.end(frame);
  const recorder = createWatchRecorder();
  let buf = Buffer.alloc(0);
  let count = 0;
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
      const len = buf.readUInt32BE(1);
      recorder.apply(fromBinary(WatchPresenceResponseSchema, buf.subarray(5, 5 + len)));
      count++;
      buf = buf.subarray(5 + len);
    }
  };
  stream.on("data", onData);
  let error: Error | null = null;
  stream.on("error", (e) => (error = e));
  const closed = new Promise<{ rstCode: number; error: Error | null }>((resolve) => stream.on("close", () => resolve({ rstCode: stream.rstCode ?? 0, error })));
  cleanups.push(() => {
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.destroy();
  });
  return {
    recorder,
    stream,
    received: () => count,
    pause: () => {
      stream.off("data", onData);
      stream.pause();
    },
    resume: () => {
      stream.on("data", onData);
      stream.resume();
    },
    closed,
  };
}

/**
 * Joins and leaves in `room` until `stop()`: 4 workers, each pausing 4 ms between calls, keeping at
 * most ~60 members. Each member carries ~600 bytes of metadata, so events are big enough to fill a
 * stalled stream's window quickly.
 */
async function churn(client: PresenceClient, room: string, tokens: string[]) {
  let running = true;
  let ops = 0;
  const live: { sessionId: string; headers: Record<string, string> }[] = [];
  const pad = "x".repeat(600);
  const worker = async (k: number) => {
    for (let i = 0; running; i++) {
      if (live.length > 60 || (live.length > 10 && i % 2 === 1)) {
        const s = live.splice((i * 7 + k) % live.length, 1)[0]!;
        await client.leave({ sessionId: s.sessionId, room }, { headers: s.headers });
      } else {
        const headers = { authorization: `Bearer ${tokens[(i * 4 + k) % tokens.length]}` };
        const r = await client.join({ room, metadata: { pad, n: String(i) } }, { headers });
        live.push({ sessionId: r.session!.sessionId, headers });
      }
      ops++;
      await sleep(4);
    }
  };
  let failed: unknown;
  cleanups.push(() => (running = false));
  const workers = [0, 1, 2, 3].map((k) =>
    worker(k).catch((e: unknown) => {
      failed ??= e;
      running = false;
    }),
  );
  return {
    ops: () => ops,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      if (failed) throw failed;
    },
  };
}

/** The value of one series (`name` or `name{labels}`) in the server's metrics. */
async function scrape(server: TestServer, series: string): Promise<number> {
  const text = await server.app.metrics.registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return Number(line?.split(" ").pop() ?? NaN);
}

function p99(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
}

async function setup(env: Record<string, string>) {
  const server = await startTestServer(env);
  servers.push(server);
  const client = createClient(PresenceService, createGrpcTransport({ baseUrl: server.baseUrl }));
  const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => signTestToken(TEST_SECRET, { sub: `u${i}` })));
  const fast: RecordedWatch[] = [];
  const watchFast = (room: string) => {
    const w = recordWatch(createClient(PresenceService, createGrpcTransport({ baseUrl: server.baseUrl })), { room });
    cleanups.push(() => w.cancel());
    fast.push(w);
    return w;
  };
  return { server, client, tokens, fast, watchFast };
}

describe("F-O2 slow Connect stream consumer", () => {
  it("keeps the stalled watcher bounded, the others prompt, and resyncs it with one snapshot", async () => {
    const { server, client, tokens, fast, watchFast } = await setup({ PRESENCE_WATCHER_QUEUE_SIZE: "32" });
    const room = "hot";
    for (let i = 0; i < 3; i++) watchFast(room);
    const slow = rawWatch(server.baseUrl, room);
    await waitFor(() => slow.recorder.snapshots() === 1 && fast.every((w) => w.recorder.snapshots() === 1), 5_000, "first snapshots");
    slow.pause();
    const overflowsBefore = await scrape(server, "presence_fanout_queue_overflows_total");

    gc();
    const mem0 = process.memoryUsage();
    const c = await churn(client, room, tokens);
    let peakRss = mem0.rss;
    // Churn for at least 3 s and until well over 500 events were committed past the paused reader
    // (a loaded machine commits fewer per second), at most 20 s.
    const churnStart = Date.now();
    const pausedAt = slow.recorder.position()!.version;
    while (Date.now() - churnStart < 20_000) {
      await sleep(100);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      if (Date.now() - churnStart >= 3_000 && (await server.app.store.position(room)).version - pausedAt > 600) break;
    }
    await c.stop();
    gc();
    const retainedHeap = process.memoryUsage().heapUsed - mem0.heapUsed;
    const truth = await server.app.store.getView(room, { includeMembers: true });
    const committedDuringPause = truth.version - slow.recorder.position()!.version;

    // The fast watchers got every event, in order, promptly, without a resync.
    await waitFor(() => fast.every((w) => w.recorder.position()?.version === truth.version), 5_000, "fast watchers converge");
    const delays = fast.flatMap((w) => w.recorder.delaysMs());
    for (const w of fast) {
      expect(w.recorder.violations).toEqual([]);
      expect(w.recorder.snapshots()).toBe(1);
      expect(w.recorder.view()).toEqual(toComparableDomain(truth));
    }
    expect(delays.length).toBe(3 * (truth.version - fast[0]!.recorder.messages[0]!.version!));
    // Not held up by the paused reader (which is paused for seconds): a bound, not a speed figure.
    expect(p99(delays)).toBeLessThan(1_000);

    // The stalled one overflowed (counted once per episode) and its memory stayed bounded.
    expect(await scrape(server, "presence_fanout_queue_overflows_total")).toBe(overflowsBefore + 1);
    expect(await scrape(server, 'presence_resyncs_total{reason="overflow"}')).toBe(1);
    expect(committedDuringPause).toBeGreaterThan(500);
    expect(retainedHeap).toBeLessThan(16 * 1024 * 1024);
    expect(peakRss - mem0.rss).toBeLessThan(256 * 1024 * 1024);

    // Reading again: the backlog held by flow control (a bounded number of old events), then one
    // fresh snapshot at the current version.
    const beforeResume = slow.received();
    slow.resume();
    await waitFor(() => slow.recorder.position()?.version === truth.version && slow.recorder.snapshots() === 2, 5_000, "slow watcher resync");
    await sleep(50);
    const backlog = slow.recorder.messages.slice(beforeResume);
    const snapshotAt = backlog.findIndex((m) => m.kind === "snapshot");
    expect(backlog.slice(snapshotAt).map((m) => m.kind)).toEqual(["snapshot"]);
    expect(backlog[snapshotAt]).toMatchObject({ version: truth.version, first: true, last: true });
    // At most a stream window (64 KiB) plus socket and queue slack of ~700-byte events. The socket
    // slack grows with Node's default stream high-water mark (16 KiB on Node 20, 64 KiB from Node
    // 22), which every stream buffer on the way (server write side, client read side) uses.
    const hwmSlack = (5 * (getDefaultHighWaterMark(false) - 16_384)) / 700;
    expect(snapshotAt).toBeLessThan(300 + hwmSlack);
    expect(slow.recorder.violations).toEqual([]);
    expect(slow.recorder.view()).toEqual(toComparableDomain(truth));
    expect(server.app.hub.watcherCount()).toEqual({ full: 4, counts: 0 });
    console.info(
      `F-O2: ${c.ops()} ops, ${committedDuringPause} events while paused, backlog ${snapshotAt} events, ` +
        `retained heap ${(retainedHeap / 2 ** 20).toFixed(1)} MiB, peak rss +${((peakRss - mem0.rss) / 2 ** 20).toFixed(1)} MiB, ` +
        `fast p99 ${p99(delays)} ms over ${delays.length} deliveries`,
    );
  });

  it("resets a stream parked longer than PRESENCE_WATCHER_STALL_MS and removes its watcher", async () => {
    // connect-node logs one "handler for rpc … failed" per reset stream (connect-notes §1): expected noise.
    const consoleError = console.error;
    const noise = vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      if (!String(args[0]).startsWith("handler for rpc WatchPresence")) consoleError(...args);
    });
    cleanups.push(() => noise.mockRestore());
    const { server, client, tokens, fast, watchFast } = await setup({ PRESENCE_WATCHER_QUEUE_SIZE: "32", PRESENCE_WATCHER_STALL_MS: "300" });
    const room = "hot";
    for (let i = 0; i < 2; i++) watchFast(room);
    const slow = rawWatch(server.baseUrl, room);
    await waitFor(() => slow.recorder.snapshots() === 1 && fast.every((w) => w.recorder.snapshots() === 1), 5_000, "first snapshots");
    expect(server.app.hub.watcherCount()).toEqual({ full: 3, counts: 0 });
    slow.pause();
    const c = await churn(client, room, tokens);
    let closedAt = 0;
    const t0 = Date.now();
    const end = await Promise.race([slow.closed.then((r) => ((closedAt = Date.now()), r)), sleep(5_000).then(() => null)]);
    await c.stop();
    expect(end).not.toBeNull();
    expect(end!.rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(end!.error).not.toBeNull();
    expect(closedAt - t0).toBeLessThan(3_000);
    await waitFor(() => server.app.hub.watcherCount().full === 2, 2_000, "stalled watcher removed");
    expect(await scrape(server, 'presence_rejected_requests_total{reason="SLOW_CONSUMER"}')).toBe(1);

    // The fast watchers were not disturbed.
    const truth = await server.app.store.getView(room, { includeMembers: true });
    await waitFor(() => fast.every((w) => w.recorder.position()?.version === truth.version), 5_000, "fast watchers converge");
    for (const w of fast) {
      expect(w.recorder.violations).toEqual([]);
      expect(w.recorder.snapshots()).toBe(1);
      expect(w.isEnded()).toBe(false);
      expect(w.recorder.view()).toEqual(toComparableDomain(truth));
    }
  });
});
