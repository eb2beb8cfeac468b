import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { presenceTruth, recordRooms, type ClusterRecorder } from "../support/cluster-recorder.js";
import { attachSession, closeAll, nodeClient, scrapeSum, tokenOf, transitionsOf, waitLeaves } from "../support/node-fault-kit.js";
import { startNode, stopAllNodes, type NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import type { RecordedWatch } from "../support/watch-recorder.js";
import { waitFor } from "../support/watch-recorder.js";

/*
 * F-N2 graceful drain (reliability.md §4.1; design §5 "Graceful deploys", §9 Shutdown): three nodes
 * share one Redis; node c gets SIGTERM. Every watch stream on c ends with `unavailable` and
 * ErrorInfo reason DRAINING (attached streams and plain watchers alike), c exits 0 within the
 * shutdown deadline. The sessions attached to c enter the reconnect grace (1 s here):
 *
 * - clients that reconnect within the grace (a new WatchPresence naming the session, same token,
 *   on another node, after a 50–150 ms jittered back-off) continue their sessions: no leave and no
 *   join for them on any watcher, ever;
 * - a client that does not come back leaves each of its rooms exactly once per watcher, reason
 *   TIMEOUT, no earlier than the grace after SIGTERM and within grace + reaper interval + 600 ms
 *   slack. The TTL (3 s) minus the node refresh interval is longer than that bound, so the leave
 *   proves that the draining node released the session to the grace (else it would live a TTL).
 *
 * Plain watchers of c reattach to a and b with `resume_from` and continue from the event log with
 * no snapshot; every watcher converges on GetPresence with no recorder violation.
 */

const TTL_MS = 3_000;
const GRACE_MS = 1_000;
const REAPER_MS = 100;
const DEADLINE_MS = 2_000;
const SLACK_MS = 600;
const ENV = {
  PRESENCE_SESSION_TTL_MS: String(TTL_MS),
  PRESENCE_HEARTBEAT_INTERVAL_MS: "500",
  PRESENCE_NODE_REFRESH_MS: "300",
  PRESENCE_REAPER_INTERVAL_MS: String(REAPER_MS),
  PRESENCE_RECONNECT_GRACE_MS: String(GRACE_MS),
  PRESENCE_POSITION_CHECK_MS: "500",
  PRESENCE_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS),
};
const ROOMS = ["/deploy/a", "/deploy/b"] as const;

let redis: RedisInstance;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
const recorders: ClusterRecorder[] = [];
afterEach(async () => {
  await Promise.all(recorders.splice(0).map((r) => r.close()));
  closeAll();
  await stopAllNodes();
});

const reasonOf = (e: ConnectError | undefined) => e?.findDetails(ErrorInfoSchema)[0]?.reason;

/** A user's session joined through `via` in `rooms`, attached on `on` by one stream per room. */
async function attachedUser(user: string, via: NodeProcess, on: NodeProcess, rooms: readonly string[]) {
  const token = await tokenOf(user);
  const c = nodeClient(via.rpcUrl, token).client;
  const s = (await c.join({ room: rooms[0]! })).session!;
  for (const room of rooms.slice(1)) await c.join({ room, sessionId: s.sessionId });
  const streams = await Promise.all(rooms.map((room) => attachSession({ rpcUrl: on.rpcUrl, token }, s.sessionId, room)));
  return { user, token, sid: s.sessionId, cid: s.connectionId, rooms, streams };
}

describe("F-N2 SIGTERM one of three nodes (graceful drain)", () => {
  it("streams end with DRAINING; sessions reconnected elsewhere within the grace cause no leave/join; the one that does not come back leaves once after the grace; exit 0 within the deadline", async () => {
    const [a, b, c] = (await Promise.all([0, 1, 2].map(() => startNode({ ...ENV, PRESENCE_REDIS_URL: redis.url })))) as [NodeProcess, NodeProcess, NodeProcess];
    const rec = recordRooms([a, b, c], ROOMS);
    recorders.push(rec);
    await waitFor(() => rec.views().every((v) => v !== null), 5_000, "first snapshots");

    // Attached to c: ana (two rooms) and bob come back; carl does not. dan is attached to a.
    const ana = await attachedUser("ana", c, c, ROOMS);
    const bob = await attachedUser("bob", a, c, [ROOMS[0]]);
    const carl = await attachedUser("carl", c, c, [ROOMS[1]]);
    const dan = await attachedUser("dan", b, a, ROOMS);
    const truth = presenceTruth(a.rpcUrl, ROOMS);
    await rec.waitConverged(truth, 5_000);
    const reapedBefore = (await Promise.all([a, b].map((n) => scrapeSum(n.adminUrl, "presence_reaped_sessions_total")))).reduce((x, y) => x + y);

    // Clients that come back: on the end of each attached stream, back off 50–150 ms, then watch
    // the same room on another node naming the same session.
    const returning = [
      { s: ana, to: a },
      { s: bob, to: b },
    ];
    const reconnected: Promise<{ watch: RecordedWatch; afterEndMs: number }>[] = returning.flatMap(({ s, to }) =>
      s.streams.map(async (stream, k) => {
        await stream.ended;
        const endedAt = Date.now();
        await sleep(50 + Math.random() * 100);
        const watch = await attachSession({ rpcUrl: to.rpcUrl, token: s.token }, s.sid, s.rooms[k]!);
        return { watch, afterEndMs: Date.now() - endedAt };
      }),
    );

    const t0 = Date.now();
    c.kill("SIGTERM");

    // Every stream on c ends with unavailable / DRAINING.
    const attachedEnds = await Promise.all([ana, bob, carl].flatMap((s) => s.streams.map((w) => w.ended)));
    for (const e of attachedEnds) expect([e?.code, reasonOf(e)]).toEqual([Code.Unavailable, "DRAINING"]);
    const onC = rec.watchers.filter((w) => w.rpcUrl === c.rpcUrl);
    await waitFor(() => onC.every((w) => !w.isLive()), 5_000, "c's watchers ended");
    for (const w of onC) expect(w.errors.map((e) => [e.code, e.message.includes("draining")])).toEqual([[Code.Unavailable, true]]);
    const drainEndMs = Math.max(...onC.map((w) => w.errors[0]!.atMs)) - t0;

    // The process exits 0 within the deadline.
    const exit = await Promise.race([c.exited, sleep(DEADLINE_MS + 3_000).then(() => null)]);
    const exitMs = Date.now() - t0;
    expect(exit, c.logs()).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(DEADLINE_MS);

    // Plain watchers continue on a and b from where they were.
    for (const w of onC) await rec.reattach(w.index, w.room === ROOMS[0] ? a.rpcUrl : b.rpcUrl);

    const back = await Promise.all(reconnected);
    const reconnectMs = back.map((r) => r.afterEndMs);
    expect(Math.max(...reconnectMs)).toBeLessThan(GRACE_MS);

    // carl leaves each of his rooms once, after the grace.
    const carlWatchers = rec.watchers.filter((w) => carl.rooms.includes(w.room)).map((w) => w.index);
    await waitLeaves(rec, carlWatchers, [carl.cid], 10_000);
    const carlLeaves = carlWatchers.flatMap((i) => transitionsOf(rec, i, carl.cid, t0));
    const leaveMs = carlLeaves.map((m) => m.receivedAtMs - t0);
    console.log(
      `F-N2: streams on c ended ${drainEndMs} ms after SIGTERM, exit 0 after ${exitMs} ms (deadline ${DEADLINE_MS}); ` +
        `reconnects ${reconnectMs.join("/")} ms after the stream ended; carl's leave ${Math.min(...leaveMs)}–${Math.max(...leaveMs)} ms after SIGTERM (grace ${GRACE_MS}, TTL ${TTL_MS})`,
    );
    expect(carlLeaves.map((m) => [m.eventKind, m.reason])).toEqual(carlWatchers.map(() => ["left", LeaveReason.TIMEOUT]));
    expect(Math.min(...leaveMs)).toBeGreaterThanOrEqual(GRACE_MS - 50);
    expect(Math.max(...leaveMs)).toBeLessThanOrEqual(GRACE_MS + REAPER_MS + SLACK_MS);

    // Quiet period for the negative checks: the grace of the returning sessions (released at the
    // same moment as carl's) has long passed; three more reaper rounds.
    await sleep(3 * REAPER_MS);
    await rec.waitConverged(truth, 5_000);
    for (const s of [ana, bob, dan]) {
      for (const w of rec.watchers) expect(transitionsOf(rec, w.index, s.cid, t0), `${s.user} on watcher ${w.index}`).toEqual([]);
    }
    for (const { watch } of back) {
      expect(watch.isEnded()).toBe(false);
      expect(watch.recorder.leavesOf(ana.cid) + watch.recorder.leavesOf(bob.cid)).toBe(0);
      expect(watch.recorder.violations).toEqual([]);
    }
    expect(rec.resyncs()).toEqual(rec.watchers.map(() => 0)); // the reattached watchers resumed from the log
    expect(rec.violations().flat()).toEqual([]);
    const t = await truth();
    expect(t.get(ROOMS[0])!.users).toEqual({ ana: [ana.cid], bob: [bob.cid], dan: [dan.cid] });
    expect(t.get(ROOMS[1])!.users).toEqual({ ana: [ana.cid], dan: [dan.cid] });
    const reaped = (await Promise.all([a, b].map((n) => scrapeSum(n.adminUrl, "presence_reaped_sessions_total")))).reduce((x, y) => x + y);
    expect(reaped - reapedBefore).toBe(1);
    // The continued sessions are alive and still theirs.
    expect((await nodeClient(b.rpcUrl, ana.token).client.heartbeat({ sessionId: ana.sid })).lease).toBeDefined();
  });
});
