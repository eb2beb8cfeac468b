import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import { LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { connectClient, startWatch, type PresenceClient, type WatchHandle } from "../support/clients.js";
import { presenceTruth, recordRooms, type ClusterRecorder } from "../support/cluster-recorder.js";
import { closeAll, messagesOf, nodeClient, scrapeNonZero, scrapeSum, tokenOf } from "../support/node-fault-kit.js";
import { startNode, stopAllNodes, type NodeProcess } from "../support/node-process.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { waitFor } from "../support/watch-recorder.js";

/*
 * Three nodes, one Redis (design §5; reliability.md §3 I3/I4): three server processes share one
 * store, and a watcher of every room on every node sees the joins, leaves, typing and cursors made
 * through the others. The scenario mixes users with tokens, anonymous viewers (counted, one of them
 * on two nodes under one anonymous id), a user with two connections on two nodes, a session joined
 * on one node and used (second room, Heartbeat, Leave, Navigate) through the others, a typing
 * indicator and a cursor crossing nodes. Invariant: every watcher's final view equals GetPresence
 * (asked of each node), each watcher saw exactly the joins and leaves the scenario made in its room
 * (first/last-of-user flags checked by the recorder), no recorder violation, no resync.
 *
 * The same scenario runs on a 3-master Redis Cluster, with one room on each master (checked with
 * the harness's slotOf and CLUSTER SLOTS): every call succeeds and `presence_redis_errors_total`
 * stays 0 on every node (no CROSSSLOT, MOVED or other error). Timings: the TTL (10 s) outlives the
 * scenario, so no session expires here; node faults are in node-crash / node-drain.
 */

const ENV = {
  PRESENCE_SESSION_TTL_MS: "10000",
  PRESENCE_HEARTBEAT_INTERVAL_MS: "2000",
  PRESENCE_NODE_REFRESH_MS: "2000",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_RECONNECT_GRACE_MS: "500",
  PRESENCE_POSITION_CHECK_MS: "500",
  PRESENCE_SHUTDOWN_DEADLINE_MS: "2000",
  PRESENCE_CURSOR_FLUSH_MS: "20",
};

const raw: { watch: WatchHandle; client: PresenceClient }[] = [];
const recorders: ClusterRecorder[] = [];
afterEach(async () => {
  await Promise.all(recorders.splice(0).map((r) => r.close()));
  await Promise.all(
    raw.splice(0).map(async (r) => {
      await r.watch.stop();
      r.client.close();
    }),
  );
  closeAll();
  await stopAllNodes();
});

// The cluster's creation (about 2 s of redis-cli waiting) overlaps the standalone case.
let clusterStart: Promise<RedisClusterInstance> | undefined;
beforeAll(() => {
  clusterStart = startRedisCluster({ masters: 3 });
  clusterStart.catch(() => {}); // reported by the cluster case
});
afterAll(async () => {
  await (await clusterStart?.catch(() => undefined))?.stop();
});

const startThree = (env: Record<string, string>) => Promise.all([0, 1, 2].map(() => startNode({ ...ENV, ...env })));

/** Membership transitions the scenario makes: room → connection id → [joins, leaves]. */
type Expected = Map<string, Map<string, [number, number]>>;

/**
 * The scenario on three nodes sharing one store, with one room per entry of `rooms`. Returns the
 * recorder (closed by afterEach) for store-specific checks.
 */
async function threeNodeScenario(nodes: NodeProcess[], rooms: [string, string, string]) {
  const [r0, r1, r2] = rooms;
  const [n0, n1, n2] = nodes as [NodeProcess, NodeProcess, NodeProcess];
  const rec = recordRooms(nodes, rooms);
  recorders.push(rec);
  await waitFor(() => rec.views().every((v) => v !== null), 10_000, "every watcher's first snapshot");

  // Raw watches of r0, one per node, to read typing and cursor contents.
  const typingWatches = nodes.map((n) => {
    const client = connectClient(n.rpcUrl, undefined, { httpVersion: "2" });
    const watch = startWatch(client, { room: r0 });
    raw.push({ watch, client });
    return watch;
  });
  await Promise.all(typingWatches.map((w) => w.waitFor((m) => m.message.case === "snapshot")));

  const [anaT, bobT, carlT] = await Promise.all(["ana", "bob", "carl"].map(tokenOf));
  const on = (n: NodeProcess, token?: string) => nodeClient(n.rpcUrl, token).client;
  const expected: Expected = new Map(rooms.map((r) => [r, new Map()]));
  const note = (room: string, cid: string, kind: 0 | 1) => {
    const m = expected.get(room)!;
    const e = m.get(cid) ?? [0, 0];
    e[kind]++;
    m.set(cid, e);
  };

  // ana: one session, r0 through n0, r1 through n1 (the same session, added on another node).
  const ana = (await on(n0, anaT).join({ room: r0, metadata: { color: "red" } })).session!;
  note(r0, ana.connectionId, 0);
  const anaR1 = await on(n1, anaT).join({ room: r1, sessionId: ana.sessionId });
  expect(anaR1.session!.connectionId).toBe(ana.connectionId);
  note(r1, ana.connectionId, 0);
  // bob: two connections (two sessions) on two nodes; the second is also in r2 through n2.
  const bob1 = (await on(n0, bobT).join({ room: r0 })).session!;
  const bob2 = (await on(n1, bobT).join({ room: r0 })).session!;
  await on(n2, bobT).join({ room: r2, sessionId: bob2.sessionId });
  note(r0, bob1.connectionId, 0);
  note(r0, bob2.connectionId, 0);
  note(r2, bob2.connectionId, 0);
  // carl in r2 through n2.
  const carl = (await on(n2, carlT).join({ room: r2 })).session!;
  note(r2, carl.connectionId, 0);
  // Anonymous: one viewer ("guest-1") with two tabs on two nodes, and another viewer in r1.
  const guestA = (await on(n2).join({ room: r0, anonymousId: "guest-1" })).session!;
  await on(n1).join({ room: r0, anonymousId: "guest-1" });
  await on(n0).join({ room: r1 });

  const truth = presenceTruth(n0.rpcUrl, rooms);
  await rec.waitConverged(truth, 5_000);
  const mid = await truth();
  expect(mid.get(r0)!.counts).toEqual({ users: 2, connections: 5, anonymous: 1 });
  expect(mid.get(r0)!.users).toEqual({ ana: [ana.connectionId], bob: [bob1.connectionId, bob2.connectionId].sort() });
  expect(mid.get(r1)!.counts).toEqual({ users: 1, connections: 2, anonymous: 1 });
  expect(mid.get(r2)!.counts).toEqual({ users: 2, connections: 2, anonymous: 0 });

  // Heartbeats on nodes other than the one that created the session.
  for (const [n, t, s] of [[n2, anaT, ana], [n2, bobT, bob1], [n0, bobT, bob2], [n1, carlT, carl]] as const) {
    expect((await on(n, t).heartbeat({ sessionId: s.sessionId })).lease!.ttlMs).toBe(10_000n);
  }

  // Typing through n2 and a cursor through n1, for a session created on n0: every node's watcher sees both.
  await on(n2, anaT).setTyping({ sessionId: ana.sessionId, room: r0, typing: true });
  const typing = (want: boolean) => (m: WatchPresenceResponse) =>
    m.message.case === "typing" && m.message.value.state?.userId === "ana" && m.message.value.state.typing === want;
  await Promise.all(typingWatches.map((w) => w.waitFor(typing(true), { timeoutMs: 5_000 })));
  await on(n1, anaT).updateCursor({ sessionId: ana.sessionId, room: r0, position: { x: 12, y: 34 } });
  const cursor = (m: WatchPresenceResponse) =>
    m.message.case === "cursors" && m.message.value.cursors.some((c) => c.connectionId === ana.connectionId && c.position?.x === 12 && c.position.y === 34);
  await Promise.all(typingWatches.map((w) => w.waitFor(cursor, { timeoutMs: 5_000 })));
  await on(n0, anaT).setTyping({ sessionId: ana.sessionId, room: r0, typing: false });
  await Promise.all(typingWatches.map((w) => w.waitFor(typing(false), { timeoutMs: 5_000 })));

  // Leaves through other nodes: bob's second connection first (not his last), then his first.
  expect((await on(n2, bobT).leave({ sessionId: bob2.sessionId, room: r0 })).left).toBe(true);
  note(r0, bob2.connectionId, 1);
  expect((await on(n1, bobT).leave({ sessionId: bob1.sessionId, room: r0 })).left).toBe(true);
  note(r0, bob1.connectionId, 1);
  // ana navigates r1 → r2 through n2 (one leave, one join, same connection id).
  await on(n2, anaT).navigate({ sessionId: ana.sessionId, fromRoom: r1, toRoom: r2 });
  note(r1, ana.connectionId, 1);
  note(r2, ana.connectionId, 0);
  expect((await on(n0, carlT).leave({ sessionId: carl.sessionId, room: r2 })).left).toBe(true);
  note(r2, carl.connectionId, 1);
  expect((await on(n0).leave({ sessionId: guestA.sessionId, room: r0 })).left).toBe(true);

  await rec.waitConverged(truth, 5_000);
  const end = await truth();
  expect(end.get(r0)!.counts).toEqual({ users: 1, connections: 2, anonymous: 1 });
  expect(end.get(r1)!.counts).toEqual({ users: 0, connections: 1, anonymous: 1 });
  expect(end.get(r2)!.users).toEqual({ ana: [ana.connectionId], bob: [bob2.connectionId] });
  // Every node answers the same truth.
  for (const n of [n1, n2]) expect(await presenceTruth(n.rpcUrl, rooms)()).toEqual(end);

  // Per watcher, exactly the transitions made in its room; no TIMEOUT anywhere; no resync.
  rec.watchers.forEach((w, i) => {
    const want = expected.get(w.room)!;
    for (const cid of [ana, bob1, bob2, carl].map((s) => s.connectionId)) {
      const [joins, leaves] = want.get(cid) ?? [0, 0];
      expect([rec.joinsFor(cid)[i], rec.leavesFor(cid)[i]], `watcher ${i} (${w.room}) for ${cid}`).toEqual([joins, leaves]);
    }
    expect(messagesOf(rec, i).filter((m) => m.eventKind === "left" && m.reason !== LeaveReason.LEFT)).toEqual([]);
    expect(w.errors).toEqual([]);
    expect(w.isLive()).toBe(true);
  });
  expect(rec.violations().flat()).toEqual([]);
  expect(rec.resyncs()).toEqual(rec.watchers.map(() => 0));
  return rec;
}

describe("three nodes, one standalone Redis (multi-node)", () => {
  let redis: RedisInstance;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("watchers on every node see the joins, leaves, typing and cursors made on the others; views equal the truth", async () => {
    const nodes = await startThree({ PRESENCE_REDIS_URL: redis.url });
    await threeNodeScenario(nodes, ["/doc/a", "/doc/b", "/doc/c"]);
    for (const n of nodes) expect(await scrapeNonZero(n.adminUrl, "presence_redis_errors_total")).toEqual([]);
  });
});

describe("three nodes, one 3-master Redis Cluster (multi-node)", () => {
  let cluster: RedisClusterInstance;
  beforeAll(async () => {
    cluster = await clusterStart!;
  });

  it("rooms on different masters: events flow between nodes, no Redis error (CROSSSLOT or other) on any node", async () => {
    // Pick one room per master: a room's keys all hash to `{r:<room>}` (keys.ts).
    const slots = (await cluster.nodes[0]!.client().call("CLUSTER", "SLOTS")) as [number, number, [string, number, string]][];
    const masterOf = (room: string) => {
      const slot = cluster.slotOf(`pr:{r:${room}}:meta`);
      return slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
    };
    const byMaster = new Map<number, string>();
    for (let i = 0; byMaster.size < 3; i++) {
      const room = `/page/${i}`;
      if (!byMaster.has(masterOf(room))) byMaster.set(masterOf(room), room);
    }
    const rooms = [...byMaster.values()] as [string, string, string];
    expect(new Set(rooms.map(masterOf))).toEqual(new Set(cluster.nodes.map((n) => n.port)));

    const nodes = await startThree({ PRESENCE_REDIS_CLUSTER: cluster.seeds });
    const before = await Promise.all(nodes.map((n) => scrapeSum(n.adminUrl, "presence_events_published_total")));
    await threeNodeScenario(nodes, rooms);
    for (const n of nodes) expect(await scrapeNonZero(n.adminUrl, "presence_redis_errors_total"), n.adminUrl).toEqual([]);
    // Each node published some of the events (the calls were spread over the nodes).
    const after = await Promise.all(nodes.map((n) => scrapeSum(n.adminUrl, "presence_events_published_total")));
    after.forEach((a, i) => expect(a, `node ${i} published`).toBeGreaterThan(before[i]!));
    // The room keys live on the master that owns their slot.
    for (const room of rooms) {
      const owner = cluster.nodes.find((n) => n.port === masterOf(room))!;
      expect(await owner.cli("EXISTS", `pr:{r:${room}}:meta`)).toBe("1");
    }
  });
});
