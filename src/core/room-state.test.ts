import { describe, expect, it } from "vitest";
import type { Member } from "./presence-event.js";
import {
  applyActivity,
  applyJoin,
  applyLeave,
  applyTyping,
  buildRoomView,
  createRoomState,
  readLogFrom,
  trimLog,
} from "./room-state.js";

const user = (id: string, conn: string, meta: Record<string, string> = {}): Member => ({
  connectionId: conn,
  identity: { kind: "user", user: { userId: id, name: id.toUpperCase(), avatarUrl: "", metadata: {} } },
  metadata: meta,
  activity: "active",
  joinedAtMs: 1,
});
const anon = (id: string, conn: string): Member => ({
  connectionId: conn,
  identity: { kind: "anonymous", anonymousId: id },
  metadata: {},
  activity: "active",
  joinedAtMs: 1,
});

describe("room state", () => {
  it("bumps the version exactly once per real change and not for no-ops", () => {
    const s = createRoomState("r", "e1");
    const j = applyJoin(s, user("ana", "c1"), 10);
    expect(j).toMatchObject({ kind: "joined", version: 1, firstOfUser: true, counts: { users: 1, connections: 1, anonymous: 0 } });
    expect(applyJoin(s, user("ana", "c1"), 11)).toBeNull();
    expect(s.version).toBe(1);
    const u = applyJoin(s, user("ana", "c1", { color: "red" }), 12);
    expect(u).toMatchObject({ kind: "updated", version: 2 });
    expect(applyLeave(s, "nope", "left", 13).event).toBeNull();
    expect(s.version).toBe(2);
    const l = applyLeave(s, "c1", "left", 14).event;
    expect(l).toMatchObject({ kind: "left", version: 3, lastOfUser: true, reason: "left" });
    expect(applyLeave(s, "c1", "left", 15).event).toBeNull();
    expect(s.version).toBe(3);
  });

  it("groups connections by user and flags first and last of user", () => {
    const s = createRoomState("r", "e");
    applyJoin(s, user("ana", "c1"), 1);
    const second = applyJoin(s, user("ana", "c2"), 2);
    expect(second).toMatchObject({ kind: "joined", firstOfUser: false, counts: { users: 1, connections: 2 } });
    const view = buildRoomView(s, { includeMembers: true, nowMs: 3, cursorTtlMs: 10_000 });
    expect(view.users).toHaveLength(1);
    expect(view.users[0]!.connections.map((c) => c.connectionId)).toEqual(["c1", "c2"]);
    expect(applyLeave(s, "c1", "left", 4).event).toMatchObject({ lastOfUser: false, counts: { users: 1, connections: 1 } });
    expect(applyLeave(s, "c2", "timeout", 5).event).toMatchObject({ lastOfUser: true, reason: "timeout", counts: { users: 0 } });
  });

  it("counts anonymous viewers by anonymous id and never lists them", () => {
    const s = createRoomState("r", "e");
    expect(applyJoin(s, anon("a1", "c1"), 1)).toMatchObject({ kind: "anonymous", viewersDelta: 1, connectionsDelta: 1 });
    expect(applyJoin(s, anon("a1", "c2"), 1)).toMatchObject({ kind: "anonymous", viewersDelta: 0, connectionsDelta: 1 });
    applyJoin(s, anon("a2", "c3"), 1);
    applyJoin(s, user("bob", "c4"), 1);
    const v = buildRoomView(s, { includeMembers: true, nowMs: 2, cursorTtlMs: 1 });
    expect(v.counts).toEqual({ users: 1, connections: 4, anonymous: 2 });
    expect(v.users.map((u) => u.user.userId)).toEqual(["bob"]);
    expect(applyLeave(s, "c1", "left", 3).event).toMatchObject({ kind: "anonymous", viewersDelta: 0, connectionsDelta: -1 });
    expect(applyLeave(s, "c2", "left", 3).event).toMatchObject({ kind: "anonymous", viewersDelta: -1, counts: { anonymous: 1 } });
    // Anonymous activity changes are invisible: no version bump.
    const before = s.version;
    expect(applyActivity(s, "c3", "away", 4)).toBeNull();
    expect(s.version).toBe(before);
  });

  it("activity changes are one update; unchanged activity is a no-op", () => {
    const s = createRoomState("r", "e");
    applyJoin(s, user("ana", "c1"), 1);
    expect(applyActivity(s, "c1", "active", 2)).toBeNull();
    expect(applyActivity(s, "c1", "away", 3)).toMatchObject({ kind: "updated", version: 2 });
    expect(buildRoomView(s, { includeMembers: true, nowMs: 4, cursorTtlMs: 1 }).users[0]!.activity).toBe("away");
  });

  it("typing: start broadcasts, repeat inside the TTL refreshes silently, expiry needs no broadcast", () => {
    const s = createRoomState("r", "e");
    expect(applyTyping(s, "ana", true, 0, 5_000)).toBe("changed");
    expect(applyTyping(s, "ana", true, 4_000, 5_000)).toBe("refreshed");
    expect(s.typing.get("ana")).toBe(9_000);
    expect(applyTyping(s, "ana", false, 5_000, 5_000)).toBe("changed");
    expect(applyTyping(s, "ana", false, 5_001, 5_000)).toBe("noop");
    applyTyping(s, "bob", true, 10_000, 5_000);
    expect(applyTyping(s, "bob", true, 15_000, 5_000)).toBe("changed"); // expired: a new start
    expect(applyTyping(s, "bob", false, 21_000, 5_000)).toBe("noop"); // expired already
  });

  it("the last connection leaving stops typing and removes its cursor", () => {
    const s = createRoomState("r", "e");
    applyJoin(s, user("ana", "c1"), 0);
    applyTyping(s, "ana", true, 0, 5_000);
    s.cursors.set("c1", { connectionId: "c1", userId: "ana", position: { x: 1, y: 2, element: "", selectionStart: 0, selectionEnd: 0 }, updatedAtMs: 0 });
    const out = applyLeave(s, "c1", "left", 1);
    expect(out.typingStopped).toBe("ana");
    expect(out.cursorRemoved).toBe(true);
  });

  it("cursors older than the TTL and expired typing are left out of views", () => {
    const s = createRoomState("r", "e");
    applyJoin(s, user("ana", "c1"), 0);
    s.cursors.set("c1", { connectionId: "c1", userId: "ana", position: { x: 1, y: 2, element: "", selectionStart: 0, selectionEnd: 0 }, updatedAtMs: 0 });
    applyTyping(s, "ana", true, 0, 5_000);
    expect(buildRoomView(s, { includeMembers: true, nowMs: 4_000, cursorTtlMs: 10_000 })).toMatchObject({ cursors: [{ connectionId: "c1" }], typing: [{ userId: "ana", expiresInMs: 1_000 }] });
    const later = buildRoomView(s, { includeMembers: true, nowMs: 10_000, cursorTtlMs: 10_000 });
    expect(later.cursors).toEqual([]);
    expect(later.typing).toEqual([]);
  });

  it("replays the log only when epoch matches and version + 1 is kept", () => {
    const s = createRoomState("r", "E");
    for (let i = 0; i < 10; i++) applyJoin(s, user(`u${i}`, `c${i}`), i);
    expect(readLogFrom(s, { epoch: "E", version: 7 })!.map((e) => e.version)).toEqual([8, 9, 10]);
    expect(readLogFrom(s, { epoch: "E", version: 10 })).toEqual([]);
    expect(readLogFrom(s, { epoch: "E", version: 11 })).toBeNull();
    expect(readLogFrom(s, { epoch: "other", version: 7 })).toBeNull();
    trimLog(s, 5, 1_000_000, 10);
    expect(s.log.map((e) => e.version)).toEqual([6, 7, 8, 9, 10]);
    expect(readLogFrom(s, { epoch: "E", version: 5 })!.map((e) => e.version)).toEqual([6, 7, 8, 9, 10]);
    expect(readLogFrom(s, { epoch: "E", version: 4 })).toBeNull();
    trimLog(s, 100, 3, 10); // only entries newer than 10 - 3 = 7 ms, but always the newest one
    expect(s.log.map((e) => e.version)).toEqual([8, 9, 10]);
  });
});
