import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createFakeClock } from "../core/fake-clock.js";
import type { UserInfo } from "../core/identity.js";
import { createIdSource } from "../core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../config.js";
import { draining } from "../core/presence-error.js";
import { createMemoryPresenceStore } from "../store/memory/memory-store.js";
import { createMemoryScopeStore } from "../store/memory/memory-scope-store.js";
import { createScopeService, type ScopeCountsItem } from "./scope-service.js";

/**
 * The scope service over the memory stores and a fake clock: pages with states and tokens,
 * invisible users left out for others, input refusals naming the field and the limit, and count
 * watches that send changes once per interval and keepalives otherwise.
 */
const info = (userId: string): UserInfo => ({ userId, name: userId.toUpperCase(), avatarUrl: "", metadata: {} });

async function setup() {
  const clock = createFakeClock();
  const store = createMemoryPresenceStore({ clock, ids: createIdSource((n) => randomBytes(n)), timings: DEFAULT_TIMINGS, limits: DEFAULT_LIMITS });
  const scopes = createMemoryScopeStore();
  const service = createScopeService({
    scopes,
    users: store,
    clock,
    limits: { maxListPageSize: 1_000, maxCountScopes: 3, maxWatchers: 10 },
    timings: { scopeCountsIntervalMs: 1_000, keepaliveMs: 30_000 },
    otherWatchers: () => 0,
  });
  /** A user online through a real session, carrying `list` (plus the global scope). */
  const online = async (userId: string, list: string[], activeMs: number) => {
    const j = await store.join({ room: "/r", ownerKey: `u:${userId}`, identity: { kind: "user", user: info(userId) }, metadata: {} });
    await scopes.addSession(j.session.sessionId, info(userId), ["", ...list], activeMs);
    return j.session.sessionId;
  };
  return { clock, store, scopes, service, online };
}

const ana = { role: "user" as const, subject: "ana", user: info("ana") };

describe("scope service", () => {
  it("lists a scope page by page with states and connection counts", async () => {
    const t = await setup();
    await t.online("bob", ["zone:1"], 300);
    await t.online("cy", ["zone:1"], 200);
    await t.online("dan", ["zone:2"], 100);
    const p1 = await t.service.listOnline(ana, { scope: "zone:1", pageSize: 1, pageToken: "" });
    expect(p1.users).toEqual([{ user: info("bob"), state: "online", lastActiveMs: 300, connections: 1 }]);
    expect(p1.count).toEqual({ scope: "zone:1", users: 2, connections: 2 });
    const p2 = await t.service.listOnline(ana, { scope: "zone:1", pageSize: 1, pageToken: p1.nextPageToken });
    expect(p2.users.map((u) => u.user.userId)).toEqual(["cy"]);
    const p3 = await t.service.listOnline(ana, { scope: "zone:1", pageSize: 1, pageToken: p2.nextPageToken });
    expect(p3).toMatchObject({ users: [], nextPageToken: "" });
    expect((await t.service.listOnline(ana, { scope: "", pageSize: 0, pageToken: "" })).users.map((u) => u.user.userId)).toEqual(["bob", "cy", "dan"]);
  });

  it("leaves invisible users out for others, not for themselves", async () => {
    const t = await setup();
    const sid = await t.online("bob", ["zone:1"], 300);
    await t.store.setStatus({ sessionId: sid, ownerKey: "u:bob", invisible: true });
    expect((await t.service.listOnline(ana, { scope: "zone:1", pageSize: 10, pageToken: "" })).users).toEqual([]);
    const bob = { role: "user" as const, subject: "bob", user: info("bob") };
    expect((await t.service.listOnline(bob, { scope: "zone:1", pageSize: 10, pageToken: "" })).users.map((u) => u.user.userId)).toEqual(["bob"]);
    expect((await t.service.countOnline(ana, { scopes: ["zone:1"] })).scopes[0]!.users).toBe(1); // counts name nobody
  });

  it("refuses bad input naming the field and the limit", async () => {
    const t = await setup();
    await expect(t.service.listOnline(ana, { scope: "zone 1", pageSize: 0, pageToken: "" })).rejects.toThrow(/^scope: must contain only/);
    await expect(t.service.listOnline(ana, { scope: "z", pageSize: 1_001, pageToken: "" })).rejects.toThrow("page_size: must be at most 1000 entries (got 1001)");
    await expect(t.service.listOnline(ana, { scope: "z", pageSize: 0, pageToken: "garbage!" })).rejects.toThrow(/^page_token: is not a page token/);
    await expect(t.service.countOnline(ana, { scopes: ["a", "b", "c", "d"] })).rejects.toThrow("scopes: must be at most 3 scopes (got 4)");
  });

  it("streams counts: first the current ones, then changes once per interval, keepalives when quiet, DRAINING at shutdown", async () => {
    const t = await setup();
    await t.online("bob", ["zone:1"], 1);
    const ac = new AbortController();
    const items: ScopeCountsItem[] = [];
    const gen = t.service.watchScopeCounts(ana, { scopes: ["zone:1"], signal: ac.signal });
    const done = (async () => {
      try {
        for await (const i of gen) items.push(i);
      } catch (e) {
        return e;
      }
    })();
    const flush = async () => {
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    };
    await flush();
    expect(items.map((i) => [i.scopes[0]!.users, i.global.users])).toEqual([[1, 1]]);
    await t.online("cy", ["zone:1"], 2);
    await t.online("dan", ["zone:1"], 3); // two changes inside one interval: one message
    t.clock.advance(1_000);
    await flush();
    expect(items.map((i) => i.scopes[0]!.users)).toEqual([1, 3]);
    for (let s = 0; s < 29; s++) {
      t.clock.advance(1_000);
      await flush();
    }
    expect(items).toHaveLength(2); // nothing changed: silent until the keepalive
    t.clock.advance(1_000);
    await flush();
    expect(items).toHaveLength(3);
    expect(t.service.watchCount()).toBe(1);
    t.service.close(draining());
    expect(await done).toMatchObject({ reason: "DRAINING" });
    expect(t.service.watchCount()).toBe(0);
  });
});
