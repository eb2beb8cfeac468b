import { expect, it } from "vitest";
import { compareOnline, type OnlinePosition } from "../../src/core/scope.js";
import type { ScopeStore } from "../../src/store/ports/scope-store.js";
import type { UserInfo } from "../../src/core/identity.js";

/**
 * The ScopeStore contract (scopes.proto): counts, the order of lists and keyset paging, ties,
 * idempotent mutations and stamps that never lower a position. Run on the memory store and on a
 * real standalone Redis and 3-master Cluster (`scope-store.test.ts`).
 */
/** A user's public info as sessions carry it. */
const u = (userId: string): UserInfo => ({ userId, name: userId.toUpperCase(), avatarUrl: `https://a.test/${userId}.png`, metadata: { team: "x" } });

export function scopeStoreContract(make: () => Promise<ScopeStore>) {
  async function walk(store: ScopeStore, scope: string, pageSize: number): Promise<OnlinePosition[]> {
    const out: OnlinePosition[] = [];
    let after: OnlinePosition | null = null;
    for (let i = 0; i < 10_000; i++) {
      const page = await store.list(scope, pageSize, after);
      out.push(...page.entries.map((e) => ({ userId: e.userId, lastActiveMs: e.lastActiveMs })));
      if (page.entries.length < pageSize) return out;
      after = page.entries[page.entries.length - 1]!;
    }
    throw new Error("walk did not end");
  }

  it("counts users once and connections per session; mutations are idempotent", async () => {
    const s = await make();
    await s.addSession("s1", u("ana"), ["", "zone:1"], 100);
    await s.addSession("s1", u("ana"), ["", "zone:1"], 100);
    await s.addSession("s2", u("ana"), ["", "zone:1", "org:7"], 50);
    await s.addSession("s3", u("bob"), ["", "org:7"], 70);
    expect(await s.count(["", "zone:1", "org:7", "zone:2"])).toEqual([
      { scope: "", users: 2, connections: 3 },
      { scope: "zone:1", users: 1, connections: 2 },
      { scope: "org:7", users: 2, connections: 2 },
      { scope: "zone:2", users: 0, connections: 0 },
    ]);
    await s.removeSession("s1", "ana", ["", "zone:1"]);
    await s.removeSession("s1", "ana", ["", "zone:1"]);
    const page = await s.list("zone:1", 10, null);
    expect(page.entries).toEqual([{ userId: "ana", lastActiveMs: 100, connections: 1, info: u("ana") }]);
    await s.removeSession("s2", "ana", ["", "zone:1", "org:7"]);
    expect(await s.count(["", "zone:1", "org:7"])).toEqual([
      { scope: "", users: 1, connections: 1 },
      { scope: "zone:1", users: 0, connections: 0 },
      { scope: "org:7", users: 1, connections: 1 },
    ]);
  });

  it("raises positions with stamps, never lowers them, and ignores stamps of users not in the scope", async () => {
    const s = await make();
    await s.addSession("s1", u("ana"), ["zone:1"], 100);
    await s.stamp("ana", ["zone:1"], 90);
    await s.stamp("bob", ["zone:1"], 500);
    expect((await s.list("zone:1", 10, null)).entries.map((e) => [e.userId, e.lastActiveMs])).toEqual([["ana", 100]]);
    await s.stamp("ana", ["zone:1"], 300);
    expect((await s.list("zone:1", 10, null)).entries.map((e) => e.lastActiveMs)).toEqual([300]);
    expect((await s.count(["zone:1"]))[0]!.users).toBe(1);
  });

  it("tells each present user's last activity from the global scope (GetUserStatus), absent users left out", async () => {
    const s = await make();
    await s.addSession("s1", u("ana"), ["", "zone:1"], 100);
    await s.addSession("s2", u("bob"), [""], 200);
    await s.stamp("ana", ["", "zone:1"], 400);
    expect(await s.lastActive(["ana", "bob", "cy", "ana"])).toEqual(new Map([["ana", 400], ["bob", 200]]));
    await s.removeSession("s2", "bob", [""]);
    expect(await s.lastActive(["bob"])).toEqual(new Map());
  });

  it("lists most recent first, ties by user id, and pages through every user exactly once", async () => {
    const s = await make();
    const truth: OnlinePosition[] = [];
    for (let i = 0; i < 120; i++) {
      const p = { userId: `u${String(i).padStart(3, "0")}`, lastActiveMs: 1_000 + (i % 9) * 10 }; // many ties
      truth.push(p);
      await s.addSession(`s${i}`, u(p.userId), ["org:1"], p.lastActiveMs);
    }
    truth.sort(compareOnline);
    for (const size of [1, 7, 50, 200]) expect(await walk(s, "org:1", size)).toEqual(truth);
    const first = await s.list("org:1", 5, null);
    expect(first.count).toEqual({ scope: "org:1", users: 120, connections: 120 });
  });

  it("a walk under churn never returns a user twice", async () => {
    const s = await make();
    let now = 10_000;
    let next = 0;
    const sessions: [string, string][] = [];
    for (; next < 150; next++) {
      sessions.push([`s${next}`, `u${next}`]);
      await s.addSession(`s${next}`, u(`u${next}`), ["zone:9"], now - next);
    }
    const seen = new Set<string>();
    let after: OnlinePosition | null = null;
    for (let round = 0; round < 100; round++) {
      const page = await s.list("zone:9", 13, after);
      for (const e of page.entries) {
        expect(seen.has(e.userId)).toBe(false);
        seen.add(e.userId);
      }
      if (page.entries.length < 13) break;
      after = page.entries[page.entries.length - 1]!;
      for (let c = 0; c < 6; c++) {
        now += 7;
        const pick = sessions[(round * 31 + c * 17) % sessions.length]!;
        if (c % 3 === 0) await s.stamp(pick[1], ["zone:9"], now);
        else if (c % 3 === 1) await s.removeSession(pick[0], pick[1], ["zone:9"]);
        else {
          sessions.push([`s${next}`, `u${next}`]);
          await s.addSession(`s${next}`, u(`u${next++}`), ["zone:9"], now);
        }
      }
    }
    expect(seen.size).toBeGreaterThan(50);
  });
}
