import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { presenceTruth, recordRooms, type ClusterRecorder } from "../support/cluster-recorder.js";
import { attachSession, closeAll, messagesOf, nodeClient, residueOf, scrapeSum, tokenOf, transitionsOf, waitLeaves } from "../support/node-fault-kit.js";
import { startNode, stopAllNodes, type NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { waitFor } from "../support/watch-recorder.js";

/*
 * F-N1 and F-N4 (reliability.md §4.1; design §6 I1, I3, I5): three nodes share one Redis and one
 * of them is killed with SIGKILL. Its sessions are the ones attached to it (WatchPresence streams
 * naming a session, in several rooms; among them an anonymous viewer and one connection of a user
 * who has another on a surviving node). No node announces anything: the sessions simply stop being
 * refreshed, expire, and are reaped by the surviving nodes.
 *
 * F-N1 invariant: every such session leaves each of its rooms within TTL + reaper interval + 700 ms
 * slack (fan-out, a loaded 2-CPU machine); every watcher on the surviving nodes sees exactly one
 * leave (reason TIMEOUT) per such session and room and no other leave (sessions attached to the
 * survivors, and a Heartbeat-bound one, stay); the views equal GetPresence; afterwards Redis holds
 * nothing of those sessions (no key, hash field or value, zset member naming their session or
 * connection ids; the rooms' event logs are history and are not scanned), and
 * `presence_reaped_sessions_total` of the survivors grew by their number. The ghost-detection time
 * (kill → last leave seen by a watcher) is printed.
 *
 * F-N4 (two nodes suffice: a survivor that watches and reaps, and the victim): the killed node is
 * restarted at once on the same ports. The old sessions never come back (no join of their
 * connection ids after the kill, on any watcher; Heartbeat and WatchPresence with an old session id
 * answer SESSION_NOT_FOUND; a reclaim with the old id and secret makes a new session, `resumed =
 * false`, with a new connection id); new sessions on the restarted node join and stay. The TTL is
 * longer here (2.5 s), so the restarted node is often up while the old sessions are still in
 * Redis, unreaped (the test prints which case happened; a loaded machine starts nodes slower).
 */

const BASE_ENV = {
  PRESENCE_HEARTBEAT_INTERVAL_MS: "200",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_RECONNECT_GRACE_MS: "500",
  PRESENCE_POSITION_CHECK_MS: "500",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "2000",
};
const REAPER_MS = 100;
const SLACK_MS = 700;
const ROOMS = ["/crash/a", "/crash/b", "/crash/c"] as const;

let redis: RedisInstance;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
const recorders: ClusterRecorder[] = [];
const loops: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const l of loops.splice(0)) clearInterval(l);
  await Promise.all(recorders.splice(0).map((r) => r.close()));
  closeAll();
  await stopAllNodes();
  await redis.cli("FLUSHALL"); // our own server: the next test starts from an empty dataset
});

async function startNodes(n: number, ttlMs: number, refreshMs: number): Promise<NodeProcess[]> {
  const env = { ...BASE_ENV, PRESENCE_SESSION_TTL_MS: String(ttlMs), PRESENCE_NODE_REFRESH_MS: String(refreshMs), PRESENCE_REDIS_URL: redis.url };
  return Promise.all(Array.from({ length: n }, () => startNode(env)));
}

function record(nodes: NodeProcess[]) {
  const rec = recordRooms(nodes, ROOMS);
  recorders.push(rec);
  return rec;
}

/** A session of `user` (undefined: anonymous) joined through `via` in `rooms`, attached by one stream per room on `on`. */
async function attachedSession(user: string | undefined, via: NodeProcess, on: NodeProcess, rooms: readonly string[]) {
  const token = user === undefined ? undefined : await tokenOf(user);
  const c = nodeClient(via.rpcUrl, token).client;
  const first = (await c.join({ room: rooms[0]! })).session!;
  for (const room of rooms.slice(1)) await c.join({ room, sessionId: first.sessionId });
  const streams = await Promise.all(rooms.map((room) => attachSession({ rpcUrl: on.rpcUrl, token }, first.sessionId, room)));
  return { user, sid: first.sessionId, secret: first.resumeSecret, cid: first.connectionId, rooms, token, streams };
}
type Attached = Awaited<ReturnType<typeof attachedSession>>;

const watchersOf = (rec: ClusterRecorder, rooms: readonly string[]) => rec.watchers.filter((w) => rooms.includes(w.room)).map((w) => w.index);

/** Every `left` event after `sinceMs`, per watcher, as `cid:reason`. */
const leavesSince = (rec: ClusterRecorder, sinceMs: number) =>
  rec.watchers.map((w) =>
    w.segments
      .flatMap((s) => s.recorder.messages)
      .filter((m) => m.eventKind === "left" && m.receivedAtMs >= sinceMs)
      .map((m) => `${m.connectionId}:${LeaveReason[m.reason ?? 0]}`)
      .sort(),
  );

/** Polls `residueOf` until Redis holds nothing of `needles` (the reaper's last step may trail the leave). */
async function waitNoResidue(needles: string[], timeoutMs: number): Promise<string[]> {
  const client = redis.client();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await residueOf(client, needles);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(50);
  }
}

describe("F-N1 kill -9 one of three nodes", () => {
  it("its attached sessions leave within TTL + reaper interval, once per watcher with TIMEOUT; nothing else leaves; Redis keeps nothing of them", async () => {
    const TTL = 800;
    const [a, b, c] = (await startNodes(3, TTL, 150)) as [NodeProcess, NodeProcess, NodeProcess];
    const rec = record([a, b]); // watchers of every room on the two survivors
    await waitFor(() => rec.views().every((v) => v !== null), 5_000, "first snapshots");

    // Victims: attached to c (two joined through a and b: where a session was created does not matter).
    const victims: Attached[] = [
      await attachedSession("vic1", c, c, [ROOMS[0], ROOMS[1]]),
      await attachedSession("vic2", a, c, [ROOMS[1], ROOMS[2]]),
      await attachedSession(undefined, b, c, [ROOMS[0]]),
      await attachedSession("shared", c, c, [ROOMS[0], ROOMS[2]]),
    ];
    // Survivors: attached to a or b, plus one Heartbeat-bound session kept alive by the test.
    const survivors: Attached[] = [
      await attachedSession("sur1", a, a, [ROOMS[0], ROOMS[2]]),
      await attachedSession("sur2", c, b, [ROOMS[1]]),
      await attachedSession(undefined, c, b, [ROOMS[0], ROOMS[1]]),
      await attachedSession("shared", a, a, [ROOMS[0]]),
    ];
    const hbToken = await tokenOf("beater");
    const hb = (await nodeClient(b.rpcUrl, hbToken).client.join({ room: ROOMS[2] })).session!;
    const beaters = [a, b].map((n) => nodeClient(n.rpcUrl, hbToken).client);
    let beat = 0;
    loops.push(setInterval(() => void beaters[beat++ % 2]!.heartbeat({ sessionId: hb.sessionId }).catch(() => {}), 200));

    const truth = presenceTruth(a.rpcUrl, ROOMS);
    await rec.waitConverged(truth, 5_000);
    const reapedBefore = (await Promise.all([a, b].map((n) => scrapeSum(n.adminUrl, "presence_reaped_sessions_total")))).reduce((x, y) => x + y);

    const t0 = Date.now();
    await c.kill9();
    const named = victims.filter((v) => v.user !== undefined);
    for (const v of named) await waitLeaves(rec, watchersOf(rec, v.rooms), [v.cid], 10_000);
    const leaveTimes = named.flatMap((v) =>
      watchersOf(rec, v.rooms).flatMap((i) => transitionsOf(rec, i, v.cid, t0).filter((m) => m.eventKind === "left").map((m) => m.receivedAtMs - t0)),
    );
    const ghostMs = Math.max(...leaveTimes);
    console.log(`F-N1 ghost detection: first leave ${Math.min(...leaveTimes)} ms, last ${ghostMs} ms after kill -9 (bound TTL ${TTL} + reaper ${REAPER_MS} + slack ${SLACK_MS})`);
    expect(ghostMs).toBeLessThanOrEqual(TTL + REAPER_MS + SLACK_MS);

    // Quiet period for the negative checks: another TTL + two reaper rounds without any change.
    await sleep(TTL + 2 * REAPER_MS);
    await rec.waitConverged(truth, 5_000);
    const want = rec.watchers.map((w) =>
      named
        .filter((v) => v.rooms.includes(w.room))
        .map((v) => `${v.cid}:TIMEOUT`)
        .sort(),
    );
    expect(leavesSince(rec, t0)).toEqual(want); // exactly one TIMEOUT leave per (watcher, victim in its room), nothing else
    const anonymousEvents = rec.watchers.map((w) => messagesOf(rec, w.index).filter((m) => m.eventKind === "anonymous" && m.receivedAtMs >= t0).length);
    expect(anonymousEvents).toEqual(rec.watchers.map((w) => (w.room === ROOMS[0] ? 1 : 0))); // the anonymous victim, as a count
    expect(rec.violations().flat()).toEqual([]);
    for (const w of rec.watchers) expect(w.errors, `watcher ${w.index}`).toEqual([]);

    // The anonymous victim is gone from the counts, survivors (and the Heartbeat-bound session) stay.
    const t = await truth();
    expect(t.get(ROOMS[0])!.counts.anonymous).toBe(1);
    expect(Object.keys(t.get(ROOMS[0])!.users).sort()).toEqual(["shared", "sur1"]);
    expect(t.get(ROOMS[0])!.users.shared).toEqual([survivors[3]!.cid]);
    expect(Object.keys(t.get(ROOMS[1])!.users)).toEqual(["sur2"]);
    expect(Object.keys(t.get(ROOMS[2])!.users).sort()).toEqual(["beater", "sur1"]);

    // Redis: nothing left of the victims; the survivors are still there (the scan does find ids).
    const needles = victims.flatMap((v) => [v.sid, v.cid]);
    expect(await waitNoResidue(needles, 2_000)).toEqual([]);
    expect((await residueOf(redis.client(), [survivors[0]!.sid])).length).toBeGreaterThan(0);
    const reaped = (await Promise.all([a, b].map((n) => scrapeSum(n.adminUrl, "presence_reaped_sessions_total")))).reduce((x, y) => x + y);
    expect(reaped - reapedBefore).toBe(victims.length);
  });
});

describe("F-N4 kill -9 and restart on the same ports", () => {
  it("the old sessions never come back; new sessions on the restarted node join and stay", async () => {
    const TTL = 2_500;
    const [a, c] = (await startNodes(2, TTL, 300)) as [NodeProcess, NodeProcess];
    const rec = record([a]);
    await waitFor(() => rec.views().every((v) => v !== null), 5_000, "first snapshots");
    const old: Attached[] = [
      await attachedSession("old1", c, c, [ROOMS[0], ROOMS[1]]),
      await attachedSession("old2", a, c, [ROOMS[2]]),
    ];
    const stay = await attachedSession("stay", a, a, [ROOMS[0], ROOMS[1], ROOMS[2]]);
    const truth = presenceTruth(a.rpcUrl, ROOMS);
    await rec.waitConverged(truth, 5_000);

    const t0 = Date.now();
    await c.kill9();
    const c2 = await c.restart();
    const upAt = Date.now() - t0;
    expect([c2.rpcUrl, c2.adminUrl]).toEqual([c.rpcUrl, c.adminUrl]);
    const oldStillLive = (await truth()).get(ROOMS[0])!.users.old1 !== undefined;
    console.log(`F-N4: restarted node ready ${upAt} ms after kill -9; old sessions ${oldStillLive ? "still in Redis (not yet expired)" : "already reaped"} at that moment`);
    const rec2 = record([c2]); // watchers on the restarted node
    await waitFor(() => rec2.views().every((v) => v !== null), 5_000, "first snapshots on the restarted node");

    // New sessions through and attached to the restarted node join, and stay past one TTL (checked below).
    const fresh = await attachedSession("fresh", c2, c2, [ROOMS[0], ROOMS[2]]);
    const freshAt = Date.now();

    for (const v of old) await waitLeaves(rec, watchersOf(rec, v.rooms), [v.cid], 10_000);
    const ghostMs = Math.max(...old.flatMap((v) => watchersOf(rec, v.rooms).flatMap((i) => transitionsOf(rec, i, v.cid, t0).filter((m) => m.eventKind === "left").map((m) => m.receivedAtMs - t0))));
    console.log(`F-N4 ghost detection: last leave ${ghostMs} ms after kill -9 (bound TTL ${TTL} + reaper ${REAPER_MS} + slack ${SLACK_MS})`);
    expect(ghostMs).toBeLessThanOrEqual(TTL + REAPER_MS + SLACK_MS);

    // Fencing: the old ids are refused on the restarted node; a reclaim makes a new session.
    const o1 = old[0]!;
    const onC2 = nodeClient(c2.rpcUrl, o1.token).client;
    const hbErr = await onC2.heartbeat({ sessionId: o1.sid }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(hbErr?.code).toBe(Code.NotFound);
    const rebound = await attachSession({ rpcUrl: c2.rpcUrl, token: o1.token }, o1.sid, ROOMS[0]).then(() => undefined, (e: unknown) => String(e));
    expect(rebound).toMatch(/failed: 5 /); // NotFound
    const reclaim = await onC2.join({ room: ROOMS[0], sessionId: o1.sid, resumeSecret: o1.secret });
    expect(reclaim.resumed).toBe(false);
    expect(reclaim.session!.connectionId).not.toBe(o1.cid);
    await onC2.leave({ sessionId: reclaim.session!.sessionId, room: ROOMS[0] });

    const all = [...rec.watchers.map((w) => ({ r: rec, i: w.index })), ...rec2.watchers.map((w) => ({ r: rec2, i: w.index }))];
    await waitFor(
      () => all.every(({ r, i }) => !fresh.rooms.includes(r.watchers[i]!.room) || r.joinsFor(fresh.cid)[i] === 1),
      5_000,
      "every watcher saw the new session join",
    );
    await sleep(freshAt + TTL + 500 - Date.now());
    await rec.waitConverged(truth, 5_000);
    await rec2.waitConverged(truth, 5_000);
    const t = await truth();
    expect(t.get(ROOMS[0])!.users).toEqual({ fresh: [fresh.cid], stay: [stay.cid] });
    expect(t.get(ROOMS[1])!.users).toEqual({ stay: [stay.cid] });
    expect(t.get(ROOMS[2])!.users).toEqual({ fresh: [fresh.cid], stay: [stay.cid] });

    // No join of an old connection after the kill, on any watcher; one leave each; nothing else left.
    for (const v of old) {
      for (const { r, i } of all) {
        expect(transitionsOf(r, i, v.cid, t0).filter((m) => m.eventKind === "joined"), `watcher ${i} joins of ${v.cid}`).toEqual([]);
        for (const view of [r.views()[i]]) expect(JSON.stringify(view)).not.toContain(v.cid);
      }
    }
    expect(leavesSince(rec, t0)).toEqual(
      rec.watchers.map((w) => [...old.filter((v) => v.rooms.includes(w.room)).map((v) => `${v.cid}:TIMEOUT`), ...(w.room === ROOMS[0] ? [`${reclaim.session!.connectionId}:LEFT`] : [])].sort()),
    );
    expect([...rec.violations().flat(), ...rec2.violations().flat()]).toEqual([]);
    expect(await waitNoResidue(old.flatMap((v) => [v.sid, v.cid]), 2_000)).toEqual([]);
  });
});
