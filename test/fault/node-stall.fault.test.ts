import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createPresenceClient } from "@presence-platform/client";
import { LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { startDriverClient, type DriverClient } from "../support/client-driver.js";
import type { ClusterRecorder } from "../support/cluster-recorder.js";
import { faultScope, type FaultScope } from "../support/fault-scope.js";
import { blockEventLoop, INSPECT } from "../support/inspector.js";
import { messagesOf, residueOf, scrapeSum, tokenOf } from "../support/node-fault-kit.js";
import type { NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import type { RedisInstance } from "../support/redis-harness.js";
import { waitFor } from "../support/watch-recorder.js";

/*
 * A node that stops without dying (reliability.md §4.1 F-N3, F-N5; design I1, I3, I5): three nodes
 * share one Redis; node v holds sessions of careful clients (client-driver.ts: attached streams,
 * rejoin when the session is gone) and of an SDK client over the WebSocket bridge. Then v stops:
 *
 * - F-N3: SIGSTOP for 2 × TTL, then SIGCONT (a GC pause, a frozen VM);
 * - F-N5: its event loop is blocked, through the inspector (test/support/inspector.ts, no product
 *   hook): first 0.8 s, half of (TTL − refresh interval): nothing may happen; then 10 s, five TTLs.
 *
 * While v is stopped, the other nodes reap its sessions: every watcher on a and b sees exactly one
 * leave (reason TIMEOUT) per session of v and room, within TTL + reaper interval + slack of the
 * stop. When v runs again, its node refresh finds the sessions gone and is refused (fencing: an
 * expired session is never refreshed back, I5): it ends their streams and sockets with
 * SESSION_NOT_FOUND, and each client rejoins once, as a new connection (exactly one join per
 * watcher). No old connection comes back anywhere (no join of an old connection id after the stop,
 * none in any final view), Redis keeps nothing of the old sessions, v's own watchers catch up with
 * no recorder violation, sessions of a and b see no transition at all, and every view ends equal
 * to GetPresence. Both tests run concurrently (each its own Redis and nodes).
 */

const TTL_MS = 1_000;
const REAPER_MS = 100;
const SLACK_MS = 800;
const ROOMS = ["/stall/a", "/stall/b"] as const;
const env = (ttlMs: number) => ({
  PRESENCE_SESSION_TTL_MS: String(ttlMs),
  PRESENCE_HEARTBEAT_INTERVAL_MS: String(Math.floor(ttlMs / 4)),
  PRESENCE_NODE_REFRESH_MS: String(Math.floor(ttlMs / 5)),
  PRESENCE_REAPER_INTERVAL_MS: String(REAPER_MS),
  PRESENCE_RECONNECT_GRACE_MS: "500",
  PRESENCE_POSITION_CHECK_MS: "300",
});

interface Cast {
  redis: RedisInstance;
  a: NodeProcess;
  b: NodeProcess;
  v: NodeProcess;
  rec: ClusterRecorder;
  victims: DriverClient[];
  survivors: DriverClient[];
  web: { cids: string[]; rejoined: () => boolean; close: () => Promise<void> };
}

async function setup(s: FaultScope, ttlMs: number, inspect: boolean): Promise<Cast> {
  const redis = await s.redis();
  const e = { ...env(ttlMs), PRESENCE_REDIS_URL: redis.url };
  const [a, b, v] = await Promise.all([s.node(e), s.node(e), s.node(inspect ? { ...e, ...INSPECT } : e)]) as [NodeProcess, NodeProcess, NodeProcess];
  const rec = await s.record([a, b, v], ROOMS);
  const driver = async (user: string, node: NodeProcess, rooms: readonly string[]) =>
    startDriverClient(s, { user, token: await tokenOf(user), rooms, pick: () => node });
  const victims = [await driver("vic1", v, ROOMS), await driver("vic2", v, [ROOMS[0]])];
  const survivors = [await driver("sur1", a, ROOMS), await driver("sur2", b, [ROOMS[1]])];
  // The SDK over v's WebSocket bridge (it only knows that address): reclaim, or rejoin when gone.
  const web = createPresenceClient({ transport: "websocket", url: v.wsUrl, token: await tokenOf("web1"), webSocket: WebSocket, reconnect: { baseMs: 50, capMs: 400 }, visibility: false });
  s.defer(() => web.close());
  const room = web.join(ROOMS[1]);
  await room.ready;
  const webCids = [room.self!.connectionId];
  room.on("view", () => {
    const cid = room.self?.connectionId;
    if (cid && cid !== webCids.at(-1)) webCids.push(cid);
  });
  await rec.waitConverged(s.truth(a, ROOMS), 5_000);
  return { redis, a, b, v, rec, victims, survivors, web: { cids: webCids, rejoined: () => webCids.length > 1, close: () => web.close() } };
}

/** Index of every watcher of `rooms` on the nodes `on`. */
const watchersOn = (c: Cast, on: NodeProcess[], rooms: readonly string[]) =>
  c.rec.watchers.filter((w) => rooms.includes(w.room) && on.some((n) => n.rpcUrl === w.rpcUrl)).map((w) => w.index);

/** After v stopped at `t0` and runs again: leaves, rejoins, no resurrection, convergence, nothing left in Redis. */
async function checkStopped(s: FaultScope, c: Cast, t0: number, label: string) {
  const victims = [...c.victims.map((d) => ({ user: d.user, rooms: d.rooms, cids: d.cids, rejoins: d.rejoins })), { user: "web1", rooms: [ROOMS[1]] as readonly string[], cids: c.web.cids, rejoins: () => c.web.cids.length - 1 }];
  await waitFor(() => c.victims.every((d) => d.rejoins() === 1 && d.settled()) && c.web.rejoined(), 20_000, "every client of v rejoined once");
  await sleep(TTL_MS + 3 * REAPER_MS); // quiet: nothing else may happen
  const truth = s.truth(c.a, ROOMS);
  await c.rec.waitConverged(truth, 5_000);

  const survivorsWatchers = (rooms: readonly string[]) => watchersOn(c, [c.a, c.b], rooms);
  const leaveMs: number[] = [];
  for (const vic of victims) {
    const [old, now] = [vic.cids[0]!, vic.cids.at(-1)!];
    expect(vic.cids.length, `${vic.user} connections`).toBe(2);
    for (const i of survivorsWatchers(vic.rooms)) {
      const seen = messagesOf(c.rec, i).filter((m) => m.eventKind !== undefined && m.receivedAtMs >= t0 && [old, now].includes(m.connectionId!));
      expect(seen.map((m) => `${m.eventKind}:${m.connectionId === old ? "old" : "new"}`), `${vic.user} on watcher ${i}`).toEqual(["left:old", "joined:new"]);
      expect(seen[0]!.reason).toBe(LeaveReason.TIMEOUT);
      leaveMs.push(seen[0]!.receivedAtMs - t0);
    }
    // No resurrection anywhere: no join of the old connection after the stop, and it is in no view.
    for (const w of c.rec.watchers) {
      expect(messagesOf(c.rec, w.index).filter((m) => m.eventKind === "joined" && m.connectionId === old && m.receivedAtMs >= t0)).toEqual([]);
      expect(JSON.stringify(c.rec.views()[w.index])).not.toContain(old);
    }
  }
  for (const d of c.survivors) {
    for (const w of c.rec.watchers) expect(messagesOf(c.rec, w.index).filter((m) => m.connectionId === d.cid() && m.receivedAtMs >= t0), `${d.user} on ${w.index}`).toEqual([]);
    expect([d.rejoins(), d.reattaches(), d.endings]).toEqual([0, 0, []]);
  }
  expect(c.rec.violations().flat()).toEqual([]);
  expect([...c.victims, ...c.survivors].flatMap((d) => d.streams().flatMap((w) => w.recorder.violations))).toEqual([]);
  for (const w of c.rec.watchers) expect(w.errors, `watcher ${w.index}`).toEqual([]);
  expect(c.victims.every((d) => d.endings.every((e) => e === "NotFound/SESSION_NOT_FOUND"))).toBe(true);
  const oldIds = [...victims.map((v) => v.cids[0]!), ...c.victims.map((d) => d.sids[0]!)];
  expect(await residueOf(c.redis.client(), oldIds)).toEqual([]);
  expect(c.v.logs()).toContain("attached sessions gone while streaming");
  console.log(`${label}: leaves of v's sessions seen ${Math.min(...leaveMs)}–${Math.max(...leaveMs)} ms after the stop; every client rejoined once`);
  return { leaveMs };
}

describe.concurrent("a node that stops without dying", () => {
  it("F-N3 SIGSTOP for 2 × TTL: its sessions leave once (TIMEOUT), it does not resurrect them, each client rejoins once", async (ctx) => {
    const s = faultScope(ctx);
    const c = await setup(s, TTL_MS, false);
    const t0 = Date.now();
    c.v.kill("SIGSTOP");
    await sleep(2 * TTL_MS);
    c.v.kill("SIGCONT");
    const { leaveMs } = await checkStopped(s, c, t0, "F-N3");
    expect(Math.max(...leaveMs)).toBeLessThanOrEqual(TTL_MS + REAPER_MS + SLACK_MS);
  });

  it("F-N5 event loop blocked: 0.8 s changes nothing; 10 s (5 TTLs) is a stop like F-N3, and the node goes on", async (ctx) => {
    const s = faultScope(ctx);
    const ttl = 2_000;
    const c = await setup(s, ttl, true);
    const pid = c.v.pid;

    // Short stall: 0.8 s = (TTL − refresh interval) / 2. Nothing leaves, nothing resyncs (a session
    // it would have cost expires within TTL of the stall's start: wait that long, and a reaper round).
    const resyncsBefore = c.rec.resyncs();
    const short = await blockEventLoop(c.v, 800);
    await sleep(short.startedAt + ttl + 3 * REAPER_MS - Date.now());
    await c.rec.waitConverged(s.truth(c.a, ROOMS), 5_000);
    for (const d of [...c.victims, ...c.survivors]) expect([d.user, d.rejoins(), d.reattaches(), d.endings]).toEqual([d.user, 0, 0, []]);
    for (const w of c.rec.watchers) expect(messagesOf(c.rec, w.index).filter((m) => m.eventKind !== undefined && m.receivedAtMs >= short.startedAt), `watcher ${w.index}`).toEqual([]);
    expect(c.web.cids).toHaveLength(1);
    expect(c.rec.resyncs()).toEqual(resyncsBefore);

    // Long stall: 10 s.
    const long = await blockEventLoop(c.v, 10_000);
    const lagMax = await scrapeSum(c.v.adminUrl, "nodejs_eventloop_lag_max_seconds");
    expect(lagMax).toBeGreaterThanOrEqual(9.5); // the stall happened, as the node measured it
    const { leaveMs } = await checkStopped(s, c, long.startedAt, "F-N5");
    expect(Math.max(...leaveMs)).toBeLessThanOrEqual(ttl + REAPER_MS + SLACK_MS);
    expect(c.v.pid).toBe(pid); // no crash, no restart
    expect((await fetch(`${c.v.adminUrl}/readyz`)).status).toBe(200);
  });
});
