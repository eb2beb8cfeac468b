import { ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { presenceTruth, recordRooms, type ClusterRecorder } from "../support/cluster-recorder.js";
import { scrapeNonZero } from "../support/node-fault-kit.js";
import { startNode, type NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import { startRedisCluster, type RedisInstance } from "../support/redis-harness.js";
import { waitFor } from "../support/watch-recorder.js";
import { cleanup, FAULT_ENV, joinRooms, metricBy, type JoinedSession } from "./redis-fault-kit.js";

/*
 * F-R8 (reliability.md §4.2): a Redis Cluster slot migration during churn. Two nodes on a 3-master
 * cluster; clients join, heartbeat and leave a room without pause while its hash slot moves to
 * another master the way `redis-cli --cluster reshard` moves it (SETSLOT IMPORTING / MIGRATING,
 * MIGRATE key by key with a pause between keys, so calls meet a half-moved slot, then SETSLOT NODE on
 * every master).
 *
 * Invariant (I7, I8): every call succeeds (ioredis follows MOVED and ASK, retries TRYAGAIN); no
 * Redis error is counted on any node (no CROSSSLOT: a script's keys share the room's hash tag);
 * recorder watchers on both nodes see every transition exactly once, with no rule violation, and
 * their views equal GetPresence after the move; the room's keys live on the new master.
 */

afterEach(async () => {
  for (const r of recorders.splice(0)) await r.close();
  await cleanup();
});
const recorders: ClusterRecorder[] = [];

const ENV = { ...FAULT_ENV, PRESENCE_LOG_LEVEL: "info", PRESENCE_SESSION_TTL_MS: "3000", PRESENCE_REDIS_COMMAND_TIMEOUT_MS: "2000" };
const ROOM = "/r8/moving";

/** Moves `slot` from `src` to `dst` key by key, `pauseMs` between keys (redis-cli --cluster reshard's steps). */
async function migrateSlot(all: RedisInstance[], src: RedisInstance, dst: RedisInstance, slot: number, pauseMs: number): Promise<number> {
  const [s, d] = [src.client(), dst.client()];
  const [srcId, dstId] = [String(await s.call("CLUSTER", "MYID")), String(await d.call("CLUSTER", "MYID"))];
  await d.call("CLUSTER", "SETSLOT", slot, "IMPORTING", srcId);
  await s.call("CLUSTER", "SETSLOT", slot, "MIGRATING", dstId);
  let moved = 0;
  for (;;) {
    const keys = (await s.call("CLUSTER", "GETKEYSINSLOT", slot, 1)) as string[];
    if (keys.length === 0) break;
    await s.call("MIGRATE", "127.0.0.1", dst.port, "", 0, 5_000, "KEYS", ...keys);
    moved += keys.length;
    await sleep(pauseMs);
  }
  for (const n of [dst, src, ...all.filter((n) => n !== src && n !== dst)]) await n.client().call("CLUSTER", "SETSLOT", slot, "NODE", dstId);
  return moved;
}

describe("F-R8 Redis Cluster slot migration during churn", () => {
  it("every call succeeds through MOVED/ASK, no Redis error, every transition seen once, views equal the truth", { timeout: 60_000 }, async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    const nodes = await Promise.all([0, 1].map(() => startNode({ ...ENV, PRESENCE_REDIS_CLUSTER: cluster.seeds })));
    const slot = cluster.slotOf(`pr:{r:${ROOM}}:meta`);
    const slots = (await cluster.nodes[0]!.client().call("CLUSTER", "SLOTS")) as [number, number, [string, number, string]][];
    const srcPort = slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
    const src = cluster.nodes.find((n) => n.port === srcPort)!;
    const dst = cluster.nodes.find((n) => n !== src)!;

    const rec = recordRooms(nodes, [ROOM]);
    recorders.push(rec);
    await waitFor(() => rec.views().every((v) => v !== null), 30_000, "first snapshot of every recorder watcher");
    const truth = presenceTruth(nodes[0]!.rpcUrl, [ROOM]);

    // Churn: a new session every 40 ms, alternately on each node, heartbeats of the present ones,
    // and the oldest leaves once four are present.
    const errors: string[] = [];
    const present: JoinedSession[] = [];
    const joined: string[] = [];
    const left: string[] = [];
    let stop = false;
    const churn = (async () => {
      for (let i = 0; !stop; i++) {
        const node = nodes[i % 2] as NodeProcess;
        try {
          const s = await joinRooms(node, `u${i}`, [ROOM]);
          present.push(s);
          joined.push(s.connectionId);
          for (const p of present) await p.client.heartbeat({ sessionId: p.sessionId }, { headers: p.headers });
          if (present.length > 4) {
            const old = present.shift()!;
            await old.client.leave({ sessionId: old.sessionId, room: ROOM }, { headers: old.headers });
            left.push(old.connectionId);
          }
        } catch (e) {
          errors.push(`${i}: ${ConnectError.from(e).message}`);
        }
        await sleep(40);
      }
    })();

    await sleep(500);
    const moved = await migrateSlot(cluster.nodes, src, dst, slot, 100);
    await sleep(1_000); // churn goes on against the new owner
    stop = true;
    await churn;
    await rec.waitConverged(truth, 10_000);
    const t = await truth();
    const resyncs = rec.resyncs();
    const reasons = await Promise.all(nodes.map(async (n) => Object.fromEntries([...(await metricBy(n, "presence_resyncs_total", "reason"))].filter(([, v]) => v > 0))));
    console.log(`F-R8: slot ${slot} moved ${src.port} → ${dst.port} (${moved} keys); ${joined.length} joins, ${left.length} leaves meanwhile; resyncs per watcher ${rec.resyncs().join(",")}, by reason per node ${JSON.stringify(reasons)}`);
    for (const [i, n] of nodes.entries()) for (const l of n.logs().split("\n").filter((l) => l.includes("room version went back"))) console.log(`F-R8 node ${i}: ${l}`);

    expect(errors, errors.length > 0 ? nodes.map((n) => n.logs().split("\n").filter((l) => l.includes("store unavailable")).join("\n")).join("\n") : "").toEqual([]);
    // The room's sharded channel moved with its slot: each node's subscription is reset, and its
    // watcher resyncs once (`reconnect`); a position check may add one under load. Nothing else (a
    // position read overtaken by a live event once looked like a rollback).
    expect(resyncs.every((n) => n <= 2), `resyncs per watcher ${resyncs.join(",")}`).toBe(true);
    expect(reasons.map((r) => Object.keys(r).filter((k) => k !== "reconnect" && k !== "position")), "resync reasons per node").toEqual([[], []]);
    expect(moved).toBeGreaterThan(0);
    for (const n of nodes) expect(await scrapeNonZero(n.adminUrl, "presence_redis_errors_total"), n.adminUrl).toEqual([]);
    expect(Object.values(t.get(ROOM)!.users).flat().sort()).toEqual(present.map((p) => p.connectionId).sort());
    // Each transition seen exactly once by a watcher that never resynced; at most once by one that
    // did (the snapshot may show a join or a leave made meanwhile instead of its event).
    const seen = (counts: number[]) => counts.map((n, i) => (resyncs[i] === 0 ? n === 1 : n <= 1));
    for (const cid of joined) expect(seen(rec.joinsFor(cid)), `joins of ${cid}: ${rec.joinsFor(cid).join(",")}`).toEqual(rec.watchers.map(() => true));
    for (const cid of left) expect(seen(rec.leavesFor(cid)), `leaves of ${cid}: ${rec.leavesFor(cid).join(",")}`).toEqual(rec.watchers.map(() => true));
    expect(rec.violations().flat()).toEqual([]);
    expect(rec.watchers.every((w) => w.isLive())).toBe(true);
    expect(await dst.cli("EXISTS", `pr:{r:${ROOM}}:meta`)).toBe("1");
    expect(await src.cli("CLUSTER", "COUNTKEYSINSLOT", String(slot))).toBe("0");
  });
});
