import { describe, expect, test } from "vitest";
import type { ActivityQuery, ActivityRecord } from "../../src/core/activity.js";
import { durableChange, foldDurableStatus, type DurableUserStatus } from "../../src/core/durable-status.js";
import { unknownUser, type UserStatusRecord } from "../../src/core/user-status.js";
import type { HistoryStore } from "../../src/history/history-store.js";
import { DAY, H, MIN, member, row, scriptedDay } from "../support/history-fixtures.js";

/**
 * The HistoryStore contract: every implementation (PostgreSQL, the embedded PGlite) runs these
 * with identical expectations. `fresh()` gives a store on an empty, migrated database.
 */
export function historyStoreContract(name: string, fresh: () => Promise<HistoryStore>) {
  const all = (over: Partial<ActivityQuery> = {}): ActivityQuery => ({ sinceMs: 0, untilMs: DAY * 2, kinds: [], includeInvisible: true, newestFirst: false, ...over });
  const keys = (rows: ActivityRecord[]) => rows.map((r) => r.key);
  const at = (h: number, m = 0) => DAY + h * H + m * MIN;
  const rec = (userId: string, over: Partial<UserStatusRecord> = {}): UserStatusRecord => ({ ...unknownUser(userId), ...over });

  describe(`HistoryStore contract: ${name}`, () => {
    test("write is idempotent per key: a retried batch, or a key twice in one batch, is stored once", async () => {
      const s = await fresh();
      const day = scriptedDay();
      expect(await s.write(day)).toEqual({ inserted: day.length });
      expect(await s.write(day)).toEqual({ inserted: 0 });
      expect(await s.write([day[0]!, row({ key: "new", timeMs: at(13), kind: "status", userId: "x" }), row({ key: "new", timeMs: at(13), kind: "status", userId: "x" })])).toEqual({ inserted: 1 });
      const page = await s.listActivity(all(), undefined, 1000);
      expect(page.rows).toHaveLength(day.length + 1);
      expect(page.next).toBeUndefined();
      // Every field survives the round trip.
      expect(page.rows.find((r) => r.key === day[2]!.key)).toEqual(day[2]);
    });

    test("filters: exact room, prefix pattern (wildcards in names are literal), user, kinds, time range, invisible", async () => {
      const s = await fresh();
      await s.write([
        ...scriptedDay(),
        member("/a_b/x", "e", 1, at(9), "join", "u1", "k1", [1, 1, 0]),
        member("/aXb/y", "e", 1, at(9), "join", "u2", "k2", [1, 1, 0]),
        member("/a%b", "e", 1, at(9), "join", "u3", "k3", [1, 1, 0], { invisible: true }),
      ]);
      expect((await s.listActivity(all({ room: { exact: "/doc/2" } }), undefined, 100)).rows.map((r) => r.userId)).toEqual(["cy"]);
      expect((await s.listActivity(all({ room: { prefix: "/doc/" } }), undefined, 100)).rows).toHaveLength(9);
      expect((await s.listActivity(all({ room: { prefix: "/a_" } }), undefined, 100)).rows.map((r) => r.room)).toEqual(["/a_b/x"]);
      expect((await s.listActivity(all({ room: { prefix: "/a%" } }), undefined, 100)).rows.map((r) => r.room)).toEqual(["/a%b"]);
      expect((await s.listActivity(all({ room: { prefix: "/a%" }, includeInvisible: false }), undefined, 100)).rows).toEqual([]);
      expect(keys((await s.listActivity(all({ userId: "ana" }), undefined, 100)).rows)).toEqual(["m:/doc/1:e1:1", "s:1", "m:/doc/1:e1:4", "m:/doc/1:e1:5", "m:/doc/1:e1:8"]);
      expect((await s.listActivity(all({ kinds: ["leave"] }), undefined, 100)).rows.map((r) => r.reason)).toEqual(["left", "timeout", "left"]);
      expect((await s.listActivity(all({ kinds: ["admin", "status"] }), undefined, 100)).rows.map((r) => r.kind)).toEqual(["status", "admin"]);
      // [since, until): an event exactly at `until` is outside.
      expect(keys((await s.listActivity(all({ sinceMs: at(10), untilMs: at(11) }), undefined, 100)).rows)).toEqual(["m:/doc/1:e1:4", "m:/doc/1:e1:5", "m:/doc/1:e1:6", "a:1"]);
    });

    test("pages: keyset pagination in both orders returns every row once, in order, ties broken stably", async () => {
      const s = await fresh();
      const rows = Array.from({ length: 25 }, (_, i) => row({ key: `k${i}`, timeMs: at(9, Math.floor(i / 3)), kind: "status", userId: `u${i}` }));
      await s.write(rows);
      for (const newestFirst of [false, true]) {
        const seen: string[] = [];
        let after;
        let pages = 0;
        do {
          const p = await s.listActivity(all({ newestFirst }), after, 4);
          seen.push(...keys(p.rows));
          after = p.next;
          pages++;
        } while (after);
        expect(pages).toBe(7);
        expect(new Set(seen).size).toBe(25);
        const times = seen.map((k) => rows.find((r) => r.key === k)!.timeMs);
        expect(times).toEqual([...times].sort((a, b) => (newestFirst ? b - a : a - b)));
      }
      const exported: ActivityRecord[][] = [];
      for await (const page of s.exportActivity(all(), 10)) exported.push(page);
      expect(exported.map((p) => p.length)).toEqual([10, 10, 5]);
    });

    test("roomAt reconstructs who was there from the log", async () => {
      const s = await fresh();
      await s.write(scriptedDay());
      expect(await s.roomAt("/doc/1", at(8), true)).toMatchObject({ epoch: "", connections: 0, members: [] });
      const r1005 = await s.roomAt("/doc/1", at(10, 5), true);
      expect(r1005).toMatchObject({ epoch: "e1", version: 4, users: 1, connections: 2, anonymous: 1, gaps: 0 });
      expect(r1005.members).toEqual([{ userId: "bob", connectionId: "c2", joinedAtMs: at(9, 30), name: "BOB", invisible: false }]);
      const r1016 = await s.roomAt("/doc/1", at(10, 16), true);
      expect(r1016.members.map((m) => [m.userId, m.connectionId, m.joinedAtMs])).toEqual([
        ["bob", "c2", at(9, 30)],
        ["ana", "c3", at(10, 15)],
      ]);
      // At the exact time of an event, the event has happened.
      expect((await s.roomAt("/doc/1", at(11), true)).members.map((m) => m.connectionId)).toEqual(["c3"]);
      expect(await s.roomAt("/doc/1", at(13), true)).toMatchObject({ version: 8, connections: 0, members: [] });
    });

    test("roomAt follows the epoch in force: members of a lost epoch (Redis restarted empty) are not carried over", async () => {
      const s = await fresh();
      await s.write([
        member("/r", "old", 1, at(9), "join", "ana", "c1", [1, 1, 0]),
        member("/r", "old", 2, at(9, 5), "join", "bob", "c2", [2, 2, 0]),
        member("/r", "new", 1, at(9, 10), "join", "bob", "c2", [1, 1, 0]),
        member("/r", "hid", 1, at(11), "join", "eve", "c5", [1, 1, 0], { invisible: true }),
      ]);
      const r = await s.roomAt("/r", at(9, 20), true);
      expect([r.epoch, r.connections, r.members.map((m) => m.userId)]).toEqual(["new", 1, ["bob"]]);
      expect((await s.roomAt("/r", at(12), true)).members.map((m) => m.userId)).toEqual(["eve"]);
      expect((await s.roomAt("/r", at(12), false)).members).toEqual([]);
    });

    test("statistics of the scripted day equal the hand-computed values", async () => {
      const s = await fresh();
      await s.write(scriptedDay());
      // Connections over time: 1×30 + 2×15 + 3×15 + 2×15 + 3×5 + 2×40 + 1×60 = 290 connection-minutes.
      expect(await s.roomStatistics("/doc/1", at(9), at(13))).toEqual({
        room: "/doc/1",
        sinceMs: at(9),
        untilMs: at(13),
        uniqueUsers: 2,
        sessions: 4, // c1, c2, the anonymous viewer, c3
        totalPresenceMs: 290 * MIN,
        averagePresenceMs: (290 * MIN) / 4,
        peakConnections: 3,
        peakAtMs: at(9, 45),
        joinsPerHour: [
          { hourStartMs: at(9), joins: 3 },
          { hourStartMs: at(10), joins: 1 },
        ],
        gaps: 0,
      });
      // From 10:10: two connections already there (bob, the viewer), then c3. 2×5 + 3×5 + 2×40 + 1×30 = 135.
      expect(await s.roomStatistics("/doc/1", at(10, 10), at(11, 30))).toMatchObject({
        uniqueUsers: 2,
        sessions: 3,
        totalPresenceMs: 135 * MIN,
        averagePresenceMs: 45 * MIN,
        peakConnections: 3,
        peakAtMs: at(10, 15),
        joinsPerHour: [{ hourStartMs: at(10), joins: 1 }],
      });
      // Already at its peak when the range starts: the peak time is the range start.
      expect(await s.roomStatistics("/doc/1", at(10, 16), at(10, 18))).toMatchObject({ peakConnections: 3, peakAtMs: at(10, 16), totalPresenceMs: 6 * MIN, sessions: 3 });
      expect(await s.roomStatistics("/nowhere", at(9), at(13))).toMatchObject({ uniqueUsers: 0, sessions: 0, totalPresenceMs: 0, averagePresenceMs: 0, peakConnections: 0, peakAtMs: 0, joinsPerHour: [] });
    });

    test("gap rows are counted by roomAt and statistics whose range they meet", async () => {
      const s = await fresh();
      await s.write([...scriptedDay(), row({ key: "g:1", timeMs: at(10, 1), kind: "gap", reason: "overflow", detail: { dropped: 12, untilMs: at(10, 3) } })]);
      expect((await s.roomStatistics("/doc/1", at(9), at(13))).gaps).toBe(1);
      expect((await s.roomStatistics("/doc/1", at(10, 4), at(13))).gaps).toBe(0);
      expect((await s.roomAt("/doc/1", at(10, 2), true)).gaps).toBe(1);
    });

    test("recentEpochs: the first version missing per (room, epoch) recorded since a time", async () => {
      const s = await fresh();
      await s.write([
        ...scriptedDay(), // /doc/1 e1 v1..8 complete, /doc/2 x1 v1
        member("/hole", "h", 1, at(9), "join", "a", "c1", [1, 1, 0]),
        member("/hole", "h", 2, at(9, 1), "join", "b", "c2", [2, 2, 0]),
        member("/hole", "h", 5, at(9, 5), "leave", "a", "c1", [1, 1, 0]),
        member("/hole", "h", 7, at(9, 7), "leave", "b", "c2", [0, 0, 0]),
        member("/late", "l", 3, at(9, 3), "join", "a", "c3", [1, 1, 0]),
        member("/old", "o", 1, at(1), "join", "a", "c4", [1, 1, 0]),
      ]);
      const got = await s.recentEpochs(at(8));
      expect(got).toEqual([
        { room: "/doc/1", epoch: "e1", firstMissing: 9, nextRecorded: undefined },
        { room: "/doc/2", epoch: "x1", firstMissing: 2, nextRecorded: undefined },
        { room: "/hole", epoch: "h", firstMissing: 3, nextRecorded: 5 },
        { room: "/late", epoch: "l", firstMissing: 1, nextRecorded: 3 },
      ]);
      expect(await s.recentEpochs(at(13))).toEqual([]);
    });

    test("user status: saved, loaded, unknown users absent; flagged users newest first", async () => {
      const s = await fresh();
      const ana = durableChange(rec("ana", { lastSeenMs: at(9), visibleLastSeenMs: at(9), customStatus: "lunch" }), at(9), { customStatus: "lunch" });
      const bob = durableChange(rec("bob", { invisible: true, visibleLastSeenMs: at(7) }), at(8), { invisible: true });
      await s.saveUserStatus([ana, bob]);
      await s.saveUserStatus([durableChange(rec("ana", { customStatus: "stale" }), at(8), { customStatus: "stale" })]); // an older SetStatus: ignored
      await s.saveUserStatus([durableChange(rec("ana", { customStatus: "first" }), at(10), { customStatus: "first" }), durableChange(rec("ana", { customStatus: "newest" }), at(11), { customStatus: "newest" })]);
      const got = await s.loadUserStatus(["ana", "bob", "nobody"]);
      expect(got.sort((a, b) => a.userId.localeCompare(b.userId))).toEqual([
        { ...ana, customStatus: "newest", updatedMs: at(11), customStatusMs: at(11) },
        { ...bob, lastSeenMs: 0 },
      ]);
      expect(await s.loadUserStatus([])).toEqual([]);
      await s.saveUserStatus([durableChange(rec("plain"), at(12))]);
      expect((await s.loadFlaggedUserStatus(10)).map((u) => u.userId)).toEqual(["ana", "bob"]);
      expect((await s.loadFlaggedUserStatus(1)).map((u) => u.userId)).toEqual(["ana"]);
    });

    test("user status: the database folds changes exactly like core/durable-status.ts (a blank record after a data loss never erases the flags; every SetStatus is written)", async () => {
      const s = await fresh();
      // Random change sequences of a few users, written in random batches (each batch also folded
      // in memory first, as the write-through queue does), compared with the pure fold.
      let seed = 20261207;
      const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
      const users = ["u0", "u1", "u2"];
      const expected = new Map<string, DurableUserStatus>();
      let t = at(1);
      for (let batch = 0; batch < 25; batch++) {
        const changes: DurableUserStatus[] = [];
        for (let k = 0, n = 1 + rand(4); k < n; k++) {
          const userId = users[rand(users.length)]!;
          t += 1 + rand(1_000);
          const invisible = rand(2) === 0;
          const status = rec(userId, { state: rand(2) === 0 ? "offline" : "online", lastSeenMs: t - rand(2_000), visibleLastSeenMs: t - rand(5_000), customStatus: ["", "x", "y"][rand(3)]!, invisible });
          const kind = rand(4); // 0: set invisible, 1: set custom status, 2: both, 3: a session's change (the store's record: maybe blank)
          const settings = kind === 3 ? undefined : { ...(kind !== 1 ? { invisible } : {}), ...(kind !== 0 ? { customStatus: status.customStatus } : {}) };
          const change = durableChange(status, t, settings);
          changes.push(change);
          expected.set(userId, foldDurableStatus(expected.get(userId), change));
        }
        await s.saveUserStatus(changes);
      }
      const got = await s.loadUserStatus(users);
      expect(got.sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(users.filter((u) => expected.has(u)).map((u) => expected.get(u)));
    });

    test("prune deletes old activity and old statuses in batches, and nothing newer", async () => {
      const s = await fresh();
      await s.write(Array.from({ length: 23 }, (_, i) => row({ key: `old${i}`, timeMs: at(1, i), kind: "status", userId: "u" })));
      await s.write(scriptedDay());
      await s.saveUserStatus([durableChange(rec("gone", { lastSeenMs: at(1) }), at(1)), durableChange(rec("kept", { lastSeenMs: at(1), invisible: true, visibleLastSeenMs: at(1) }), at(9), { invisible: true })]);
      expect(await s.prune({ activityBeforeMs: at(9), lastSeenBeforeMs: at(5), batchSize: 5 })).toEqual({ activity: 23, userStatus: 1 });
      expect((await s.listActivity(all(), undefined, 100)).rows).toHaveLength(scriptedDay().length);
      expect((await s.loadUserStatus(["gone", "kept"])).map((u) => u.userId)).toEqual(["kept"]);
      expect(await s.prune({ activityBeforeMs: at(9), lastSeenBeforeMs: at(5), batchSize: 5, shouldStop: () => true })).toEqual({ activity: 0, userStatus: 0 });
    });
  });
}
