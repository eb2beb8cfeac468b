import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import type { Limits } from "../../src/core/options.js";
import type { StoreMessage } from "../../src/core/presence-event.js";
import { createRedisPresenceStore } from "../../src/store/redis/create-redis-store.js";
import { createKeys } from "../../src/store/redis/keys.js";
import { loadScripts } from "../../src/store/redis/scripts.js";
import { createSessionScripts, REAP_BATCH } from "../../src/store/redis/session-scripts.js";
import type { RedisPresenceStore } from "../../src/store/redis/redis-store.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";

/**
 * Shared reaping on Redis: a node that claims expired sessions and dies before finishing must not
 * leave ghosts (another node takes the claim over once it is older than 30 s), and two nodes
 * reaping at the same time produce exactly one TIMEOUT leave per session and room, and one pass
 * works on PRESENCE_REAPER_CONCURRENCY buckets at once (never more). No session keys remain
 * afterwards. Time is the stores' shared fake clock (scripts read it).
 */
let redis: RedisInstance;
const open: RedisPresenceStore[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function twoNodes(limits: Limits = DEFAULT_LIMITS) {
  const clock = createFakeClock(Date.now());
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const make = async () => {
    const s = await createRedisPresenceStore(
      { url: redis.url, prefix, commandTimeoutMs: 2_000, connectTimeoutMs: 10_000, scopeShards: 16 },
      { clock, ids: createIdSource((n) => randomBytes(n)), timings: { ...DEFAULT_TIMINGS, sessionTtlMs: 300, heartbeatIntervalMs: 100 }, limits, fixedTime: true },
    );
    open.push(s);
    return s;
  };
  return { clock, prefix, a: await make(), b: await make() };
}

const user = (id: string) => ({ kind: "user" as const, user: { userId: id, name: id, avatarUrl: "", metadata: {} } });

describe("Redis reaping", () => {
  it("a claim left by a node that died mid-reap is taken over after the claim timeout, with one leave", async () => {
    const { clock, prefix, a, b } = await twoNodes();
    const messages: StoreMessage[] = [];
    b.subscribe("r", (m) => messages.push(m));
    await b.ready("r");
    const j = await a.join({ room: "r", ownerKey: "u:ana", identity: user("ana"), metadata: {} });
    clock.advance(301);
    // Node A claims the expired session and "dies" before leaving its rooms: run only the claim.
    const keys = createKeys(prefix);
    const bk = keys.bucket(keys.bucketOf(j.session.sessionId));
    const runner = loadScripts(redis.client(), () => {});
    const scripts = createSessionScripts({
      run: (name, k, args) => runner.run(name, k, args),
      keys,
      nowArg: () => String(clock.now()),
      pub: "PUBLISH",
      cluster: false,
      timings: { ...DEFAULT_TIMINGS, sessionTtlMs: 300 },
      limits: DEFAULT_LIMITS,
    });
    // A claim that runs after its deadline (stale: its node gave up on it) claims nothing.
    expect(await scripts.claimExpired(keys.bucketOf(j.session.sessionId), clock.now() - 1)).toEqual({ expiredNow: 0, sids: [] });
    expect(await scripts.claimExpired(keys.bucketOf(j.session.sessionId), clock.now() + 2_000)).toEqual({ expiredNow: 1, sids: [j.session.sessionId] });
    // Fenced: the claimed session cannot be refreshed any more.
    await expect(a.heartbeat({ sessionId: j.session.sessionId, ownerKey: "u:ana" })).rejects.toMatchObject({ reason: "SESSION_NOT_FOUND" });
    expect(await b.reap()).toEqual({ expiredSessions: 0, leaves: 0 }); // claim still fresh
    clock.advance(30_001);
    expect(await b.reap()).toEqual({ expiredSessions: 0, leaves: 1 });
    await b.settleForTests();
    const leaves = messages.filter((m) => m.type === "event" && m.event.kind === "left");
    expect(leaves).toHaveLength(1);
    expect(leaves[0]).toMatchObject({ event: { reason: "timeout", connectionId: j.session.connectionId } });
    const client = redis.client();
    const left = (await client.keys(`${prefix}:*`)).filter((k) => k.includes(j.session.sessionId));
    expect(left).toEqual([]);
    expect(await client.hget(bk.sessions, j.session.sessionId)).toBeNull();
    expect(await client.zscore(bk.reaping, j.session.sessionId)).toBeNull();
  });

  it("two nodes reaping at once leave each expired session once", async () => {
    const { clock, a, b } = await twoNodes();
    const messages: StoreMessage[] = [];
    a.subscribe("room", (m) => messages.push(m));
    await a.ready("room");
    for (let i = 0; i < 40; i++) await a.join({ room: "room", ownerKey: `u:${i}`, identity: user(`u${i}`), metadata: {} });
    clock.advance(301);
    const [ra, rb] = await Promise.all([a.reap(), b.reap()]);
    expect(ra.expiredSessions + rb.expiredSessions).toBe(40);
    expect(ra.leaves + rb.leaves).toBe(40);
    await a.settleForTests();
    const left = messages.flatMap((m) => (m.type === "event" && m.event.kind === "left" ? [m.event.connectionId] : []));
    expect(left).toHaveLength(40);
    expect(new Set(left).size).toBe(40);
    expect((await a.getView("room", { includeMembers: true })).counts).toEqual({ users: 0, connections: 0, anonymous: 0 });
  });

  it("each commit is reported by the node that made it: the join by the joining node, the timeout by the reaping node", async () => {
    const { clock, a, b } = await twoNodes();
    const seen: { node: string; what: string }[] = [];
    a.onCommit((c) => seen.push({ node: "a", what: c.type === "room_event" ? `${c.event.kind}@${c.event.version}` : c.type }));
    b.onCommit((c) => seen.push({ node: "b", what: c.type === "room_event" ? `${c.event.kind}@${c.event.version}` : c.type }));
    await a.join({ room: "r", ownerKey: "u:ana", identity: user("ana"), metadata: {} });
    clock.advance(301);
    await b.reap();
    // Within one call, a room event and a status change come in no promised order.
    const byNode = (node: string) => seen.filter((s) => s.node === node).map((s) => s.what).sort();
    expect(byNode("a")).toEqual(["joined@1", "user_status"]);
    expect(byNode("b")).toEqual(["left@2", "user_status"]);
  });

  it("a bucket with more expired sessions than one claim takes (REAP_BATCH) is emptied in the same pass", async () => {
    const { clock, prefix, a, b } = await twoNodes();
    const keys = createKeys(prefix);
    const n = REAP_BATCH + 50;
    // A first Join with a request id makes its session in the bucket of (owner, request id): pick
    // request ids that all land in bucket 5.
    for (let i = 0; i < n; i++) {
      let requestId = "";
      for (let t = 0; keys.request(`u:${i}`, requestId).bucket !== 5 || requestId === ""; t++) requestId = `r${i}-${t}`;
      const j = await a.join({ room: `room${i % 4}`, ownerKey: `u:${i}`, identity: user(`u${i}`), metadata: {}, requestId });
      expect(keys.bucketOf(j.session.sessionId)).toBe(5);
    }
    clock.advance(301);
    expect(await b.reap()).toEqual({ expiredSessions: n, leaves: n });
    for (let r = 0; r < 4; r++) expect((await b.getView(`room${r}`, { includeMembers: true })).counts).toEqual({ users: 0, connections: 0, anonymous: 0 });
  }, 60_000);

  for (const concurrency of [1, 8]) {
    it(`a mass expiry leaves in one pass, ${concurrency} bucket(s) at a time at most`, async () => {
      const { clock, prefix, a, b } = await twoNodes({ ...DEFAULT_LIMITS, reaperConcurrency: concurrency });
      for (let i = 0; i < 400; i++) await a.join({ room: `room${i % 4}`, ownerKey: `u:${i}`, identity: user(`u${i}`), metadata: {} });
      // Redis' own order of the pass's commands (MONITOR): a bucket is worked on from its claim
      // (the script whose first key is the bucket's expiry zset) to the count of its live sessions
      // that ends its turn (ZCARD of the same key).
      const monitor = await redis.client().monitor();
      const steps: { bucket: number; step: "claim" | "done" }[] = [];
      const expiryKey = new RegExp(`^${prefix}:\\{s:(\\d+)\\}:exp$`);
      monitor.on("monitor", (_time: string, args: string[]) => {
        const cmd = args[0]?.toLowerCase();
        const key = cmd === "evalsha" || cmd === "eval" ? args[3] : cmd === "zcard" ? args[1] : undefined;
        const m = key === undefined ? null : expiryKey.exec(key);
        if (m && (cmd === "zcard" || args[2] === "4")) steps.push({ bucket: Number(m[1]), step: cmd === "zcard" ? "done" : "claim" });
      });
      try {
        clock.advance(301);
        expect(await b.reap()).toEqual({ expiredSessions: 400, leaves: 400 });
        await until(() => steps.filter((x) => x.step === "done").length === 64, "the pass's 64 ZCARDs in MONITOR");
      } finally {
        monitor.disconnect();
      }
      let open = 0;
      let most = 0;
      for (const x of steps) {
        open += x.step === "claim" ? 1 : -1;
        most = Math.max(most, open);
      }
      expect(steps.filter((x) => x.step === "claim").map((x) => x.bucket).sort((p, q) => p - q)).toEqual(Array.from({ length: 64 }, (_, i) => i));
      expect(most).toBeLessThanOrEqual(concurrency);
      if (concurrency > 1) expect(most).toBeGreaterThan(1);
      for (let r = 0; r < 4; r++) expect((await b.getView(`room${r}`, { includeMembers: true })).counts).toEqual({ users: 0, connections: 0, anonymous: 0 });
      expect(await b.reap()).toEqual({ expiredSessions: 0, leaves: 0 });
    }, 60_000);
  }
});

async function until(pred: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
