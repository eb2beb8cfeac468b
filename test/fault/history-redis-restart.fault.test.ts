import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserState } from "../../gen/presence/v1/types_pb.js";
import { closeAll, nodeClient, tokenOf } from "../support/node-fault-kit.js";
import { startNode, stopAllNodes, type NodeProcess } from "../support/node-process.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { sleep } from "../support/processes.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/*
 * F-H3 (issue 13, F-R1 with history): Redis is restarted empty (no persistence) while users are
 * offline. Without history their last seen, custom status and invisible flag are gone with it.
 * With history on PostgreSQL they were written through when they changed, and GetUserStatus
 * completes users the store no longer holds from there: ana's last seen and custom status come
 * back; eve, who went offline while invisible, shows the last seen from before she went
 * invisible, never a fresher one, and no custom status (to others; an admin sees her real record,
 * invisible flag included). Users nobody ever saw stay unknown (last seen 0).
 *
 * Second case: an invisible user is online while Redis restarts empty; her node re-asserts her
 * session into the empty Redis (a fresh user record, without the flag). That blank record must
 * not overwrite the durable one: PostgreSQL still says invisible, with her custom status and last
 * seen, afterwards.
 *
 * And eve, invisible and offline when Redis lost everything, joins again: her join carries her
 * durable status (JoinInput.restoreStatus, from the node's cache of flagged users) and the store
 * creates her record from it in the same script as the join, so a watcher never sees her online,
 * nor a fresher last seen (GetUserStatus, WatchUsers).
 *
 * Last, zoe (re-asserted, still invisible in the store and in PostgreSQL) turns visible right
 * away, before ever going offline: the store shows her online to others at once and PostgreSQL
 * holds the change within a flush, not at her next change that records a last seen.
 */
let redis: RedisInstance;
let pg: PostgresInstance;
let node: NodeProcess;

beforeAll(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  node = await startNode({
    PRESENCE_REDIS_URL: redis.url,
    PRESENCE_HISTORY: "postgres",
    PRESENCE_POSTGRES_URL: await pg.createDatabase(),
    PRESENCE_HISTORY_FLUSH_MS: "100",
    PRESENCE_SESSION_TTL_MS: "2000",
    PRESENCE_HEARTBEAT_INTERVAL_MS: "500",
  });
});
afterAll(async () => {
  closeAll();
  await stopAllNodes();
  await Promise.all([redis?.stop(), pg?.stop()]);
});

describe("F-H3 Redis restarted empty: durable status comes back from PostgreSQL", () => {
  it("last seen, custom status and the invisible flag of offline users survive; an invisible user never shows a fresh last seen", async () => {
    const ana = nodeClient(node.rpcUrl, await tokenOf("ana")).client;
    const eve = nodeClient(node.rpcUrl, await tokenOf("eve")).client;
    const bob = nodeClient(node.rpcUrl, await tokenOf("bob")).client;
    const admin = nodeClient(node.rpcUrl, await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" })).client;

    const a = (await ana.join({ room: "/lounge" })).session!;
    await ana.setStatus({ sessionId: a.sessionId, customStatus: "in a meeting" });
    await ana.leave({ sessionId: a.sessionId, room: "/lounge" });
    const e = (await eve.join({ room: "/lounge" })).session!;
    await sleep(50);
    await eve.setStatus({ sessionId: e.sessionId, invisible: true, customStatus: "secret" });
    await sleep(50);
    await eve.leave({ sessionId: e.sessionId, room: "/lounge" });

    const before = (await bob.getUserStatus({ userIds: ["ana", "eve"] })).statuses;
    const real = (await admin.getUserStatus({ userIds: ["eve"] })).statuses[0]!;
    expect(before.map((s) => [s.userId, s.state, s.customStatus])).toEqual([
      ["ana", UserState.OFFLINE, "in a meeting"],
      ["eve", UserState.OFFLINE, ""],
    ]);
    expect(real.invisible).toBe(true);
    expect(Number(real.lastSeenMs)).toBeGreaterThan(Number(before[1]!.lastSeenMs)); // her real last seen is newer than what others see

    await sleep(500); // the write-through flushes every 100 ms
    await redis.restart(); // empty
    await sleep(300);

    const after = (await bob.getUserStatus({ userIds: ["ana", "eve", "nobody"] })).statuses;
    expect(after.map((s) => [s.userId, s.state, Number(s.lastSeenMs), s.customStatus, s.invisible])).toEqual([
      ["ana", UserState.OFFLINE, Number(before[0]!.lastSeenMs), "in a meeting", false],
      ["eve", UserState.OFFLINE, Number(before[1]!.lastSeenMs), "", false],
      ["nobody", UserState.OFFLINE, 0, "", false],
    ]);
    const adminView = (await admin.getUserStatus({ userIds: ["eve"] })).statuses[0]!;
    expect([adminView.invisible, Number(adminView.lastSeenMs), adminView.customStatus]).toEqual([true, Number(real.lastSeenMs), "secret"]);
  }, 60_000);

  it("an invisible user who comes back after the data loss is never shown online (GetUserStatus, WatchUsers)", async () => {
    const eve = nodeClient(node.rpcUrl, await tokenOf("eve")).client;
    const bob = nodeClient(node.rpcUrl, await tokenOf("bob")).client;
    const abort = new AbortController();
    const seen: { state: UserState; lastSeenMs: number }[] = [];
    const watching = (async () => {
      for await (const m of bob.watchUsers({ userIds: ["eve"] }, { signal: abort.signal })) {
        const c = m.message;
        if (c.case === "snapshot") for (const s of c.value.statuses) seen.push({ state: s.state, lastSeenMs: Number(s.lastSeenMs) });
        if (c.case === "changed") seen.push({ state: c.value.state, lastSeenMs: Number(c.value.lastSeenMs) });
      }
    })().catch(() => {});
    await sleep(300);
    const shownBefore = (await bob.getUserStatus({ userIds: ["eve"] })).statuses[0]!;
    const e = (await eve.join({ room: "/lounge" })).session!; // a fresh record in the empty Redis: not invisible there
    await sleep(300);
    await eve.heartbeat({ sessionId: e.sessionId, activity: 2 });
    await sleep(300);
    const shown = (await bob.getUserStatus({ userIds: ["eve"] })).statuses[0]!;
    abort.abort();
    await watching;
    expect([shown.state, Number(shown.lastSeenMs), shown.customStatus]).toEqual([UserState.OFFLINE, Number(shownBefore.lastSeenMs), ""]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => s.state !== UserState.OFFLINE || s.lastSeenMs !== Number(shownBefore.lastSeenMs))).toEqual([]);
    await eve.leave({ sessionId: e.sessionId, room: "/lounge" });
  }, 60_000);

  it("a re-assertion after the data loss does not erase an online invisible user's durable flags", async () => {
    const zoe = nodeClient(node.rpcUrl, await tokenOf("zoe")).client;
    const z = (await zoe.join({ room: "/lounge" })).session!;
    await zoe.setStatus({ sessionId: z.sessionId, invisible: true, customStatus: "hidden" });
    await sleep(500);
    const pool = pg.pool(node.env.PRESENCE_POSTGRES_URL);
    const row = async () => (await pool.query("SELECT invisible, custom_status FROM presence.user_status WHERE user_id = 'zoe'")).rows[0];
    expect(await row()).toEqual({ invisible: true, custom_status: "hidden" });
    await redis.restart();
    // Her next heartbeat finds the session gone, the node detects the data loss and re-asserts it.
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await zoe.heartbeat({ sessionId: z.sessionId }).then(() => true, () => false);
      if (!ok) await sleep(100);
    }
    expect(ok).toBe(true);
    const admin = nodeClient(node.rpcUrl, await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" })).client;
    expect((await admin.getUserStatus({ userIds: ["zoe"] })).statuses[0]!.state).toBe(UserState.ONLINE); // re-asserted
    await sleep(500);
    expect(await row()).toEqual({ invisible: true, custom_status: "hidden" });
  }, 60_000);

  it("un-hiding right after the data loss is shown at once and written through", async () => {
    const zoe = nodeClient(node.rpcUrl, await tokenOf("zoe")).client;
    const bob = nodeClient(node.rpcUrl, await tokenOf("bob")).client;
    const admin = nodeClient(node.rpcUrl, await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" })).client;
    const pool = pg.pool(node.env.PRESENCE_POSTGRES_URL);
    const row = async () => (await pool.query("SELECT invisible, custom_status FROM presence.user_status WHERE user_id = 'zoe'")).rows[0];
    // A second session of zoe (her record, re-created at the re-assertion of the case before, is invisible).
    const z = (await zoe.join({ room: "/lounge" })).session!;
    expect((await admin.getUserStatus({ userIds: ["zoe"] })).statuses[0]).toMatchObject({ invisible: true, customStatus: "hidden" });
    expect((await bob.getUserStatus({ userIds: ["zoe"] })).statuses[0]!.state).toBe(UserState.OFFLINE);
    // Her record in the store is what a data loss leaves (no last seen); once the custom status is
    // cleared too, un-hiding makes it blank: the change must still reach PostgreSQL.
    await zoe.setStatus({ sessionId: z.sessionId, customStatus: "" });
    await zoe.setStatus({ sessionId: z.sessionId, invisible: false });
    expect((await bob.getUserStatus({ userIds: ["zoe"] })).statuses[0]).toMatchObject({ state: UserState.ONLINE, customStatus: "" });
    let stored = await row();
    for (let i = 0; i < 50 && stored.invisible; i++) {
      await sleep(100);
      stored = await row();
    }
    expect(stored).toEqual({ invisible: false, custom_status: "" });
    await zoe.leave({ sessionId: z.sessionId, room: "/lounge" });
  }, 60_000);
});
