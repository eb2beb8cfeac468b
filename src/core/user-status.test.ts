import { describe, expect, it } from "vitest";
import { presentUserIds, stateOf, unknownUser, visibleStatus, newerRestore, restoresSomething, withDurable, withLastActive, type UserStatusRecord } from "./user-status.js";

describe("user status", () => {
  it("is online with any active session, away when all are away, offline with none", () => {
    expect(stateOf(["away", "active"])).toBe("online");
    expect(stateOf(["away", "away"])).toBe("away");
    expect(stateOf([])).toBe("offline");
  });

  it("shows the answer time as last seen while present, the session end while offline", () => {
    const online: UserStatusRecord = { ...unknownUser("ana"), state: "online", lastSeenMs: 100, visibleLastSeenMs: 100 };
    expect(visibleStatus(online, "bob", 5_000).lastSeenMs).toBe(5_000);
    const offline: UserStatusRecord = { ...unknownUser("ana"), lastSeenMs: 100, visibleLastSeenMs: 100 };
    expect(visibleStatus(offline, "bob", 5_000).lastSeenMs).toBe(100);
  });

  it("an invisible user looks offline to others, with the custom status hidden, and real to themself", () => {
    const r: UserStatusRecord = { userId: "ana", state: "online", lastSeenMs: 0, customStatus: "in a meeting", invisible: true, visibleLastSeenMs: 700 };
    expect(visibleStatus(r, "bob", 9_000)).toEqual({ userId: "ana", state: "offline", lastSeenMs: 700, customStatus: "", invisible: false, visibleLastSeenMs: 700 });
    expect(visibleStatus(r, "", 9_000).state).toBe("offline"); // anonymous and service viewers too
    expect(visibleStatus(r, "ana", 9_000)).toMatchObject({ state: "online", invisible: true, customStatus: "in a meeting", lastSeenMs: 9_000 });
  });

  it("tells last activity only for users shown online or away (never for hidden or offline ones)", () => {
    const rec = (userId: string, state: UserStatusRecord["state"], invisible = false): UserStatusRecord => ({ userId, state, lastSeenMs: 0, customStatus: "", invisible, visibleLastSeenMs: 0 });
    const shown = [rec("ana", "online"), rec("bob", "away"), rec("cy", "online", true), rec("dee", "offline")].map((r) => visibleStatus(r, "viewer", 5_000));
    expect(presentUserIds(shown)).toEqual(["ana", "bob"]);
    const active = new Map([["ana", 4_000], ["bob", 3_000], ["cy", 4_500], ["dee", 1_000]]);
    expect(withLastActive(shown, active).map((r) => r.lastActiveMs)).toEqual([4_000, 3_000, undefined, undefined]);
    expect(withLastActive(shown, undefined)).toBe(shown);
  });
});

describe("durable status over the store's record (history)", () => {
  const blank = { userId: "eve", state: "online" as const, lastSeenMs: 0, customStatus: "", invisible: false, visibleLastSeenMs: 0 };
  const durable = { lastSeenMs: 5_000, visibleLastSeenMs: 4_000, customStatus: "away", invisible: true };

  it("withDurable completes only a user the store never saw (offline, no last seen)", () => {
    const offline = { ...blank, state: "offline" as const };
    expect(withDurable(offline, durable)).toEqual({ ...offline, lastSeenMs: 5_000, visibleLastSeenMs: 4_000, customStatus: "away", invisible: true });
    expect(withDurable({ ...offline, lastSeenMs: 7_000 }, durable)).toEqual({ ...offline, lastSeenMs: 7_000 });
    expect(withDurable(blank, durable)).toBe(blank);
    expect(withDurable(offline, undefined)).toBe(offline);
  });

  it("newerRestore takes the settings of the newer restore and the later last seen; restoresSomething skips blank ones", () => {
    const a = { lastSeenMs: 5_000, visibleLastSeenMs: 4_000, customStatus: "away", invisible: true, changedAtMs: 100 };
    const b = { lastSeenMs: 3_000, visibleLastSeenMs: 3_000, customStatus: "", invisible: false, changedAtMs: 200 };
    expect(newerRestore(a, b)).toEqual({ ...b, lastSeenMs: 5_000 });
    expect(newerRestore(b, a)).toEqual({ ...b, lastSeenMs: 5_000 });
    expect(newerRestore(a, undefined)).toBe(a);
    expect(newerRestore(undefined, undefined)).toBeUndefined();
    expect([a, b, { ...b, lastSeenMs: 0 }, undefined].map(restoresSomething)).toEqual([true, true, false, false]);
  });
});
