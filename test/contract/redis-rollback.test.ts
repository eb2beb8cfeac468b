import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import type { RoomView } from "../../src/core/presence-event.js";
import { createFanoutHub, type WatchItem } from "../../src/fanout/fanout-hub.js";
import { createRedisPresenceStore } from "../../src/store/redis/create-redis-store.js";
import { createKeys } from "../../src/store/redis/keys.js";
import type { RedisPresenceStore } from "../../src/store/redis/redis-store.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";

/**
 * Issue 10 bug 2: a partial Redis loss that keeps the room's epoch (an RDB restore, an asynchronous
 * replica promoted) rolls the room's version back inside the same epoch. New events then carry
 * versions watchers have already seen; before, the hub dropped them as duplicates and watchers kept
 * a stale view silently (an I4 violation). Now the hub sees the version go backwards, the room gets
 * a new epoch and every watcher resyncs to the store's view.
 */
const user = (id: string) => ({ kind: "user" as const, user: { userId: id, name: id, avatarUrl: "", metadata: {} } });
let redis: RedisInstance;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const userIds = (v: RoomView) => v.users.map((u) => u.user.userId).sort();

describe("version rollback inside an epoch (issue 10 bug 2)", () => {
  it("is detected and every watcher resyncs to the store's view", async () => {
    const clock = createFakeClock(Date.now());
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const timings = { ...DEFAULT_TIMINGS, positionCheckMs: 1_000 };
    const store: RedisPresenceStore = await createRedisPresenceStore(
      { url: redis.url, prefix, commandTimeoutMs: 2_000, connectTimeoutMs: 10_000, scopeShards: 16 },
      { clock, ids: createIdSource((n) => randomBytes(n)), timings, limits: DEFAULT_LIMITS, fixedTime: true },
    );
    cleanups.push(() => store.close());
    const hub = createFanoutHub({ rooms: store, bus: store, clock, timings, limits: DEFAULT_LIMITS });
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    const items: WatchItem[] = [];
    void (async () => {
      for await (const item of hub.watch("r", { detail: "full", signal: abort.signal })) items.push(item);
    })().catch(() => {});
    const join = (id: string) => store.join({ room: "r", ownerKey: `u:${id}`, identity: user(id), metadata: {} });
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 150 && !ok(); i++) {
        clock.advance(200); // position checks run on the fake clock
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(ok(), what).toBe(true);
    };
    await until("first snapshot", () => items.some((i) => i.type === "snapshot"));
    await join("ana");
    await join("bob");
    // The room as an older RDB would have it: version 2, ana and bob.
    const k = createKeys(prefix).room("r");
    const roomKeys = [k.meta, k.members, k.counters, k.log, k.typing, k.cursors];
    const client = redis.client();
    const saved = await Promise.all(roomKeys.map((key) => client.dumpBuffer(key)));
    await join("cy");
    await join("dan");
    await until("events up to version 4", () => items.some((i) => i.type === "event" && i.event.version === 4));
    for (const [i, key] of roomKeys.entries()) {
      const dump = saved[i];
      if (dump) await client.restore(key, 0, dump, "REPLACE");
      else await client.del(key);
    }
    await join("eve"); // committed as version 3 of the same epoch
    const truth = await store.getView("r", { includeMembers: true });
    expect(userIds(truth)).toEqual(["ana", "bob", "eve"]);
    await until("a snapshot with the store's members", () => {
      const last = items.filter((i) => i.type === "snapshot").at(-1);
      return last?.type === "snapshot" && JSON.stringify(userIds(last.view)) === JSON.stringify(["ana", "bob", "eve"]);
    });
    const last = items.filter((i) => i.type === "snapshot").at(-1) as Extract<WatchItem, { type: "snapshot" }>;
    const now = await store.getView("r", { includeMembers: true });
    expect({ epoch: last.view.epoch, version: last.view.version }).toEqual({ epoch: now.epoch, version: now.version });
    expect(last.view.epoch).not.toBe(truth.epoch); // a new epoch: versions never repeat inside one
  });
});
