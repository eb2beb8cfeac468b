import { describe, expect, it } from "vitest";
import { BackendEventRules } from "./backend-events.js";
import type { PresenceEvent } from "./presence-event.js";
import type { UserStatusRecord } from "./user-status.js";

const GRACE = 1_000;
let version = 0;
const counts = (connections: number, users = connections) => ({ users, connections, anonymous: 0 });
const joined = (room: string, userId: string, t: number, first: boolean, connections: number): PresenceEvent => ({
  room,
  epoch: "e1",
  version: ++version,
  timeMs: t,
  counts: counts(connections),
  kind: "joined",
  user: { userId, name: userId, avatarUrl: "", metadata: {} },
  member: { connectionId: `c-${userId}-${version}`, identity: { kind: "user", user: { userId, name: userId, avatarUrl: "", metadata: {} } }, metadata: {}, activity: "active", joinedAtMs: t },
  firstOfUser: first,
});
const left = (room: string, userId: string, t: number, last: boolean, connections: number): PresenceEvent => ({
  room,
  epoch: "e1",
  version: ++version,
  timeMs: t,
  counts: counts(connections),
  kind: "left",
  userId,
  connectionId: `c-${userId}`,
  reason: "left",
  lastOfUser: last,
});
const status = (userId: string, state: UserStatusRecord["state"]): UserStatusRecord => ({ userId, state, lastSeenMs: 0, customStatus: "", invisible: false }) as UserStatusRecord;

describe("backend event rules", () => {
  it("announces occupied and added at once, removed and vacated only after the grace", () => {
    const r = new BackendEventRules(GRACE);
    const j = r.roomEvent(joined("/a", "ana", 100, true, 1));
    expect(j.now.map((e) => e.kind)).toEqual(["room_occupied", "member_added"]);
    expect(j.now[1]!.id).toBe(`/a/e1/${version}/added`);
    expect(r.roomEvent(joined("/a", "ana", 150, false, 2)).now).toEqual([]); // a second tab: nothing
    expect(r.roomEvent(left("/a", "ana", 200, false, 1))).toEqual({ now: [], later: [] });
    const l = r.roomEvent(left("/a", "ana", 300, true, 0));
    expect(l.now).toEqual([]);
    expect(l.later.map((c) => [c.what, c.dueMs])).toEqual([["member_removed", 1_300], ["room_vacated", 1_300]]);
    expect(r.take(1_299)).toEqual([]);
    expect(r.take(1_300).map((c) => c.event.kind)).toEqual(["member_removed", "room_vacated"]);
    expect(r.pendingCount()).toBe(0);
  });

  it("a return inside the grace cancels the departure and announces nothing", () => {
    const r = new BackendEventRules(GRACE);
    r.roomEvent(joined("/b", "bob", 0, true, 1));
    r.roomEvent(left("/b", "bob", 100, true, 0));
    expect(r.pendingCount()).toBe(2);
    expect(r.roomEvent(joined("/b", "bob", 600, true, 1))).toEqual({ now: [], later: [] });
    expect(r.take(10_000)).toEqual([]);
    // A different user arriving in an emptied room: the room's vacancy is cancelled, the user is news.
    r.roomEvent(left("/b", "bob", 700, true, 0));
    expect(r.roomEvent(joined("/b", "cat", 800, true, 1)).now.map((e) => e.kind)).toEqual(["member_added"]);
    expect(r.take(10_000).map((c) => c.what)).toEqual(["member_removed"]);
  });

  it("user online/away at once (repeats suppressed), offline after the grace, a flap suppressed", () => {
    const r = new BackendEventRules(GRACE);
    expect(r.userStatus(status("dan", "online"), 0).now.map((e) => e.kind)).toEqual(["user_online"]);
    expect(r.userStatus(status("dan", "online"), 10).now).toEqual([]);
    expect(r.userStatus(status("dan", "away"), 20).now.map((e) => [e.kind, e.id])).toEqual([["user_away", "user/dan/20/away"]]);
    const off = r.userStatus(status("dan", "offline"), 30);
    expect(off.later.map((c) => c.what)).toEqual(["user_offline"]);
    expect(r.userStatus(status("dan", "away"), 500).now).toEqual([]); // back as before, inside the grace
    expect(r.take(5_000)).toEqual([]);
    r.userStatus(status("dan", "offline"), 600);
    const [due] = r.take(1_600);
    expect(due!.event.kind).toBe("user_offline");
    r.announced(due!);
    expect(r.userStatus(status("dan", "online"), 2_000).now.map((e) => e.kind)).toEqual(["user_online"]);
  });
});
