/**
 * WebSocket bridge capacity of one server process (not a test): idle connections per GiB and
 * fan-out deliveries per second.
 *
 *   npm run bench:ws              CI-sized (≤ 60 s per engine): 5,000 idle connections; 1,000 watchers for 10 s
 *   npm run bench:ws -- --full    15,000 idle connections; 1,000 watchers for 30 s
 *
 * Both WebSocket engines are measured, one after the other (`--engine uws|ws|both`; default both
 * where uWebSockets.js loads on this Node, else ws), each in a fresh server process.
 *
 * Options (override the preset): --idle N (idle connections)  --room-size N (members per idle
 * room, 10)  --idle-no-join (connect only, no Join)  --per-worker N (connections per generator process, 5,000)  --watchers N (1,000)
 * --duration S  --warmup S  --churners N (sockets joining/leaving the room)  --churn-window N
 * (frames in flight per churner)  --cursor-users N  --cursor-hz N  --skip-idle  --skip-fanout
 * --no-gc (do not force a GC in the server before reading its RSS)  --profile (V8 CPU profile of
 * the server during the fan-out window, top functions printed; file in bench/results/tmp/)
 * --out FILE
 *
 * The server is the built `dist/main.js` (npm run bench:ws builds it first) in its own process (test/support/node-process.ts `startNode`: memory
 * store, 127.0.0.1, free ports, anonymous access on), started with the inspector on a free
 * loopback port so the benchmark can force a GC and read its heap. The load comes from separate
 * generator processes (this file with `--worker`), each on its own 127.a.b.x source address (the
 * fd limit is 20,000 per process, ephemeral ports 28k per source/destination pair). They speak
 * raw WebSocket over `net` (no `ws`, no decoding of broadcast frames: they count frame headers and
 * skip payloads) so that the clients cost as little as possible; one "probe" watcher decodes
 * everything to classify frames, count events per frame and measure event latency.
 *
 * 1. Idle: N sockets, each sends one Join (anonymous) into a room of `room-size` and waits for
 *    its answer; nothing is watched. Server RSS (VmRSS) and JS heap before/after (after a settle
 *    and a forced GC), kernel TCP memory (/proc/net/sockstat `TCP: mem` pages) and slab
 *    (/proc/meminfo) before/after, generator RSS.
 * 2. Fan-out: W sockets watch one room (full detail). A driver process runs `churners` user
 *    sockets that Join and Leave the room in a loop (pipelined, `churn-window` frames in flight
 *    each, so the rate is as high as the server allows) and `cursor-users` users in the room that
 *    move their cursor at `cursor-hz`. Counted at the watchers: frames received per second
 *    (deliveries = frames × sockets), bytes, frames per socket read; at the probe: frame types,
 *    events per frame, latency from the event's server time to receipt. CPU of the server (whole
 *    process and its main thread) and of every generator process from /proc.
 *
 * Prints a table and writes bench/results/ws-<date>.json.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { ServerFrameSchema } from "../gen/presence/v1/frames_pb.js";
import { fmt, isoStamp, mib, table } from "./lib/format.js";
import { connectInspector, serverGc, serverHeapUsed, topFunctions, type CpuProfile, type Inspector } from "./lib/inspector.js";
import { cpuSeconds, kernelMem, machineBusyS, PAGE, rssBytes, type KernelMem } from "./lib/proc-stats.js";
import { encodeClient } from "./lib/presence-frames.js";
import { pool, rawConnect, RawWs } from "./lib/raw-ws.js";
import { spawnWorker as spawnLibWorker, type Worker as LibWorker } from "./lib/workers.js";
import { Detail } from "../gen/presence/v1/types_pb.js";
import { startNode, type NodeProcess } from "../test/support/node-process.js";
import { uwsAvailable } from "../src/transport/ws/select-engine.js";
import type { WsEngineName } from "../src/transport/ws/ws-engine.js";
import { freePort } from "../test/support/processes.js";
import { signTestToken, TEST_SECRET } from "../test/support/tokens.js";
import { UNLIMITED_QUOTAS_ENV } from "./lib/unlimited-quotas.js";

// ---- options ----

interface Options {
  full: boolean;
  idle: number;
  roomSize: number;
  /** Idle sockets only connect (no Join): isolates the per-socket cost from the session's. */
  idleNoJoin: boolean;
  perWorker: number;
  watchers: number;
  durationS: number;
  warmupS: number;
  churners: number;
  churnWindow: number;
  cursorUsers: number;
  cursorHz: number;
  skipIdle: boolean;
  skipFanout: boolean;
  gc: boolean;
  profile: boolean;
  engines: WsEngineName[];
  out?: string;
}

function parseArgs(argv: string[]): Options {
  const full = argv.includes("--full");
  const o: Options = {
    full,
    idle: full ? 15_000 : 5_000,
    roomSize: 10,
    idleNoJoin: false,
    perWorker: 5_000,
    watchers: 1_000,
    durationS: full ? 30 : 10,
    warmupS: full ? 3 : 2,
    churners: 8,
    churnWindow: 8,
    cursorUsers: 50,
    cursorHz: 30,
    skipIdle: false,
    skipFanout: false,
    gc: true,
    profile: false,
    engines: uwsAvailable() ? ["uws", "ws"] : ["ws"],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (min = 1) => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < min) throw new Error(`${a} needs a number ≥ ${min}`);
      return v;
    };
    if (a === "--full") continue;
    else if (a === "--idle") o.idle = Math.floor(num());
    else if (a === "--room-size") o.roomSize = Math.floor(num());
    else if (a === "--idle-no-join") o.idleNoJoin = true;
    else if (a === "--per-worker") o.perWorker = Math.min(18_000, Math.floor(num()));
    else if (a === "--watchers") o.watchers = Math.floor(num());
    else if (a === "--duration") o.durationS = num();
    else if (a === "--warmup") o.warmupS = num(0);
    else if (a === "--churners") o.churners = Math.floor(num(0));
    else if (a === "--churn-window") o.churnWindow = Math.min(200, Math.floor(num()));
    else if (a === "--cursor-users") o.cursorUsers = Math.floor(num(0));
    else if (a === "--cursor-hz") o.cursorHz = num();
    else if (a === "--skip-idle") o.skipIdle = true;
    else if (a === "--skip-fanout") o.skipFanout = true;
    else if (a === "--no-gc") o.gc = false;
    else if (a === "--profile") o.profile = true;
    else if (a === "--engine") {
      const e = argv[++i];
      o.engines = e === "both" ? ["uws", "ws"] : e === "uws" || e === "ws" ? [e] : [];
      if (o.engines.length === 0) throw new Error("--engine takes uws, ws or both");
    } else if (a === "--out") o.out = argv[++i];
    else throw new Error(`unknown option ${a} (see the header of bench/ws.ts)`);
  }
  return o;
}


// ---- generator worker (this file with --worker) ----

type WorkerCommand =
  | { type: "idle"; port: number; localAddress: string; count: number; firstIndex: number; roomSize: number; join: boolean }
  | { type: "watch"; port: number; localAddress: string; count: number; room: string }
  | {
      type: "drive";
      port: number;
      localAddress: string;
      room: string;
      churnTokens: string[];
      churnWindow: number;
      cursorTokens: string[];
      cursorHz: number;
    }
  | { type: "counters" }
  | { type: "stop" }
  | { type: "close" };

interface ProbeCounters {
  frames: number;
  byType: Record<string, number>;
  /** Membership events + cursor entries (moved or removed) + typing changes. */
  events: number;
  cursorEntries: number;
  latencyMs: number[];
}

interface WorkerCounters {
  sockets: number;
  open: number;
  frames: number;
  bytes: number;
  reads: number;
  minFrames: number;
  maxFrames: number;
  probe: ProbeCounters | null;
  joins: number;
  leaves: number;
  errors: number;
  cursorsSent: number;
}

function runWorker(): void {
  const send = (m: unknown) => process.send?.(m);
  let sockets: RawWs[] = [];
  let probe: ProbeCounters | null = null;
  let stopDriving = () => {};
  const counters = { joins: 0, leaves: 0, errors: 0, cursorsSent: 0 };
  process.on("disconnect", () => process.exit(0));

  async function idle(c: Extract<WorkerCommand, { type: "idle" }>) {
    let joined = 0;
    let failed = 0;
    const t0 = performance.now();
    const list: RawWs[] = new Array(c.count);
    await pool(c.count, 200, async (i) => {
      const k = c.firstIndex + i;
      try {
        const answered = new Promise<void>((resolve) => {
          void rawConnect(c.port, c.localAddress, undefined, (ws) => {
            ws.onMessage = (p) => {
              ws.onMessage = null; // the rest (pings aside) is skipped
              const f = fromBinary(ServerFrameSchema, p);
              if (f.frame.case === "join") joined++;
              else failed++;
              resolve();
            };
            ws.sock.once("close", () => resolve());
          }).then(
            (ws) => {
              list[i] = ws;
              if (!c.join) return resolve();
              ws.send(encodeClient({ requestId: 1, frame: { case: "join", value: { room: `idle-${Math.floor(k / c.roomSize)}` } } }));
            },
            () => {
              failed++;
              resolve();
            },
          );
        });
        await answered;
      } catch {
        failed++;
      }
    });
    sockets = list.filter((s): s is RawWs => s !== undefined);
    return { connected: sockets.length, joined, failed, seconds: (performance.now() - t0) / 1000 };
  }

  async function watch(c: Extract<WorkerCommand, { type: "watch" }>) {
    const t0 = performance.now();
    const frame = encodeClient({ requestId: 1, frame: { case: "watch", value: { room: c.room, detail: Detail.FULL } } });
    const list: RawWs[] = new Array(c.count);
    let failed = 0;
    await pool(c.count, 200, async (i) => {
      try {
        const ws = await rawConnect(c.port, c.localAddress, undefined, i === 0 ? (w) => (w.onMessage = probeHandler()) : undefined);
        ws.send(frame);
        list[i] = ws;
      } catch {
        failed++;
      }
    });
    sockets = list.filter((s): s is RawWs => s !== undefined);
    // Ready when every socket has its ack and the first snapshot page.
    const deadline = Date.now() + 20_000;
    while (sockets.some((s) => s.frames < 2 && !s.closed) && Date.now() < deadline) await sleep(20);
    return { connected: sockets.length, ready: sockets.filter((s) => s.frames >= 2).length, failed, seconds: (performance.now() - t0) / 1000 };
  }

  function probeHandler(): (p: Buffer) => void {
    const p: ProbeCounters = { frames: 0, byType: {}, events: 0, cursorEntries: 0, latencyMs: [] };
    probe = p;
    return (payload) => {
      const f = fromBinary(ServerFrameSchema, payload);
      const now = Date.now();
      const kind = f.frame.case === "watch" ? (f.frame.value.message.case ?? "unknown") : (f.frame.case ?? "unknown");
      probe!.frames++;
      probe!.byType[kind] = (probe!.byType[kind] ?? 0) + 1;
      if (f.frame.case !== "watch") return;
      const m = f.frame.value.message;
      if (m.case === "event") {
        probe!.events++;
        if (probe!.latencyMs.length < 200_000) probe!.latencyMs.push(now - Number(m.value.timeMs));
      } else if (m.case === "cursors") {
        const n = m.value.cursors.length + m.value.removedConnectionIds.length;
        probe!.events += n;
        probe!.cursorEntries += n;
      } else if (m.case === "typing") probe!.events++;
    };
  }

  async function drive(c: Extract<WorkerCommand, { type: "drive" }>) {
    // Cursor users: join the room, then move at cursorHz (the server coalesces per flush).
    const cursorSockets: RawWs[] = [];
    await pool(c.cursorTokens.length, 50, async (i) => {
      const ws = await rawConnect(c.port, c.localAddress, c.cursorTokens[i]!);
      await new Promise<void>((resolve) => {
        ws.onMessage = (p) => {
          ws.onMessage = classify;
          if (fromBinary(ServerFrameSchema, p).frame.case !== "join") counters.errors++;
          resolve();
        };
        ws.send(encodeClient({ requestId: 1, frame: { case: "join", value: { room: c.room } } }));
      });
      cursorSockets.push(ws);
    });
    // Answers to cursor frames come only for errors (request id 0): count them.
    function classify() {
      counters.errors++;
    }
    let tick = 0;
    const cursorTimer =
      cursorSockets.length === 0
        ? null
        : setInterval(() => {
            tick++;
            for (let i = 0; i < cursorSockets.length; i++) {
              const x = 100 + 50 * Math.sin((tick + i) / 10);
              cursorSockets[i]!.send(encodeClient({ requestId: 0, frame: { case: "cursor", value: { room: c.room, position: { x, y: x / 2 } } } }));
              counters.cursorsSent++;
            }
          }, 1000 / c.cursorHz);

    // Churners: Join, Leave, Join, … pipelined. Request id 1 = join, 2 = leave; each frame is answered.
    const join = encodeClient({ requestId: 1, frame: { case: "join", value: { room: c.room, metadata: { page: "/bench" } } } });
    const leave = encodeClient({ requestId: 2, frame: { case: "leave", value: { room: c.room } } });
    let running = true;
    const churn = await Promise.all(c.churnTokens.map((t) => rawConnect(c.port, c.localAddress, t)));
    const inflight = new Map<RawWs, number>();
    for (const ws of churn) {
      let n = 0;
      let nextJoin = true;
      const pump = () => {
        while (running && n < c.churnWindow) {
          ws.send(nextJoin ? join : leave);
          nextJoin = !nextJoin;
          n++;
        }
        inflight.set(ws, n);
      };
      ws.onMessage = (p) => {
        n--;
        // ServerFrame: request_id (tag 0x08, varint) then the oneof: join 0x52, leave 0x5a, error 0xf2 0x01.
        let i = 0;
        if (p[0] === 0x08) {
          i = 1;
          while (i < p.length && (p[i]! & 0x80) !== 0) i++;
          i++;
        }
        const tag = p[i];
        if (tag === 0x52) counters.joins++;
        else if (tag === 0x5a) counters.leaves++;
        else counters.errors++;
        pump();
      };
      pump();
    }
    sockets = [...cursorSockets, ...churn];
    stopDriving = () => {
      running = false;
      if (cursorTimer) clearInterval(cursorTimer);
    };
    return { cursorUsers: cursorSockets.length, churners: churn.length };
  }

  function snapshotCounters(): WorkerCounters {
    let frames = 0;
    let bytes = 0;
    let reads = 0;
    let minFrames = Infinity;
    let maxFrames = 0;
    let open = 0;
    for (const s of sockets) {
      frames += s.frames;
      bytes += s.bytes;
      reads += s.reads;
      if (s.frames < minFrames) minFrames = s.frames;
      if (s.frames > maxFrames) maxFrames = s.frames;
      if (!s.closed) open++;
    }
    const p = probe;
    return {
      sockets: sockets.length,
      open,
      frames,
      bytes,
      reads,
      minFrames: sockets.length ? minFrames : 0,
      maxFrames,
      probe: p ? { ...p, byType: { ...p.byType }, latencyMs: p.latencyMs.slice() } : null,
      ...counters,
    };
  }

  process.on("message", (msg: { id: number; cmd: WorkerCommand }) => {
    const reply = (result: unknown) => send({ id: msg.id, result });
    const fail = (e: unknown) => send({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
    const c = msg.cmd;
    switch (c.type) {
      case "idle":
        return void idle(c).then(reply, fail);
      case "watch":
        return void watch(c).then(reply, fail);
      case "drive":
        return void drive(c).then(reply, fail);
      case "counters":
        return reply(snapshotCounters());
      case "stop":
        stopDriving();
        return void sleep(200).then(() => reply(snapshotCounters()));
      case "close":
        for (const s of sockets) s.destroy();
        sockets = [];
        reply(true);
        return void setTimeout(() => process.exit(0), 50);
    }
  });
  send({ ready: true });
}

// ---- worker handles (orchestrator side) ----

type Worker = LibWorker<WorkerCommand>;
const spawnWorker = () => spawnLibWorker<WorkerCommand>(fileURLToPath(import.meta.url), ["--worker"]);

// ---- server: /metrics ----

/** Sum of every sample of each metric family named in `names` (labels summed), from GET /metrics. */
async function scrapeMetrics(adminUrl: string, names: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m) continue;
    const name = m[1]!;
    const reason = /reason="([^"]+)"/.exec(m[2] ?? "")?.[1];
    if (name in out) out[name]! += Number(m[3]);
    if (reason && names.includes(`${name}{reason}`)) out[`${name}:${reason}`] = (out[`${name}:${reason}`] ?? 0) + Number(m[3]);
  }
  return out;
}

/** The engine of the phase running now (main sets it). */
let engine: WsEngineName = "ws";

async function startServer(gcWanted: boolean): Promise<{ node: NodeProcess; insp: Inspector | null }> {
  const inspectPort = gcWanted ? await freePort() : 0;
  // The churn driver pipelines frames as fast as the server answers: lift the per-socket frame
  // rate limit (default 250/s), which exists for misbehaving clients, not for this load.
  const env: Record<string, string> = { PRESENCE_LOG_LEVEL: "warn", PRESENCE_WS_ENGINE: engine, PRESENCE_WS_MAX_FRAMES_PER_SEC: "1000000", PRESENCE_WS_FRAME_BURST: "1000000", ...UNLIMITED_QUOTAS_ENV };
  if (gcWanted) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --inspect=127.0.0.1:${inspectPort}`.trim();
  const node = await startNode(env);
  const insp = gcWanted ? await connectInspector(inspectPort) : null;
  return { node, insp };
}

/**
 * Source addresses of this run: 127.a.b.x with a, b random. The generators bind their sockets to
 * them, and bind() with port 0 avoids ports held by TIME_WAIT sockets of the same address (uws-notes
 * §4): a fresh /24 per run keeps a previous run's ~15k TIME_WAIT sockets from slowing or failing
 * the next one.
 */
const SOURCE_NET = `127.${1 + Math.floor(Math.random() * 254)}.${Math.floor(Math.random() * 256)}`;

// ---- phase 1: idle connections ----

interface IdleResult {
  joinSent: boolean;
  roomSize: number;
  connections: number;
  joined: number;
  failed: number;
  rooms: number;
  connectSeconds: number;
  generatorProcesses: number;
  server: { rssBefore: number; rssAfter: number; heapBefore: number | null; heapAfter: number | null };
  kernel: { before: KernelMem; after: KernelMem };
  generator: { rssBefore: number; rssAfter: number };
  perConnection: {
    serverRss: number;
    serverHeap: number | null;
    kernelTcpMemBothEnds: number;
    kernelTcpMemServerShare: number;
    kernelSlabBothEnds: number;
    kernelSlabServerShare: number;
    generatorRss: number;
  };
  connectionsPerGiB: { rssPlusTcpMem: number; rssPlusSlab: number };
}

async function idlePhase(o: Options): Promise<IdleResult> {
  const { node, insp } = await startServer(o.gc);
  const ws: Worker[] = [];
  try {
    const nWorkers = Math.ceil(o.idle / o.perWorker);
    for (let i = 0; i < nWorkers; i++) ws.push(await spawnWorker());
    await sleep(1_000);
    if (insp) await serverGc(insp);
    const rssBefore = rssBytes(node.pid);
    const heapBefore = insp ? await serverHeapUsed(insp) : null;
    const kBefore = kernelMem();
    const gBefore = ws.reduce((s, w) => s + rssBytes(w.pid), 0);
    const port = Number(new URL(node.wsUrl).port);

    log(`  ${fmt(o.idle)} connections from ${nWorkers} generator process(es), ${o.idleNoJoin ? "no Join (--idle-no-join)" : `each sending one Join into a room of ${o.roomSize}`} …`);
    const t0 = performance.now();
    const results = await Promise.all(
      ws.map((w, i) => {
        const first = i * o.perWorker;
        const count = Math.min(o.perWorker, o.idle - first);
        return w.call<{ connected: number; joined: number; failed: number }>({ type: "idle", port, localAddress: `${SOURCE_NET}.${2 + i}`, count, firstIndex: first, roomSize: o.roomSize, join: !o.idleNoJoin });
      }),
    );
    const connectSeconds = (performance.now() - t0) / 1000;
    const joined = o.idleNoJoin ? results.reduce((s, r) => s + r.connected, 0) : results.reduce((s, r) => s + r.joined, 0);
    const connected = results.reduce((s, r) => s + r.connected, 0);
    const failed = results.reduce((s, r) => s + r.failed, 0);
    log(`  ${fmt(connected)} connected, ${fmt(joined)} joined, ${fmt(failed)} failed in ${fmt(connectSeconds, 1)} s; settling 2 s …`);
    await sleep(2_000);
    if (insp) await serverGc(insp);
    await sleep(200);
    const rssAfter = rssBytes(node.pid);
    const heapAfter = insp ? await serverHeapUsed(insp) : null;
    const kAfter = kernelMem();
    const gAfter = ws.reduce((s, w) => s + rssBytes(w.pid), 0);

    const n = joined;
    const serverRss = (rssAfter - rssBefore) / n;
    const tcpBoth = (kAfter.tcpMemBytes - kBefore.tcpMemBytes) / n;
    const slabBoth = (kAfter.slabBytes - kBefore.slabBytes) / n;
    return {
      joinSent: !o.idleNoJoin,
      roomSize: o.roomSize,
      connections: connected,
      joined,
      failed,
      rooms: Math.ceil(o.idle / o.roomSize),
      connectSeconds,
      generatorProcesses: nWorkers,
      server: { rssBefore, rssAfter, heapBefore, heapAfter },
      kernel: { before: kBefore, after: kAfter },
      generator: { rssBefore: gBefore, rssAfter: gAfter },
      perConnection: {
        serverRss,
        serverHeap: heapBefore === null || heapAfter === null ? null : (heapAfter - heapBefore) / n,
        kernelTcpMemBothEnds: tcpBoth,
        kernelTcpMemServerShare: tcpBoth / 2,
        kernelSlabBothEnds: slabBoth,
        kernelSlabServerShare: slabBoth / 2,
        generatorRss: (gAfter - gBefore) / n,
      },
      connectionsPerGiB: { rssPlusTcpMem: 2 ** 30 / (serverRss + Math.max(0, tcpBoth / 2)), rssPlusSlab: 2 ** 30 / (serverRss + Math.max(0, slabBoth / 2)) },
    };
  } finally {
    insp?.close();
    await Promise.all(ws.map((w) => w.close()));
    await node.stop();
  }
}

// ---- phase 2: fan-out ----

interface CpuSnap {
  server: number;
  serverMain: number;
  watchers: number;
  driver: number;
  self: number;
  machine: number;
  irq: number;
  t: number;
}

interface FanoutResult {
  watchers: number;
  watchersReady: number;
  seconds: number;
  deliveriesPerSecond: number;
  bytesPerSecond: number;
  framesPerRead: number;
  perSocketFrames: { min: number; max: number };
  probe: { frames: number; byType: Record<string, number>; eventsPerFrame: number; cursorEntriesPerCursorFrame: number; latencyMs: { p50: number; p99: number; max: number } };
  eventDeliveriesPerSecond: number;
  membershipChangesPerSecond: number;
  driverErrors: number;
  cursorUpdatesSentPerSecond: number;
  cpuPercent: { server: number; serverMainThread: number; watchers: number; driver: number; orchestrator: number; machine: number; interrupts: number; otherProcesses: number };
  serverCpuUsPer1000Deliveries: number;
  serverMetrics: Record<string, number>;
  bottleneck: string;
  profile?: { file: string; top: { fn: string; selfPercent: number }[] };
}

async function fanoutPhase(o: Options): Promise<FanoutResult> {
  const { node, insp } = await startServer(o.gc || o.profile);
  let watchW: Worker | undefined;
  let driveW: Worker | undefined;
  try {
    const port = Number(new URL(node.wsUrl).port);
    const room = "fanout";
    [watchW, driveW] = await Promise.all([spawnWorker(), spawnWorker()]);
    const w = await watchW.call<{ connected: number; ready: number; failed: number; seconds: number }>({ type: "watch", port, localAddress: `${SOURCE_NET}.20`, count: o.watchers, room });
    log(`  ${fmt(w.connected)} watchers connected, ${fmt(w.ready)} with their first snapshot in ${fmt(w.seconds, 1)} s`);
    const exp = 6 * 3600;
    const churnTokens = await Promise.all(Array.from({ length: o.churners }, (_, i) => signTestToken(TEST_SECRET, { sub: `churn-${i}`, name: `Churn ${i}` }, exp)));
    const cursorTokens = await Promise.all(Array.from({ length: o.cursorUsers }, (_, i) => signTestToken(TEST_SECRET, { sub: `cursor-${i}`, name: `Cursor ${i}` }, exp)));
    await driveW.call({ type: "drive", port, localAddress: `${SOURCE_NET}.21`, room, churnTokens, churnWindow: o.churnWindow, cursorTokens, cursorHz: o.cursorHz });
    log(`  driver: ${o.churners} churners × ${o.churnWindow} frames in flight (Join/Leave), ${o.cursorUsers} cursor users at ${o.cursorHz} Hz; ${o.warmupS} s warm-up + ${o.durationS} s …`);
    await sleep(o.warmupS * 1000);

    const metricNames = ["presence_ws_frames_sent_total", "presence_ws_frames_dropped_total", "presence_ws_slow_consumer_resyncs_total", "presence_resyncs_total", "presence_resyncs_total{reason}"];
    const snap = (): CpuSnap => ({
      server: cpuSeconds(node.pid),
      serverMain: cpuSeconds(node.pid, node.pid),
      watchers: cpuSeconds(watchW!.pid),
      driver: cpuSeconds(driveW!.pid),
      self: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      ...(({ busy, irq }) => ({ machine: busy, irq }))(machineBusyS()),
      t: performance.now(),
    });
    const m0 = await scrapeMetrics(node.adminUrl, metricNames);
    const [wc0, dc0] = await Promise.all([watchW.call<WorkerCounters>({ type: "counters" }), driveW.call<WorkerCounters>({ type: "counters" })]);
    const c0 = snap();
    if (o.profile && insp) {
      await insp.call("Profiler.enable");
      await insp.call("Profiler.setSamplingInterval", { interval: 200 });
      await insp.call("Profiler.start");
    }
    await sleep(o.durationS * 1000);
    const c1 = snap();
    const [wc1, dc1] = await Promise.all([watchW.call<WorkerCounters>({ type: "counters" }), driveW.call<WorkerCounters>({ type: "counters" })]);
    let profile: FanoutResult["profile"];
    if (o.profile && insp) {
      const { profile: p } = await insp.call<{ profile: CpuProfile }>("Profiler.stop");
      const dir = new URL("./results/tmp/", import.meta.url);
      mkdirSync(dir, { recursive: true });
      const file = new URL(`ws-fanout-server-${isoStamp(new Date())}.cpuprofile`, dir).pathname;
      writeFileSync(file, JSON.stringify(p));
      profile = { file, top: topFunctions(p, 20) };
    }
    const m1 = await scrapeMetrics(node.adminUrl, metricNames);
    await driveW.call({ type: "stop" });

    const seconds = (c1.t - c0.t) / 1000;
    const frames = wc1.frames - wc0.frames;
    const pr0 = wc0.probe!;
    const pr1 = wc1.probe!;
    const probeFrames = pr1.frames - pr0.frames;
    const byType: Record<string, number> = {};
    for (const [k, v] of Object.entries(pr1.byType)) {
      const d = v - (pr0.byType[k] ?? 0);
      if (d > 0) byType[k] = d;
    }
    const probeEvents = pr1.events - pr0.events;
    const lat = pr1.latencyMs.slice(pr0.latencyMs.length).sort((a, b) => a - b);
    const q = (x: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(x * lat.length))]! : NaN);
    const cpu = (a: number, b: number) => (100 * (b - a)) / seconds;
    const cpuPercent = {
      server: cpu(c0.server, c1.server),
      serverMainThread: cpu(c0.serverMain, c1.serverMain),
      watchers: cpu(c0.watchers, c1.watchers),
      driver: cpu(c0.driver, c1.driver),
      orchestrator: cpu(c0.self, c1.self),
      machine: cpu(c0.machine, c1.machine),
      interrupts: cpu(c0.irq, c1.irq),
      otherProcesses: 0,
    };
    const ours = cpuPercent.server + cpuPercent.watchers + cpuPercent.driver + cpuPercent.orchestrator;
    cpuPercent.otherProcesses = Math.max(0, cpuPercent.machine - ours - cpuPercent.interrupts);
    const serverMetrics: Record<string, number> = {};
    for (const k of new Set([...Object.keys(m0), ...Object.keys(m1)])) serverMetrics[k] = (m1[k] ?? 0) - (m0[k] ?? 0);
    const deliveriesPerSecond = frames / seconds;
    const bottleneck =
      cpuPercent.serverMainThread >= 90
        ? "server: its event loop (main thread) is saturated"
        : cpuPercent.watchers >= 90
          ? "generator: the watcher process is saturated (one core)"
          : cpuPercent.driver >= 90
            ? "generator: the driver process is saturated"
            : cpuPercent.machine >= 185
              ? "machine: both cores busy (server, generator and kernel loopback work compete)"
              : "neither process saturated: the closed-loop driver (window × round trip) sets the rate";
    return {
      watchers: w.connected,
      watchersReady: w.ready,
      seconds,
      deliveriesPerSecond,
      bytesPerSecond: (wc1.bytes - wc0.bytes) / seconds,
      framesPerRead: frames / Math.max(1, wc1.reads - wc0.reads),
      perSocketFrames: { min: wc1.minFrames, max: wc1.maxFrames },
      probe: {
        frames: probeFrames,
        byType,
        eventsPerFrame: probeEvents / Math.max(1, probeFrames),
        cursorEntriesPerCursorFrame: (pr1.cursorEntries - pr0.cursorEntries) / Math.max(1, byType["cursors"] ?? 0),
        latencyMs: { p50: q(0.5), p99: q(0.99), max: lat.length ? lat[lat.length - 1]! : NaN },
      },
      eventDeliveriesPerSecond: (deliveriesPerSecond * probeEvents) / Math.max(1, probeFrames),
      membershipChangesPerSecond: (dc1.joins - dc0.joins + dc1.leaves - dc0.leaves) / seconds,
      driverErrors: dc1.errors - dc0.errors,
      cursorUpdatesSentPerSecond: (dc1.cursorsSent - dc0.cursorsSent) / seconds,
      cpuPercent,
      serverCpuUsPer1000Deliveries: ((c1.server - c0.server) * 1e9) / Math.max(1, frames),
      serverMetrics,
      bottleneck,
      ...(profile ? { profile } : {}),
    };
  } finally {
    insp?.close();
    await Promise.all([watchW?.close(), driveW?.close()]);
    await node.stop();
  }
}

// ---- output ----

const log = (s: string) => console.log(s);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


const IDLE_TARGET = 100_000;
const FANOUT_TARGET = 500_000;

function idleTable(r: IdleResult): string {
  const p = r.perConnection;
  return table([
    ["idle connections", ""],
    [r.joinSent ? `connections joined (rooms of ${r.roomSize}) / opened / failed` : "connections opened, no Join / failed", r.joinSent ? `${fmt(r.joined)} / ${fmt(r.connections)} / ${fmt(r.failed)}` : `${fmt(r.connections)} / ${fmt(r.failed)}`],
    [r.joinSent ? "connect + Join, all" : "connect, all", `${fmt(r.connectSeconds, 1)} s (${fmt(r.joined / r.connectSeconds)}/s)`],
    ["server RSS before → after (MiB)", `${mib(r.server.rssBefore)} → ${mib(r.server.rssAfter)}`],
    ["server RSS / connection", `${fmt(p.serverRss)} B`],
    ["  of which JS heap used / connection", p.serverHeap === null ? "n/a" : `${fmt(p.serverHeap)} B`],
    ["kernel TCP mem (sockstat) / connection, both ends → server ½", `${fmt(p.kernelTcpMemBothEnds)} B → ${fmt(p.kernelTcpMemServerShare)} B`],
    ["kernel slab (meminfo) / connection, both ends → server ½", `${fmt(p.kernelSlabBothEnds)} B → ${fmt(p.kernelSlabServerShare)} B`],
    ["connections / GiB (RSS + ½ TCP mem)", `${fmt(r.connectionsPerGiB.rssPlusTcpMem)} (${fmt((100 * r.connectionsPerGiB.rssPlusTcpMem) / IDLE_TARGET)}% of ${fmt(IDLE_TARGET)})`],
    ["connections / GiB (RSS + ½ slab)", `${fmt(r.connectionsPerGiB.rssPlusSlab)} (${fmt((100 * r.connectionsPerGiB.rssPlusSlab) / IDLE_TARGET)}% of ${fmt(IDLE_TARGET)})`],
    ["generator: processes, RSS before → after (MiB), / connection", `${r.generatorProcesses}, ${mib(r.generator.rssBefore)} → ${mib(r.generator.rssAfter)}, ${fmt(p.generatorRss)} B`],
  ]);
}

function fanoutTable(r: FanoutResult, o: Options): string {
  const c = r.cpuPercent;
  const types = Object.entries(r.probe.byType)
    .map(([k, v]) => `${k} ${fmt(v / r.seconds)}`)
    .join(", ");
  return table([
    ["fan-out", ""],
    ["watchers (ready) / seconds measured", `${fmt(r.watchers)} (${fmt(r.watchersReady)}) / ${fmt(r.seconds, 1)}`],
    ["deliveries / s (frames received × sockets)", `${fmt(r.deliveriesPerSecond)} (${fmt((100 * r.deliveriesPerSecond) / FANOUT_TARGET)}% of ${fmt(FANOUT_TARGET)})`],
    ["event deliveries / s (events carried × sockets)", fmt(r.eventDeliveriesPerSecond)],
    ["frames / s per watcher, by type (probe)", types],
    ["events per frame (probe); cursors per cursor frame", `${fmt(r.probe.eventsPerFrame, 2)}; ${fmt(r.probe.cursorEntriesPerCursorFrame, 1)}`],
    ["frames per socket read at the watchers (write coalescing)", fmt(r.framesPerRead, 2)],
    ["bytes / s received by the watchers", `${mib(r.bytesPerSecond)} MiB`],
    ["frames per watcher since start, min / max", `${fmt(r.perSocketFrames.min)} / ${fmt(r.perSocketFrames.max)}`],
    ["membership changes / s (Join + Leave answered)", fmt(r.membershipChangesPerSecond)],
    ["cursor updates sent / s; driver errors", `${fmt(r.cursorUpdatesSentPerSecond)}; ${fmt(r.driverErrors)}`],
    ["event latency at the probe p50 / p99 / max (ms)", `${fmt(r.probe.latencyMs.p50)} / ${fmt(r.probe.latencyMs.p99)} / ${fmt(r.probe.latencyMs.max)}`],
    ["server CPU % of a core: process / main thread", `${fmt(c.server, 1)} / ${fmt(c.serverMainThread, 1)}`],
    ["server CPU µs per 1,000 deliveries", fmt(r.serverCpuUsPer1000Deliveries, 1)],
    ["generator CPU %: watchers / driver / orchestrator", `${fmt(c.watchers, 1)} / ${fmt(c.driver, 1)} / ${fmt(c.orchestrator, 1)}`],
    ["generator share of the busy CPU", `${fmt((100 * (c.watchers + c.driver + c.orchestrator)) / Math.max(1, c.machine), 1)}%`],
    ["machine busy % (200 = both cores); irq+softirq; other processes", `${fmt(c.machine, 1)}; ${fmt(c.interrupts, 1)}; ${fmt(c.otherProcesses, 1)}`],
    [
      "server: frames handed to the engine; dropped; slow-consumer resyncs; hub resyncs",
      `${fmt(r.serverMetrics["presence_ws_frames_sent_total"] ?? NaN)}; ${fmt(r.serverMetrics["presence_ws_frames_dropped_total"] ?? NaN)}; ${fmt(r.serverMetrics["presence_ws_slow_consumer_resyncs_total"] ?? NaN)}; ${fmt(r.serverMetrics["presence_resyncs_total"] ?? NaN)}`,
    ],
    ["bottleneck", r.bottleneck],
    ["driver", `${o.churners} churners × ${o.churnWindow} in flight, ${o.cursorUsers} cursor users × ${o.cursorHz} Hz`],
  ]);
}


// ---- main ----

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = new Date();
  log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ulimit -n per process: see uws-notes §4 (20,000 here)`);
  const byEngine: Partial<Record<WsEngineName, { idle?: IdleResult; fanout?: FanoutResult }>> = {};
  for (const e of o.engines) {
    engine = e;
    const r: { idle?: IdleResult; fanout?: FanoutResult } = {};
    byEngine[e] = r;
    if (!o.skipIdle) {
      log(`(1) idle connections, ${e} engine`);
      r.idle = await idlePhase(o);
    }
    if (!o.skipFanout) {
      log(`(2) fan-out, ${e} engine`);
      r.fanout = await fanoutPhase(o);
    }
  }
  for (const [e, { idle, fanout }] of Object.entries(byEngine)) {
    log("");
    log(`== ${e} engine ==`);
    if (idle) log(idleTable(idle) + "\n");
    if (fanout) {
      log(fanoutTable(fanout, o) + "\n");
      if (fanout.profile) {
        log(`server CPU profile: ${fanout.profile.file}`);
        for (const t of fanout.profile.top) log(`  ${fmt(t.selfPercent, 1).padStart(5)}%  ${t.fn}`);
        log("");
      }
    }
  }
  const both = byEngine.uws?.idle && byEngine.ws?.idle ? { uws: byEngine.uws.idle, ws: byEngine.ws.idle } : undefined;
  if (both) {
    log(
      `idle memory per connection, uws vs ws: server RSS ${fmt(both.uws.perConnection.serverRss)} vs ${fmt(both.ws.perConnection.serverRss)} B, ` +
        `JS heap ${fmt(both.uws.perConnection.serverHeap ?? NaN)} vs ${fmt(both.ws.perConnection.serverHeap ?? NaN)} B; ` +
        `connections/GiB (RSS + ½ TCP mem) ${fmt(both.uws.connectionsPerGiB.rssPlusTcpMem)} vs ${fmt(both.ws.connectionsPerGiB.rssPlusTcpMem)}`,
    );
  }
  log(`targets: ≥ ${fmt(IDLE_TARGET)} idle connections per GiB (server RSS + kernel socket memory); ≥ ${fmt(FANOUT_TARGET)} fan-out deliveries/s with coalescing`);
  log("kernel figures are machine-wide deltas: on loopback both ends of every connection are on this box; the server is charged half (the two sockets of a pair are alike)");

  const result = {
    benchmark: "ws",
    startedAt: started.toISOString(),
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? "?", memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, pageSize: PAGE },
    options: o,
    targets: { idleConnectionsPerGiB: IDLE_TARGET, fanoutDeliveriesPerSecond: FANOUT_TARGET },
    engines: byEngine,
    // The first engine's figures also at the top level, where earlier result files have them.
    idle: byEngine[o.engines[0]!]?.idle,
    fanout: byEngine[o.engines[0]!]?.fanout,
  };
  const out = o.out ?? new URL(`./results/ws-${isoStamp(started)}.json`, import.meta.url).pathname;
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  log(`written ${out}`);
}

if (process.argv.includes("--worker")) runWorker();
else
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
