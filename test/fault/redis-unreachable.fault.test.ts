import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { connectInspector, serverGc, serverHeapUsed, type Inspector } from "../../bench/lib/inspector.js";
import type { NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import {
  attachStream,
  cleanup,
  eventually,
  heartbeatLoop,
  httpGet,
  joinRooms,
  metric,
  metricPerNode,
  reasonOf,
  startFaultCluster,
  userClient,
  waitSnapshots,
  type FaultCluster,
  type JoinedSession,
} from "./redis-fault-kit.js";

/*
 * F-R3a (reliability.md §4.2): Redis becomes unreachable for D = 2.5 s, less than the session TTL
 * (5 s here), while two nodes serve live sessions (attached streams and a heartbeating client) and
 * callers keep calling. Two shapes: frozen (SIGSTOP: connections stay open, nothing answers) and
 * down (stopped, then restarted with its AOF: connections refused).
 *
 * Invariant (I6, I7, I8): unary calls fail fast with `unavailable` / STORE_UNAVAILABLE within about
 * the Redis command timeout (300 ms), never hang; node memory stays flat under that load (no
 * offline queue: the JS heap after a full GC, read through each node's inspector, is where it was
 * before the outage; RSS, which also holds what the GC has not collected yet, gets a loose bound); /readyz answers 503 during the outage and 200 after; after Redis returns no
 * session that stayed connected leaves (recorder leave count 0), watch streams stay open and views
 * equal GetPresence. Frozen: no resync at all. Down: the subscriber reconnects once per node and
 * each watcher resyncs once (`reconnect`), in the same epoch.
 */

afterEach(cleanup);

const ROOMS = ["/r3/a", "/r3/b"];
const OUTAGE_MS = 2_500;
/** The nodes open the inspector on a free loopback port (printed on stderr) so the test can force a GC. */
const ENV = { PRESENCE_SESSION_TTL_MS: "5000", PRESENCE_HEARTBEAT_INTERVAL_MS: "200", NODE_OPTIONS: "--inspect=127.0.0.1:0" };
/** Fail-fast bound: twice the command timeout (300 ms, see checkOutage) plus slack for a loaded machine. */
const FAIL_FAST_MS = 1_500;
const MiB = 1024 * 1024;

interface Call {
  method: string;
  start: number;
  ms: number;
  code: Code | "ok";
  reason?: string;
}

/** Callers hammering every node (GetPresence and Heartbeat) until stopped; every call recorded. */
function callLoad(nodes: NodeProcess[], s: JoinedSession, perNode: number) {
  const calls: Call[] = [];
  let stopped = false;
  const clients = Promise.all(nodes.map((n) => userClient(n.rpcUrl, s.user)));
  const loops = clients.then((cs) =>
    Promise.all(
      cs.flatMap(({ client, headers }) =>
        Array.from({ length: perNode }, async (_, i) => {
          while (!stopped) {
            const start = Date.now();
            try {
              if (i % 2 === 0) await client.getPresence({ room: ROOMS[0]! }, { headers, timeoutMs: 5_000 });
              else await client.heartbeat({ sessionId: s.sessionId }, { headers, timeoutMs: 5_000 });
              calls.push({ method: i % 2 === 0 ? "GetPresence" : "Heartbeat", start, ms: Date.now() - start, code: "ok" });
            } catch (e) {
              const ce = ConnectError.from(e);
              calls.push({ method: i % 2 === 0 ? "GetPresence" : "Heartbeat", start, ms: Date.now() - start, code: ce.code, reason: reasonOf(ce) });
            }
            await sleep(25);
          }
        }),
      ),
    ),
  );
  return {
    calls,
    async stop() {
      stopped = true;
      await loops;
    },
  };
}

const rss = (nodes: NodeProcess[]) => metricPerNode(nodes, "process_resident_memory_bytes");

const inspectors = new Map<NodeProcess, Inspector>();
afterEach(() => {
  for (const i of inspectors.values()) i.close();
  inspectors.clear();
});

/** Each node's JS heap in use after two full GCs (through its inspector). */
async function heapAfterGc(nodes: NodeProcess[]): Promise<number[]> {
  return Promise.all(
    nodes.map(async (n) => {
      let insp = inspectors.get(n);
      if (!insp) {
        const port = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(n.logs())?.[1];
        if (!port) throw new Error(`node ${n.pid} printed no inspector address:\n${n.logs()}`);
        insp = await connectInspector(Number(port));
        inspectors.set(n, insp);
      }
      await serverGc(insp);
      return serverHeapUsed(insp);
    }),
  );
}
const readyz = (n: NodeProcess) => httpGet(`${n.adminUrl}/readyz`).then((r) => r.status);

async function setup(redisOpts: { appendonly?: boolean } = {}) {
  const c = await startFaultCluster({ nodes: 2, rooms: ROOMS, env: ENV, redis: redisOpts });
  const [n0, n1] = c.nodes as [NodeProcess, NodeProcess];
  const ana = await joinRooms(n0, "ana", ROOMS);
  const bob = await joinRooms(n1, "bob", [ROOMS[0]!]);
  const dan = await joinRooms(n1, "dan", ROOMS); // heartbeat-bound
  const attached = [attachStream(ana, ROOMS[0]!), attachStream(bob, ROOMS[0]!)];
  const beats = heartbeatLoop(dan, 200);
  await waitSnapshots(attached, 1, 5_000, "attached streams' snapshots");
  await c.rec.waitConverged(c.truth);
  return { ...c, sessions: [ana, bob, dan], attached, beats };
}

/** Runs the outage (`down` … `up`) under call load; returns what was measured. */
async function outage(c: FaultCluster & { sessions: JoinedSession[] }, down: () => Promise<void> | void, up: () => Promise<void> | void) {
  // Warm-up with the same load while Redis is up, so the RSS baseline includes JIT and pools.
  const warm = callLoad(c.nodes, c.sessions[2]!, 8);
  await sleep(800);
  await warm.stop();
  const heapBefore = await heapAfterGc(c.nodes);
  const baseline = await rss(c.nodes);

  const load = callLoad(c.nodes, c.sessions[2]!, 8);
  await sleep(100);
  await down();
  const downAt = Date.now();
  const samples: number[][] = [];
  const watching = (async () => {
    while (Date.now() - downAt < OUTAGE_MS) {
      samples.push(await rss(c.nodes));
      await sleep(200);
    }
  })();
  await eventually(async () => (await Promise.all(c.nodes.map(readyz))).every((s) => s === 503), OUTAGE_MS, "/readyz 503 on every node");
  const notReadyMs = Date.now() - downAt;
  await watching;
  const upAt = Date.now();
  await up();
  await eventually(async () => (await Promise.all(c.nodes.map(readyz))).every((s) => s === 200), 5_000, "/readyz 200 on every node");
  const readyAfterMs = Date.now() - upAt;
  await load.stop();
  const after = await rss(c.nodes);
  const heapAfter = await heapAfterGc(c.nodes);
  const retained = heapAfter.map((v, i) => v - heapBefore[i]!);
  // Calls started inside the outage early enough to fail fast before Redis was back: every one of
  // them must have failed, within the bound (a call that hangs, or waits in a queue until Redis
  // returns, exceeds it). And every call that ended inside the outage failed.
  const started = load.calls.filter((k) => k.start >= downAt && k.start <= upAt - FAIL_FAST_MS);
  const endedInside = load.calls.filter((k) => k.start >= downAt && k.start + k.ms <= upAt);
  return { baseline, samples, after, retained, started, endedInside, notReadyMs, readyAfterMs };
}

function checkOutage(r: Awaited<ReturnType<typeof outage>>, label: string) {
  const worst = Math.max(...r.started.map((k) => k.ms));
  const worstOf = (m: string) => Math.max(0, ...r.started.filter((k) => k.method === m).map((k) => k.ms));
  const growth = Math.max(...r.samples.flatMap((s) => s.map((v, i) => v - r.baseline[i]!)), ...r.after.map((v, i) => v - r.baseline[i]!));
  const codes = [...new Set([...r.started, ...r.endedInside].map((k) => `${k.code}/${k.reason}`))];
  console.log(
    `F-R3a ${label}: ${r.started.length} calls started inside the outage (${r.endedInside.length} ended inside), codes ${codes.join(",")}, ` +
      `latency max ${worst} ms (GetPresence ${worstOf("GetPresence")}, Heartbeat ${worstOf("Heartbeat")}); ` +
      `/readyz 503 after ${r.notReadyMs} ms, 200 ${r.readyAfterMs} ms after heal; RSS baseline ${r.baseline.map((v) => (v / MiB).toFixed(1)).join("/")} MiB, ` +
      `max growth ${(growth / MiB).toFixed(1)} MiB; JS heap retained after GC ${r.retained.map((v) => (v / MiB).toFixed(1)).join("/")} MiB`,
  );
  expect(r.started.length).toBeGreaterThanOrEqual(16); // every caller (8 per node) started at least one
  expect(codes).toEqual([`${Code.Unavailable}/STORE_UNAVAILABLE`]);
  // Never hangs: with auto-pipelining a script call can wait for the pipeline in flight to time out
  // before its own is sent, so up to twice the command timeout (300 ms); the rest is slack.
  expect(worst).toBeLessThan(FAIL_FAST_MS);
  // Nothing kept per call: the heap after a full GC is where it was before the outage. (Measured:
  // 1.4-1.6 MiB after ~1,250 failed calls per node; an offline queue or a listener per call would
  // keep tens of KB per call.)
  for (const v of r.retained) expect(v).toBeLessThan(8 * MiB);
  // RSS also holds garbage not yet collected, which grows with the call rate and with the runtime's
  // young-generation size (Node 22+ lets it grow twice as large as Node 20): a loose bound on top.
  expect(growth).toBeLessThan(96 * MiB);
}

async function checkHealed(c: Awaited<ReturnType<typeof setup>>) {
  await c.rec.waitConverged(c.truth);
  await sleep(500); // a few refresh and reaper rounds after the heal: nobody is reaped late
  await c.rec.waitConverged(c.truth);
  const t = await c.truth();
  const present = ROOMS.map((room) => Object.values(t.get(room)!.users).flat().sort());
  expect(present[0]).toEqual(c.sessions.map((s) => s.connectionId).sort());
  expect(present[1]).toEqual([c.sessions[0]!, c.sessions[2]!].map((s) => s.connectionId).sort());
  for (const s of c.sessions) expect(c.rec.leavesFor(s.connectionId)).toEqual(c.rec.watchers.map(() => 0));
  expect(c.rec.watchers.every((w) => w.isLive() && w.errors.length === 0)).toBe(true);
  expect(c.attached.every((w) => !w.isEnded() && w.recorder.leavesOf(c.sessions[0]!.connectionId) === 0)).toBe(true);
  expect(c.rec.violations().flat()).toEqual([]);
  expect(c.attached.flatMap((w) => w.recorder.violations)).toEqual([]);
  expect(c.beats.errors.get(Code.NotFound) ?? 0).toBe(0);
}

const epochsOf = (c: FaultCluster) => c.rec.views().map((v) => v!.epoch);

describe("F-R3a: Redis unreachable for less than the TTL", () => {
  it("frozen (SIGSTOP): calls fail fast, memory flat, /readyz 503 then 200, no leaves, no resync", async () => {
    const c = await setup();
    const epochs = epochsOf(c);
    const r = await outage(c, () => c.redis.freeze(), () => c.redis.thaw());
    checkOutage(r, "frozen");
    await checkHealed(c);
    expect(c.rec.resyncs()).toEqual(c.rec.watchers.map(() => 0));
    expect(c.attached.map((w) => w.recorder.snapshots())).toEqual([1, 1]);
    expect(await metricPerNode(c.nodes, "presence_subscriber_reconnects_total")).toEqual([0, 0]);
    expect(epochsOf(c)).toEqual(epochs);
  });

  it("down (stopped, restarted with its AOF): calls fail fast, memory flat, /readyz 503 then 200, no leaves, one resync per watcher", async () => {
    const c = await setup({ appendonly: true });
    const epochs = epochsOf(c);
    const stop = async () => {
      const pid = c.redis.pid;
      process.kill(pid, "SIGTERM"); // graceful: the AOF is flushed
      await eventually(async () => !alive(pid), 5_000, "redis-server to exit");
    };
    const r = await outage(c, stop, () => c.redis.restart({ keepData: true }));
    checkOutage(r, "down");
    await checkHealed(c);
    expect(c.rec.resyncs()).toEqual(c.rec.watchers.map(() => 1));
    expect(c.attached.map((w) => w.recorder.snapshots())).toEqual([2, 2]);
    expect(await metricPerNode(c.nodes, "presence_subscriber_reconnects_total")).toEqual([1, 1]);
    expect(await metricPerNode(c.nodes, "presence_resyncs_total", 'reason="reconnect"')).toEqual([3, 3]);
    expect(epochsOf(c)).toEqual(epochs); // state survived: same epochs, versions continue
    expect(await metricPerNode(c.nodes, "presence_reasserted_sessions_total")).toEqual([0, 0]);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
