import { afterEach, describe, expect, it } from "vitest";
import { Activity } from "../../gen/presence/v1/types_pb.js";
import type { NodeProcess } from "../support/node-process.js";
import { attachStream, cleanup, eventually, increases, joinRooms, metricBy, startFaultCluster } from "./redis-fault-kit.js";

/*
 * F-R5 (reliability.md §4.2): `SCRIPT FLUSH` empties Redis' script cache between calls while two
 * nodes serve sessions, watchers and their background loops (refresh, reaper, position check).
 *
 * Invariant (I7, I8): no client-visible error — every call that runs a script (join, heartbeat with
 * an activity change, typing, cursor, status, navigate, leave) succeeds right after the flush; the
 * NOSCRIPT answers are turned into EVAL transparently and counted in
 * presence_redis_script_reloads_total{script} (one EVAL per counted reload in Redis' commandstats,
 * then EVALSHA again: a script reloaded after the last flush is never reloaded again); no Redis
 * error is counted; watchers see no resync and converge to GetPresence.
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

/** Each node's `presence_redis_script_reloads_total` by script. */
const reloadsByScript = (nodes: NodeProcess[]) => Promise.all(nodes.map((n) => metricBy(n, "presence_redis_script_reloads_total", "script")));
const errorsByKind = (nodes: NodeProcess[]) => Promise.all(nodes.map((n) => metricBy(n, "presence_redis_errors_total", "kind")));
/** Per node, the scripts reloaded between two readings of {@link reloadsByScript}, with their counts. */
const reloadedBetween = (before: Map<string, number>[], after: Map<string, number>[]) => increases(before, after).map((o) => new Map(Object.entries(o)));
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const show = (m: Map<string, number>) => [...m].map(([s, n]) => `${s}×${n}`).join(" ") || "none";

describe("F-R5: SCRIPT FLUSH between calls", () => {
  it("no client-visible error, scripts reload transparently (counted), no resync", async () => {
    // Long TTL and position check: no session is reaped and no room touched during the test, so the
    // scripts run after the flush are the same in both rounds. The background loops that run scripts
    // (the reaper's claim, the node refresh, the away sweep) run every 100 ms. Redis calls get the
    // default command timeout, not the fault kit's 300 ms: on a loaded machine a call that slow
    // would fail as a timeout, which is not what this test is about.
    const env = {
      PRESENCE_REDIS_COMMAND_TIMEOUT_MS: "2000",
      PRESENCE_SESSION_TTL_MS: "10000",
      PRESENCE_POSITION_CHECK_MS: "60000",
      PRESENCE_REAPER_INTERVAL_MS: "100",
      PRESENCE_NODE_REFRESH_MS: "100",
      PRESENCE_AWAY_CHECK_MS: "100",
    };
    const settle = () => new Promise((r) => setTimeout(r, 500));
    const { redis, nodes, rec, truth } = await startFaultCluster({ nodes: 2, rooms: ROOMS, env });
    const [n0, n1] = nodes as [NodeProcess, NodeProcess];
    const keeper = await joinRooms(n0, "keeper", ROOMS);
    const bound = attachStream(keeper, ROOMS[0]!); // a node refresh runs through the flush too
    expect([...(await exercise(n0, "warm0")), ...(await exercise(n1, "warm1"))]).toEqual([]);
    await rec.waitConverged(truth);

    const before = await reloadsByScript(nodes);
    const errorsBefore = await errorsByKind(nodes);
    // One EVAL per counted reload, compared since Redis and the nodes started (each script's first
    // use by a node is a NOSCRIPT too, so counted): a reload is counted just before its EVAL is sent,
    // so wait for EVALs in flight; no baseline is taken, which a reload in flight would skew.
    const evalsMatchReloads = () =>
      eventually(async () => {
        const counted = (await reloadsByScript(nodes)).reduce((sum, m) => sum + total(m), 0);
        return (await evalCalls(redis.cli)) === counted;
      }, 10_000, "one EVAL per counted reload");
    // The cache is shared: flush before each node's round, so that both meet NOSCRIPT.
    expect(await redis.cli("SCRIPT", "FLUSH")).toBe("OK");
    const errors = await exercise(n0, "ana");
    expect(await redis.cli("SCRIPT", "FLUSH")).toBe("OK");
    // Read right after the last flush: whatever a node reloads from here on, it reloads for the last time.
    const afterFlush = await reloadsByScript(nodes);
    errors.push(...(await exercise(n1, "bob")));
    await rec.waitConverged(truth);
    await settle();
    await evalsMatchReloads();
    const firstRound = await reloadsByScript(nodes);
    const reloads = reloadedBetween(before, firstRound);
    const sinceLastFlush = new Set(reloadedBetween(afterFlush, firstRound).flatMap((m) => [...m.keys()]));

    // Once reloaded, a script runs by EVALSHA again: another round reloads none of them. (A script
    // whose first run since the flush falls in this round, e.g. a new slow background loop, may
    // reload now, once, and is listed.)
    expect([...(await exercise(n0, "cat")), ...(await exercise(n1, "dan"))]).toEqual([]);
    await rec.waitConverged(truth);
    await settle();
    await evalsMatchReloads();
    const later = reloadedBetween(firstRound, await reloadsByScript(nodes));
    console.log(`F-R5: reloads after the flushes per node: ${reloads.map(show).join(" | ")}; later round: ${later.map(show).join(" | ")}`);

    expect(errors).toEqual([]);
    expect(reloads.map((m) => total(m) > 0)).toEqual([true, true]);
    expect(sinceLastFlush.size).toBeGreaterThan(0);
    expect(later.flatMap((m) => [...m.keys()].filter((s) => sinceLastFlush.has(s)))).toEqual([]);
    expect(increases(errorsBefore, await errorsByKind(nodes)), "Redis errors per node by kind").toEqual([{}, {}]);
    expect(rec.resyncs()).toEqual(rec.watchers.map(() => 0));
    expect(rec.violations().flat()).toEqual([]);
    expect(bound.isEnded()).toBe(false);
    expect(bound.recorder.snapshots()).toBe(1);
    expect(bound.recorder.violations).toEqual([]);
  });
});
