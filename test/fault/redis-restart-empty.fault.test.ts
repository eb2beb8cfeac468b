import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import { attachStream, cleanup, connectionsIn, eventually, heartbeatLoop, joinRooms, metric, metricBy, metricPerNode, startFaultCluster, waitSnapshots } from "./redis-fault-kit.js";

/*
 * F-R1 (reliability.md §4.2): Redis is killed and restarted empty (no persistence) while sessions
 * are live on three nodes: attached sessions (WatchPresence naming the session, refreshed by their
 * node every 150 ms) and a heartbeat-bound session (a client heartbeating every 200 ms); TTL 2 s. One
 * attached stream is closed during the outage (reconnect grace 0).
 *
 * Invariant (I2, I3, I4): every live session is present again within one refresh / heartbeat
 * interval plus reconnect slack (the nodes re-assert what they know, same connection ids, in a new
 * epoch); every watcher — recorder watchers on each node and the attached streams — gets exactly
 * one fresh snapshot and no rule violation; final views equal GetPresence; the session closed
 * during the outage never comes back (no ghost). Counters: presence_reasserted_sessions_total and
 * presence_subscriber_reconnects_total move; presence_resyncs_total counts one per watcher.
 */

afterEach(cleanup);

// TTL 2 s (not 0.8 s) so that a loaded CI machine cannot expire a session between its refreshes.
const ENV = { PRESENCE_SESSION_TTL_MS: "2000", PRESENCE_RECONNECT_GRACE_MS: "0" };

describe("F-R1: Redis restarted without persistence", () => {
  it("live sessions re-appear within one interval, one resync per watcher, no ghosts", async () => {
    const rooms = ["/doc/a", "/doc/b"];
    const { redis, nodes, rec, truth } = await startFaultCluster({ nodes: 3, rooms, env: ENV });
    const [n0, n1, n2] = nodes as [NodeProcess, NodeProcess, NodeProcess];

    // Each session is bound (stream or heartbeat loop) right after its join.
    const joinAttached = async (node: NodeProcess, user: string, rooms: string[], watch: string) => {
      const s = await joinRooms(node, user, rooms);
      return { s, w: attachStream(s, watch) };
    };
    const { s: ana, w: wAna } = await joinAttached(n0, "ana", ["/doc/a"], "/doc/a");
    const { s: bob, w: wBob } = await joinAttached(n1, "bob", ["/doc/a", "/doc/b"], "/doc/b"); // one stream, two rooms
    const { s: eve, w: wEve } = await joinAttached(n2, "eve", ["/doc/a"], "/doc/a");
    const { s: cat, w: doomed } = await joinAttached(n2, "cat", ["/doc/b"], "/doc/b"); // closes during the outage
    const dan = await joinRooms(n2, "dan", ["/doc/a", "/doc/b"]); // heartbeat-bound
    const beats = heartbeatLoop(dan, 200);
    const attached = [wAna, wBob, wEve];
    await waitSnapshots([...attached, doomed], 1, 5_000, "attached streams' snapshots");
    await rec.waitConverged(truth);
    const live = [ana, bob, eve, dan].map((s) => s.connectionId);
    const before = await truth();
    expect(connectionsIn(before, "/doc/a")).toEqual([ana, bob, eve, dan].map((s) => s.connectionId).sort());
    expect(connectionsIn(before, "/doc/b")).toEqual([bob, cat, dan].map((s) => s.connectionId).sort());
    const epochsBefore = rooms.map((r) => before.get(r)!.epoch);
    const watchersOnN2 = await metric(n2, "presence_watchers", 'detail="full"');

    // Outage: Redis dies with all its data; cat's stream ends while it is down.
    await redis.kill9();
    doomed.cancel();
    await doomed.ended;
    await eventually(async () => (await metric(n2, "presence_watchers", 'detail="full"')) === watchersOnN2 - 1, 2_000, "n2 to drop cat's stream");
    await redis.restart();
    const restartedAt = Date.now();

    // Re-appearance: every live session is back (same connection ids), cat is not.
    await eventually(
      async () => {
        const t = await truth().catch(() => null);
        const a = t ? connectionsIn(t, "/doc/a") : [];
        const b = t ? connectionsIn(t, "/doc/b") : [];
        return [ana, bob, eve, dan].every((s) => a.includes(s.connectionId)) && [bob, dan].every((s) => b.includes(s.connectionId));
      },
      3_000,
      "live sessions re-asserted",
    );
    const reappearMs = Date.now() - restartedAt;
    await rec.waitConverged(truth);
    await waitSnapshots(attached, 2, 3_000, "attached streams resynced");

    // Quiet for several refresh and reaper rounds: nothing resurrects cat, nothing else changes.
    await sleep(1_000);
    await rec.waitConverged(truth);
    const after = await truth();
    expect(connectionsIn(after, "/doc/a")).toEqual([ana, bob, eve, dan].map((s) => s.connectionId).sort());
    expect(connectionsIn(after, "/doc/b")).toEqual([bob, dan].map((s) => s.connectionId).sort());
    rooms.forEach((r, i) => expect(after.get(r)!.epoch).not.toBe(epochsBefore[i]));

    const resyncs = rec.resyncs();
    const attachedResyncs = attached.map((w) => w.recorder.snapshots() - 1);
    const reasons = (await Promise.all(nodes.map((n) => metricBy(n, "presence_resyncs_total", "reason")))).map((m) => Object.fromEntries([...m].filter(([, v]) => v > 0)));
    const reasserted = await metricPerNode(nodes, "presence_reasserted_sessions_total");
    const reconnects = await metricPerNode(nodes, "presence_subscriber_reconnects_total");
    console.log(
      `F-R1: re-appeared in ${reappearMs} ms; resyncs per watcher ${resyncs.join(",")} (attached ${attachedResyncs.join(",")}); ` +
        `by reason per node ${JSON.stringify(reasons)}; reasserted ${reasserted.join("/")}; ` +
        `subscriber reconnects ${reconnects.join("/")}; heartbeats ok ${beats.ok()}, failed ${[...beats.errors].map(([c, n]) => `${c}:${n}`).join(",")}`,
    );

    expect(beats.errors.get(Code.NotFound) ?? 0).toBe(0); // a heartbeat racing the re-assertion is retried, not refused
    expect(rec.watchers.every((w) => w.isLive() && w.errors.length === 0)).toBe(true);
    expect(attached.every((w) => !w.isEnded())).toBe(true);
    expect(rec.violations().flat()).toEqual([]);
    expect(attached.flatMap((w) => w.recorder.violations)).toEqual([]);
    expect(resyncs).toEqual(rec.watchers.map(() => 1));
    expect(attachedResyncs).toEqual([1, 1, 1]);
    expect(rec.views().some((v) => Object.values(v!.users).flat().includes(cat.connectionId))).toBe(false);
    for (const cid of live) expect(rec.leavesFor(cid)).toEqual(rec.watchers.map(() => 0));
    expect(reappearMs).toBeLessThan(1_500); // one refresh (150 ms) / heartbeat (200 ms) + reconnect backoff + slack
    expect(reasserted.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(4);
    expect(reconnects).toEqual([1, 1, 1]);
  });
});
