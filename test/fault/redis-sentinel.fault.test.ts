import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { startDriverClient } from "../support/client-driver.js";
import { faultScope } from "../support/fault-scope.js";
import { tokenOf } from "../support/node-fault-kit.js";
import type { NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import { startSentinelTopology } from "../support/redis-sentinel.js";
import { storeProblems } from "../support/store-invariants.js";
import { waitFor } from "../support/watch-recorder.js";
import { eventually, httpGet, metricPerNode, reasonOf } from "./redis-fault-kit.js";

/*
 * F-R4 (reliability.md §4.2): a Redis Sentinel failover (`SENTINEL FAILOVER`: the replica is
 * promoted, the old master demoted and its clients killed) under join/leave churn. A real topology:
 * one master, one replica and three Sentinels from Debian's redis-sentinel, data nodes and
 * Sentinels each behind a password; two server nodes reach it through ioredis' Sentinel client
 * (PRESENCE_REDIS_SENTINELS, PRESENCE_REDIS_SENTINEL_MASTER, PRESENCE_REDIS_SENTINEL_PASSWORD,
 * PRESENCE_REDIS_PASSWORD).
 *
 * Invariant (I1, I2, I7): both nodes' connections (command and pub/sub) move to the new master and
 * none stays on the old one; no READONLY error later than 5 s after the failover; calls during it
 * fail with `unavailable` only (never `internal`); readiness comes back; sessions that stayed
 * connected are present afterwards (a join the failover lost comes back by re-assertion or a
 * rejoin); every churn session is seen to join and leave at most once per watcher; every view ends
 * equal to GetPresence with no recorder violation, and the new master's data is consistent.
 */

const ROOMS = ["/sentinel/a", "/sentinel/b"] as const;
const TTL_MS = 2_000;
const ENV = {
  PRESENCE_SESSION_TTL_MS: String(TTL_MS),
  PRESENCE_HEARTBEAT_INTERVAL_MS: "400",
  PRESENCE_NODE_REFRESH_MS: "300",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_RECONNECT_GRACE_MS: "500",
  PRESENCE_POSITION_CHECK_MS: "500",
  PRESENCE_REDIS_COMMAND_TIMEOUT_MS: "500",
  PRESENCE_READINESS_INTERVAL_MS: "200",
};

/** Connections named `presence` / `presence-sub` (the store's) on a data node. */
async function storeConnections(n: { cli: (...a: string[]) => Promise<string> }): Promise<number> {
  return (await n.cli("CLIENT", "LIST")).split("\n").filter((l) => / name=presence(-sub)? /.test(l)).length;
}

describe("F-R4: Redis Sentinel failover under churn", () => {
  it("both nodes follow the new master, no READONLY after 5 s, nobody connected is lost, churn seen once, views equal the truth", async (ctx) => {
    const s = faultScope(ctx);
    const topo = await startSentinelTopology({ replicas: 1, sentinels: 3 });
    s.defer(() => topo.stop());
    const [a, b] = (await s.nodes(2, { ...ENV, ...topo.env() })) as [NodeProcess, NodeProcess];
    expect(a.logs()).not.toContain("failed to start");
    const rec = await s.record([a, b], ROOMS);
    const driver = async (user: string, node: NodeProcess, rooms: readonly string[]) => startDriverClient(s, { user, token: await tokenOf(user), rooms, pick: () => node });
    const stayers = [await driver("ana", a, ROOMS), await driver("bob", b, [ROOMS[0]]), await driver("cyd", b, [ROOMS[1]])];
    const first = await topo.master();
    await eventually(async () => (await storeConnections(first)) >= 4, 5_000, "both nodes connected to the master");

    // Churn through both nodes; every outcome kept.
    const outcomes: string[] = [];
    const churned: { cid: string; room: string }[] = [];
    let churning = true;
    const churn = (async () => {
      const clients = await Promise.all([a, b].map(async (n) => s.client(n.rpcUrl, await tokenOf("churn"))));
      for (let i = 0; churning; i++) {
        const room = ROOMS[i % 2]!;
        try {
          const j = await clients[i % 2]!.join({ room }, { timeoutMs: 3_000 });
          churned.push({ cid: j.session!.connectionId, room });
          await sleep(80);
          await clients[(i + 1) % 2]!.leave({ sessionId: j.session!.sessionId, room }, { timeoutMs: 3_000 });
          outcomes.push("ok");
        } catch (e) {
          const ce = ConnectError.from(e);
          outcomes.push(`${ce.code}/${reasonOf(ce)}`);
        }
        await sleep(40);
      }
    })();
    s.defer(async () => {
      churning = false;
      await churn;
    });
    await rec.waitConverged(s.truth(a, ROOMS), 5_000);
    await sleep(500);

    const { from, to, ms } = await topo.failover();
    const failedOverAt = Date.now();
    await eventually(async () => (await storeConnections(to)) >= 4 && (await storeConnections(from)) === 0, 10_000, "every store connection on the new master, none on the old");
    const movedMs = Date.now() - failedOverAt;
    await sleep(Math.max(0, failedOverAt + 5_000 - Date.now()));
    const readonlyAt5s = await metricPerNode([a, b], "presence_redis_errors_total", 'kind="readonly"');
    await sleep(1_000);
    churning = false;
    await churn;
    for (const n of [a, b]) await eventually(async () => (await httpGet(`${n.adminUrl}/readyz`)).status === 200, 5_000, "ready after the failover");
    await waitFor(() => stayers.every((d) => d.settled()), 10_000, "every stayer attached");
    await sleep(TTL_MS + 300); // a TTL and reaper rounds: lost leaves vanish, lost joins come back
    const truth = s.truth(a, ROOMS);
    await rec.waitConverged(truth, 5_000);
    const readonlyEnd = await metricPerNode([a, b], "presence_redis_errors_total", 'kind="readonly"');
    const failures = outcomes.filter((o) => o !== "ok");
    console.log(`F-R4: resyncs per watcher ${rec.resyncs().join(",")}`);
    console.log(
      `F-R4: failover ${ms} ms (${from.port} → ${to.port}); store connections moved ${movedMs} ms after it; READONLY errors per node at +5 s ${readonlyAt5s.join("/")}, at the end ${readonlyEnd.join("/")}; ` +
        `churn ${outcomes.length} rounds, failed ${failures.length} (${[...new Set(failures)].join(", ")}); stayer rejoins ${stayers.map((d) => d.rejoins()).join("/")}`,
    );

    expect(readonlyEnd).toEqual(readonlyAt5s);
    expect(failures.every((f) => f.startsWith("14/") || f === "5/SESSION_NOT_FOUND")).toBe(true); // unavailable, or a lost join
    expect(outcomes.filter((o) => o === "ok").length).toBeGreaterThan(5);
    const t = await truth();
    for (const d of stayers) for (const room of d.rooms) expect(t.get(room)!.users[d.user], `${d.user} in ${room}`).toEqual([d.cid()]);
    // Once per watcher, or once more after each resync: a failover may roll back a commit the
    // watcher saw, whose snapshot then shows the member again (reliability.md I1); the recorder
    // refuses any transition that does not follow from the watcher's last snapshot.
    const resyncs = rec.resyncs();
    for (const c of churned) {
      for (const w of rec.watchers.filter((x) => x.room === c.room)) {
        expect(rec.joinsFor(c.cid)[w.index]!, `joins of ${c.cid} on ${w.index}`).toBeLessThanOrEqual(1 + resyncs[w.index]!);
        expect(rec.leavesFor(c.cid)[w.index]!, `leaves of ${c.cid} on ${w.index}`).toBeLessThanOrEqual(1 + resyncs[w.index]!);
      }
    }
    expect(Object.keys(t.get(ROOMS[0])!.users).sort()).toEqual(["ana", "bob"]);
    expect(Object.keys(t.get(ROOMS[1])!.users).sort()).toEqual(["ana", "cyd"]);
    expect(rec.violations().flat()).toEqual([]);
    expect(stayers.flatMap((d) => d.streams().flatMap((w) => w.recorder.violations))).toEqual([]);
    expect(await storeProblems(to.client())).toEqual([]);
  });
});
