import { afterEach, describe, expect, it } from "vitest";
import type { NodeProcess } from "../support/node-process.js";
import { waitFor } from "../support/watch-recorder.js";
import { attachStream, cleanup, eventually, joinRooms, metricPerNode, startFaultCluster, waitSnapshots } from "./redis-fault-kit.js";

/*
 * F-P3 (reliability.md §4.3): `CLIENT KILL TYPE pubsub` cuts the pub/sub connection of all three
 * nodes at once while every node has watchers (recorder watchers and attached streams); membership
 * changes are made right after the kill (their messages may be lost) and again after the
 * subscribers are back.
 *
 * Invariant (I3, I4, I7): each node's subscriber reconnects and resubscribes by itself
 * (presence_subscriber_reconnects_total += 1 per node); every affected watcher gets exactly one
 * fresh snapshot (presence_resyncs_total{reason="reconnect"} += its watchers), never a silent
 * partial view; changes made after the reconnect reach every watcher as ordinary events; final
 * views equal GetPresence.
 */

afterEach(cleanup);

const ROOMS = ["/p3/a", "/p3/b"];

describe("F-P3: CLIENT KILL TYPE pubsub", () => {
  it("every subscriber reconnects once, each watcher resyncs once, later events reach everyone", async () => {
    // A long TTL: sessions joined here without a stream or heartbeats must not expire mid-test.
    const { redis, nodes, rec, truth } = await startFaultCluster({ nodes: 3, rooms: ROOMS, env: { PRESENCE_SESSION_TTL_MS: "10000" } });
    const [n0, n1, n2] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const ana = await joinRooms(n0, "ana", [ROOMS[0]!]);
    const bob = await joinRooms(n1, "bob", ROOMS);
    const attached = [attachStream(ana, ROOMS[0]!), attachStream(bob, ROOMS[1]!)];
    await waitSnapshots(attached, 1, 5_000, "attached streams' snapshots");
    await rec.waitConverged(truth);
    const reconnectResyncsBefore = await metricPerNode(nodes, "presence_resyncs_total", 'reason="reconnect"');

    const killed = await redis.cli("CLIENT", "KILL", "TYPE", "pubsub");
    // Changes while the subscribers are down: their messages are lost, the snapshots carry them.
    const cat = await joinRooms(n2, "cat", ROOMS);
    await bob.client.leave({ sessionId: bob.sessionId, room: ROOMS[0]! }, { headers: bob.headers });
    await eventually(async () => (await metricPerNode(nodes, "presence_subscriber_reconnects_total")).every((n) => n === 1), 5_000, "every subscriber reconnected");
    await rec.waitConverged(truth);
    await waitSnapshots(attached, 2, 3_000, "attached streams resynced");
    const eventsBefore = rec.watchers.map((_, i) => rec.watchers[i]!.segments.at(-1)!.recorder.events());

    // Changes after the reconnect arrive as events, with no further snapshot.
    const dan = await joinRooms(n0, "dan", ROOMS);
    await cat.client.leave({ sessionId: cat.sessionId, room: ROOMS[1]! }, { headers: cat.headers });
    await rec.waitConverged(truth);
    await waitFor(() => attached.every((w) => w.recorder.joinsOf(dan.connectionId) === 1), 3_000, "attached streams saw dan join");

    const resyncs = rec.resyncs();
    const reconnectResyncs = (await metricPerNode(nodes, "presence_resyncs_total", 'reason="reconnect"')).map((v, i) => v - reconnectResyncsBefore[i]!);
    const otherResyncs = await Promise.all(["epoch", "gap", "position"].map((r) => metricPerNode(nodes, "presence_resyncs_total", `reason="${r}"`)));
    console.log(`F-P3: killed ${killed}; resyncs per watcher ${resyncs.join(",")} (attached ${attached.map((w) => w.recorder.snapshots() - 1).join(",")}); reconnect resyncs per node ${reconnectResyncs.join("/")}`);

    expect(Number(killed)).toBe(3);
    expect(await metricPerNode(nodes, "presence_subscriber_reconnects_total")).toEqual([1, 1, 1]);
    expect(resyncs).toEqual(rec.watchers.map(() => 1));
    expect(attached.map((w) => w.recorder.snapshots())).toEqual([2, 2]);
    expect(reconnectResyncs).toEqual([3, 3, 2]); // two recorder watchers per node, plus an attached stream on n0 and n1
    expect(otherResyncs.flat().every((n) => n === 0)).toBe(true);
    rec.watchers.forEach((w, i) => {
      expect(w.isLive() && w.errors.length === 0).toBe(true);
      expect(w.segments.at(-1)!.recorder.events()).toBeGreaterThan(eventsBefore[i]!); // dan and cat's leave as events
    });
    expect(rec.joinsFor(dan.connectionId)).toEqual(rec.watchers.map(() => 1));
    expect(rec.leavesFor(cat.connectionId)).toEqual(rec.watchers.map((w) => (w.room === ROOMS[1] ? 1 : 0)));
    expect(rec.violations().flat()).toEqual([]);
    expect(attached.flatMap((w) => w.recorder.violations)).toEqual([]);
    const t = await truth();
    expect(Object.keys(t.get(ROOMS[0]!)!.users).sort()).toEqual(["ana", "cat", "dan"]);
    expect(Object.keys(t.get(ROOMS[1]!)!.users).sort()).toEqual(["bob", "dan"]);
  });
});
