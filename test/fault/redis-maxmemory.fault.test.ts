import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { startDriverClient } from "../support/client-driver.js";
import { faultScope } from "../support/fault-scope.js";
import { messagesOf, tokenOf } from "../support/node-fault-kit.js";
import type { NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import { storeProblems } from "../support/store-invariants.js";
import { waitFor } from "../support/watch-recorder.js";
import { eventually, httpGet, reasonOf } from "./redis-fault-kit.js";

/*
 * F-R7 (reliability.md §4.2): Redis is over `maxmemory` with the `noeviction` policy (a filler
 * key, then the limit set below the memory used) for 3 × TTL while two nodes serve attached sessions, a heartbeat client and
 * a client that keeps joining, navigating and leaving through both nodes.
 *
 * Invariant (I6, I7, I8): calls that need memory fail with `unavailable` / STORE_UNAVAILABLE and a
 * message that says why ("presence store full … maxmemory"), at once (a session kept alive only by
 * its own Join/Navigate/Leave calls expires meanwhile, and its owner is told SESSION_NOT_FOUND);
 * reads (GetPresence, watch snapshots: read-only scripts, not MULTI, which Redis refuses over
 * maxmemory) keep working; /readyz answers 503 (its probe writes) and 200 after; nothing crashes. Nobody who stayed
 * connected leaves: Redis refuses the refreshes, but the nodes' writes fail too, so the outage rule
 * holds (docs/fault-catalogue.md "Store outages"; reaper claims are refused whole at maxmemory).
 * When memory frees, writes work again; the churning client's last Join and Leave succeed; and the
 * store is consistent (test/support/store-invariants.ts: counts match members, every member's
 * session exists and lists the room, every listed room has the member), every watcher's view
 * equals GetPresence with no recorder violation.
 *
 * With an evicting policy configured by mistake (`allkeys-lru`), a node warns at start-up.
 */

const TTL_MS = 1_500;
const ROOMS = ["/r7/a", "/r7/b", "/r7/c"] as const;
const ENV = {
  PRESENCE_SESSION_TTL_MS: String(TTL_MS),
  PRESENCE_HEARTBEAT_INTERVAL_MS: "300",
  PRESENCE_NODE_REFRESH_MS: "250",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_POSITION_CHECK_MS: "500",
  PRESENCE_READINESS_INTERVAL_MS: "200",
};

describe.concurrent("F-R7: Redis at maxmemory", () => {
  it("noeviction: writes fail clearly, reads work, nobody connected leaves, no corruption, recovery when memory frees", async (ctx) => {
    const s = faultScope(ctx);
    const redis = await s.redis({ extraArgs: ["--maxmemory-policy", "noeviction"] });
    const [a, b] = (await s.nodes(2, { ...ENV, PRESENCE_REDIS_URL: redis.url })) as [NodeProcess, NodeProcess];
    const rec = await s.record([a, b], ROOMS);
    const driver = async (user: string, node: NodeProcess, rooms: readonly string[]) => startDriverClient(s, { user, token: await tokenOf(user), rooms, pick: () => node });
    const ana = await driver("ana", a, [ROOMS[0], ROOMS[1]]);
    const bob = await driver("bob", b, [ROOMS[1]]);
    const hal = s.client(a.rpcUrl, await tokenOf("hal"));
    const halSession = (await hal.join({ room: ROOMS[2] })).session!;
    const halCodes: (Code | "ok")[] = [];

    // A client that keeps changing rooms through both nodes; every outcome recorded.
    const churners = [a, b].map(async (n) => s.client(n.rpcUrl, await tokenOf("cy")));
    const [cyA, cyB] = await Promise.all(churners);
    const outcomes: { at: number; op: string; code: Code | "ok"; reason?: string; message?: string }[] = [];
    let stop = false;
    let cySession = "";
    const churn = (async () => {
      for (let i = 0; !stop; i++) {
        const c = i % 2 === 0 ? cyA! : cyB!;
        const op = cySession === "" ? "Join" : ["Navigate", "Leave", "Join"][i % 3]!;
        const at = Date.now();
        try {
          if (op === "Join") cySession = (await c.join({ room: ROOMS[i % 3], sessionId: cySession })).session!.sessionId;
          else if (op === "Navigate") await c.navigate({ sessionId: cySession, fromRoom: "", toRoom: ROOMS[(i + 1) % 3] });
          else await c.leave({ sessionId: cySession, room: ROOMS[i % 3] });
          outcomes.push({ at, op, code: "ok" });
        } catch (e) {
          const ce = ConnectError.from(e);
          if (reasonOf(ce) === "SESSION_NOT_FOUND") cySession = "";
          outcomes.push({ at, op, code: ce.code, reason: reasonOf(ce), message: ce.rawMessage });
        }
        await sleep(60);
      }
    })();
    // A heartbeat client, beating every 300 ms to the end.
    let beating = true;
    const beats = (async () => {
      while (beating) {
        await hal.heartbeat({ sessionId: halSession.sessionId }, { timeoutMs: 2_000 }).then(
          () => halCodes.push("ok"),
          (e: unknown) => halCodes.push(ConnectError.from(e).code),
        );
        await sleep(300);
      }
    })();
    s.defer(async () => {
      stop = true;
      beating = false;
      await Promise.all([churn, beats]);
    });
    await rec.waitConverged(s.truth(a, ROOMS), 5_000);
    await sleep(300);

    // Over the limit: a 4 MiB filler, then maxmemory at half of what is used (noeviction: nothing
    // can be evicted, so every write that needs memory is refused).
    await redis.client().set("filler", "x".repeat(4 * 1024 * 1024));
    const used = Number(/used_memory:(\d+)/.exec(await redis.cli("INFO", "memory"))![1]);
    await redis.cli("CONFIG", "SET", "maxmemory", String(Math.floor(used / 2)));
    const t0 = Date.now();
    await expect(redis.client().set("probe", "1")).rejects.toThrow(/^OOM/);
    await eventually(async () => (await httpGet(`${a.adminUrl}/readyz`)).status === 503, 3_000, "node a not ready at maxmemory");
    const view = await s.client(b.rpcUrl).getPresence({ room: ROOMS[1] }); // reads work
    expect(Object.keys(view.view!.users ?? []).length).toBeGreaterThanOrEqual(0);
    await sleep(t0 + 3 * TTL_MS - Date.now());
    const during = outcomes.filter((o) => o.at >= t0 + 200);
    await expect(redis.client().set("probe", "1")).rejects.toThrow(/^OOM/); // still over the limit
    await redis.client().del("filler");
    await redis.cli("CONFIG", "SET", "maxmemory", "0");
    const t1 = Date.now();
    await eventually(async () => (await httpGet(`${a.adminUrl}/readyz`)).status === 200, 5_000, "node a ready again");
    await waitFor(() => outcomes.some((o) => o.at > t1 + 200 && o.op === "Join" && o.code === "ok"), 5_000, "a Join after the heal");
    stop = true;
    await churn;
    if (cySession) for (const room of ROOMS) await cyA!.leave({ sessionId: cySession, room }).catch(() => {});
    await sleep(TTL_MS + 300);

    const failed = during.filter((o) => o.code !== "ok");
    console.log(
      `F-R7: ${during.length} churn calls at maxmemory: ${failed.length} refused (${[...new Set(failed.map((o) => `${o.op} ${o.code}/${o.reason}`))].join(", ")}), ` +
        `${during.length - failed.length} succeeded (${[...new Set(during.filter((o) => o.code === "ok").map((o) => o.op))].join(",")}); heartbeats ${halCodes.filter((c) => c !== "ok").length} refused`,
    );
    expect(failed.length).toBeGreaterThan(0);
    const lastOkBefore = Math.max(...outcomes.filter((o) => o.code === "ok" && o.at < t0).map((o) => o.at));
    for (const o of failed) {
      // The churning session is kept alive by its own calls only (no heartbeat, stream or socket):
      // refused for longer than its TTL it expires, and its owner is told to join again.
      if (o.reason === "SESSION_NOT_FOUND" && o.at >= lastOkBefore + TTL_MS - 100) continue;
      expect([o.code, o.reason]).toEqual([Code.Unavailable, "STORE_UNAVAILABLE"]);
      expect(o.message).toMatch(/presence store full \(oom: Redis refuses writes at its maxmemory limit\)/);
    }
    expect(halCodes.every((c) => c === "ok" || c === Code.Unavailable)).toBe(true);
    expect(halCodes.at(-1)).toBe("ok");

    // Nobody who stayed connected left or rejoined; the store is consistent; views equal the truth.
    const stayed = [ana.cid(), bob.cid(), halSession.connectionId];
    for (const w of rec.watchers) {
      expect(messagesOf(rec, w.index).filter((m) => m.eventKind === "left" && stayed.includes(m.connectionId!) && m.receivedAtMs >= t0)).toEqual([]);
    }
    for (const d of [ana, bob]) expect([d.user, d.rejoins(), d.endings]).toEqual([d.user, 0, []]);
    expect(await storeProblems(redis.client())).toEqual([]);
    await rec.waitConverged(s.truth(a, ROOMS), 5_000);
    expect(rec.violations().flat()).toEqual([]);
    const t = await s.truth(a, ROOMS)();
    expect(t.get(ROOMS[0])!.users).toEqual({ ana: [ana.cid()] });
    expect(t.get(ROOMS[2])!.users).toEqual({ hal: [halSession.connectionId] });
    for (const n of [a, b]) expect((await httpGet(`${n.adminUrl}/healthz`)).status).toBe(200);
  });

  it("an evicting maxmemory-policy is reported at start-up", async (ctx) => {
    const s = faultScope(ctx);
    const redis = await s.redis({ extraArgs: ["--maxmemory-policy", "allkeys-lru"] });
    const n = await s.node({ ...ENV, PRESENCE_REDIS_URL: redis.url });
    expect(n.logs()).toContain("redis maxmemory-policy is allkeys-lru; presence expects noeviction");
  });
});
