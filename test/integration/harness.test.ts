import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { presenceTruth, recordRooms, type ClusterRecorder } from "../support/cluster-recorder.js";
import { startNode, stopAllNodes } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import { startRedis, startRedisCluster, stopAllRedis } from "../support/redis-harness.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { waitFor } from "../support/watch-recorder.js";

/*
 * The fault-test harness itself (reliability.md §5): real redis-server processes (standalone and a
 * 3-master cluster), server nodes as child processes, and the multi-node recorder. Each case proves
 * one injector or oracle does what fault tests will rely on; every process is stopped by pid in
 * `afterEach`, also when a case fails.
 */

const recorders: ClusterRecorder[] = [];
const sessions: Http2SessionManager[] = [];
afterEach(async () => {
  await Promise.all(recorders.splice(0).map((r) => r.close()));
  for (const s of sessions.splice(0)) s.abort();
  await Promise.all([stopAllNodes(), stopAllRedis()]);
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("standalone redis", () => {
  it("starts on a free port, answers PING, and restarts empty", async () => {
    const redis = await startRedis();
    expect(redis.port).not.toBe(6379);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await redis.cli("PING")).toBe("PONG");
    const c = redis.client();
    await c.set("k", "v");
    const pid = redis.pid;
    await redis.restart();
    expect(redis.pid).not.toBe(pid);
    expect(alive(pid)).toBe(false);
    expect(await c.get("k")).toBeNull(); // the same client reconnected to the new, empty server
    await expect(redis.cli("NO-SUCH-COMMAND")).rejects.toThrow(/unknown command/);
  });

  it("keeps its data over a restart with AOF, and kill9 ends the process", async () => {
    const redis = await startRedis({ appendonly: true });
    await redis.client().set("kept", "yes");
    await redis.restart({ keepData: true });
    expect(await redis.cli("GET", "kept")).toBe("yes");
    const pid = redis.pid;
    await redis.kill9();
    expect(alive(pid)).toBe(false);
  });

  it("freeze holds every reply until thaw; pause blocks clients for the given time", async () => {
    const redis = await startRedis();
    const c = redis.client();
    expect(await c.ping()).toBe("PONG");
    redis.freeze();
    const reply = c.ping();
    const early = await Promise.race([reply, sleep(300).then(() => "pending")]);
    expect(early).toBe("pending");
    redis.thaw();
    expect(await reply).toBe("PONG");

    await redis.pause(300);
    const t0 = Date.now();
    await c.set("after-pause", "1");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
  });
});

describe("redis cluster", () => {
  it("3 masters: state ok on every node, a Cluster client reads its writes, slotOf = CLUSTER KEYSLOT", async () => {
    const cluster = await startRedisCluster();
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.seeds).toBe(cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(","));
    for (const n of cluster.nodes) expect(await n.cli("CLUSTER", "INFO")).toContain("cluster_state:ok");
    const c = cluster.client();
    const keys = ["a", "b", "c", "{r:lobby}:members", "{r:lobby}:log", "{}x", "x{}y{z}", "{r:ünïcode/πage}", "room:" + "z".repeat(300)];
    for (const k of keys) await c.set(k, `v-${k}`);
    for (const k of keys) expect(await c.get(k)).toBe(`v-${k}`);
    for (const k of keys) expect(cluster.slotOf(k), k).toBe(Number(await cluster.nodes[0]!.cli("CLUSTER", "KEYSLOT", k)));
    expect(cluster.slotOf("{r:lobby}:members")).toBe(cluster.slotOf("{r:lobby}:log"));
  });
});

describe("server node processes", () => {
  it("a node (memory store) becomes ready; kill9 ends it and `exited` reports SIGKILL", async () => {
    const node = await startNode({});
    expect((await fetch(`${node.adminUrl}/readyz`)).status).toBe(200);
    expect(node.env.PRESENCE_HOST).toBe("127.0.0.1");
    await node.kill9();
    expect(await node.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(alive(node.pid)).toBe(false);
  });

  it("the cluster recorder: two watchers see one join and one leave; a dead node is recorded; reattach resyncs", async () => {
    // Two watchers on one node (nodes share no state until the Redis store lands).
    const node = await startNode({});
    const rec = recordRooms([node, node], ["lobby"]);
    recorders.push(rec);
    const session = new Http2SessionManager(node.rpcUrl);
    sessions.push(session);
    const token = await signTestToken(TEST_SECRET, { sub: "ana" });
    const client = createClient(PresenceService, createGrpcTransport({ baseUrl: node.rpcUrl, sessionManager: session }));
    const headers = { authorization: `Bearer ${token}` };
    const truth = presenceTruth(node.rpcUrl, ["lobby"]);

    await waitFor(() => rec.views().every((v) => v !== null), 5_000, "first snapshots");
    const joined = await client.join({ room: "lobby" }, { headers });
    const cid = joined.session!.connectionId;
    await rec.waitConverged(truth);
    expect(rec.joinsFor(cid)).toEqual([1, 1]);
    expect(rec.views()[1]!.users).toEqual({ ana: [cid] });
    await client.leave({ sessionId: joined.session!.sessionId, room: "lobby" }, { headers });
    await rec.waitConverged(truth);
    expect(rec.leavesFor(cid)).toEqual([1, 1]);

    await node.kill9();
    await waitFor(() => rec.watchers.every((w) => !w.isLive()), 5_000, "streams ended");
    expect(rec.watchers.map((w) => w.errors.length)).toEqual([1, 1]);
    // connect-node reports a peer that vanished as CANCELED ("http/2 stream closed with error code
    // CANCEL"), not UNAVAILABLE: fault tests must not read Canceled as "we cancelled".
    for (const w of rec.watchers) expect([Code.Canceled, Code.Unavailable]).toContain(w.errors[0]!.code);

    const again = await node.restart();
    expect(again.rpcUrl).toBe(node.rpcUrl);
    await rec.reattach(0, again.rpcUrl);
    await rec.waitConverged(presenceTruth(again.rpcUrl, ["lobby"]));
    expect(rec.resyncs()).toEqual([1, 0]); // a new memory store: new epoch, so a snapshot
    expect(rec.watchers[0]!.segments).toHaveLength(2);
    expect(rec.violations().flat()).toEqual([]);
  });
});
