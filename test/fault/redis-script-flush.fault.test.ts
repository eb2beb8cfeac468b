import { afterEach, describe, expect, it } from "vitest";
import { Activity } from "../../gen/presence/v1/types_pb.js";
import type { NodeProcess } from "../support/node-process.js";
import { attachStream, cleanup, joinRooms, metricPerNode, startFaultCluster } from "./redis-fault-kit.js";

/*
 * F-R5 (reliability.md §4.2): `SCRIPT FLUSH` empties Redis' script cache between calls while two
 * nodes serve sessions, watchers and their background loops (refresh, reaper, position check).
 *
 * Invariant (I7, I8): no client-visible error — every call that runs a script (join, heartbeat with
 * an activity change, typing, cursor, status, navigate, leave) succeeds right after the flush; the
 * NOSCRIPT answers are turned into EVAL transparently and counted in
 * presence_redis_script_reloads_total (one EVAL per reload, then EVALSHA again: Redis'
 * commandstats count no further EVAL); no Redis error is counted; watchers see no resync and
 * converge to GetPresence.
 */

afterEach(cleanup);

const ROOMS = ["/r5/a", "/r5/b"];

/** Every script-backed call a client can make, once, on `node`; returns the errors. */
async function exercise(node: NodeProcess, user: string): Promise<unknown[]> {
  const errors: unknown[] = [];
  const step = async (p: () => Promise<unknown>) => {
    try {
      await p();
    } catch (e) {
      errors.push(e);
    }
  };
  const s = await joinRooms(node, user, [ROOMS[0]!]);
  const h = { headers: s.headers };
  await step(() => s.client.heartbeat({ sessionId: s.sessionId, activity: Activity.AWAY }, h));
  await step(() => s.client.setTyping({ sessionId: s.sessionId, room: ROOMS[0]!, typing: true }, h));
  await step(() => s.client.updateCursor({ sessionId: s.sessionId, room: ROOMS[0]!, position: { x: 1, y: 2 } }, h));
  await step(() => s.client.setStatus({ sessionId: s.sessionId, customStatus: "flushing" }, h));
  await step(() => s.client.navigate({ sessionId: s.sessionId, fromRoom: ROOMS[0]!, toRoom: ROOMS[1]! }, h));
  await step(() => s.client.join({ room: ROOMS[0]!, sessionId: s.sessionId }, h));
  await step(() => s.client.leave({ sessionId: s.sessionId, room: ROOMS[1]! }, h));
  return errors;
}

async function evalCalls(cli: (...a: string[]) => Promise<string>): Promise<number> {
  const m = /cmdstat_eval:calls=(\d+)/.exec(await cli("INFO", "commandstats"));
  return Number(m?.[1] ?? 0);
}

describe("F-R5: SCRIPT FLUSH between calls", () => {
  it("no client-visible error, scripts reload transparently (counted), no resync", async () => {
    // Long TTL and position check: no session is reaped and no room touched during the test, so the
    // scripts run after the flush are the same in both rounds. The background loops that do run
    // scripts (the reaper's claim, the node refresh) run every 100 ms, and each round is followed by
    // a pause of several of their periods: every background reload has happened before the counters
    // are read, so a loop cannot reload between reading the nodes' metric and Redis' commandstats.
    const env = { PRESENCE_SESSION_TTL_MS: "10000", PRESENCE_POSITION_CHECK_MS: "60000", PRESENCE_REAPER_INTERVAL_MS: "100", PRESENCE_NODE_REFRESH_MS: "100" };
    const settle = () => new Promise((r) => setTimeout(r, 500));
    const { redis, nodes, rec, truth } = await startFaultCluster({ nodes: 2, rooms: ROOMS, env });
    const [n0, n1] = nodes as [NodeProcess, NodeProcess];
    const keeper = await joinRooms(n0, "keeper", ROOMS);
    const bound = attachStream(keeper, ROOMS[0]!); // a node refresh runs through the flush too
    expect([...(await exercise(n0, "warm0")), ...(await exercise(n1, "warm1"))]).toEqual([]);
    await rec.waitConverged(truth);

    const reloadsBefore = await metricPerNode(nodes, "presence_redis_script_reloads_total");
    const errorsBefore = await metricPerNode(nodes, "presence_redis_errors_total");
    const evalBefore = await evalCalls(redis.cli);
    // The cache is shared: flush before each node's round, so that both meet NOSCRIPT.
    expect(await redis.cli("SCRIPT", "FLUSH")).toBe("OK");
    const errors = await exercise(n0, "ana");
    expect(await redis.cli("SCRIPT", "FLUSH")).toBe("OK");
    errors.push(...(await exercise(n1, "bob")));
    await rec.waitConverged(truth);
    await settle();
    const reloads = (await metricPerNode(nodes, "presence_redis_script_reloads_total")).map((v, i) => v - reloadsBefore[i]!);
    const evals = (await evalCalls(redis.cli)) - evalBefore;

    // Once reloaded, scripts run by EVALSHA again: another round adds no EVAL.
    const evalSettled = await evalCalls(redis.cli);
    expect([...(await exercise(n0, "cat")), ...(await exercise(n1, "dan"))]).toEqual([]);
    await rec.waitConverged(truth);
    await settle();
    const evalsLater = (await evalCalls(redis.cli)) - evalSettled;
    const reloadsLater = (await metricPerNode(nodes, "presence_redis_script_reloads_total")).map((v, i) => v - reloadsBefore[i]! - reloads[i]!);
    console.log(`F-R5: reloads after the flush per node ${reloads.join("/")} (EVAL calls ${evals}); later round: EVAL ${evalsLater}, reloads ${reloadsLater.join("/")}`);

    expect(errors).toEqual([]);
    expect(reloads.every((n) => n > 0)).toBe(true);
    expect(evals).toBe(reloads[0]! + reloads[1]!); // one EVAL per counted reload
    expect(evalsLater).toBe(0);
    expect(reloadsLater).toEqual([0, 0]);
    expect(await metricPerNode(nodes, "presence_redis_errors_total")).toEqual(errorsBefore);
    expect(rec.resyncs()).toEqual(rec.watchers.map(() => 0));
    expect(rec.violations().flat()).toEqual([]);
    expect(bound.isEnded()).toBe(false);
    expect(bound.recorder.snapshots()).toBe(1);
    expect(bound.recorder.violations).toEqual([]);
  });
});
