import { describe, expect, it } from "vitest";
import { applySetStatus, applyUserSession, applyUserSessionEnd, createUserPresence, pruneUsers, userStatusOf } from "./user-presence.js";

const RETENTION = 10_000;

describe("user presence", () => {
  it("aggregates sessions: online with an active one, away when all are away, offline with none (last seen = end)", () => {
    const t = createUserPresence();
    expect(applyUserSession(t, "ana", "s1", "away", 10, RETENTION)).toMatchObject({ state: "away" });
    expect(applyUserSession(t, "ana", "s2", "active", 20, RETENTION)).toMatchObject({ state: "online" });
    expect(applyUserSession(t, "ana", "s2", "active", 30, RETENTION)).toBeNull(); // no change
    expect(applyUserSessionEnd(t, "ana", "s2", 40, RETENTION)).toMatchObject({ state: "away", lastSeenMs: 0 });
    expect(applyUserSessionEnd(t, "ana", "nope", 45, RETENTION)).toBeNull();
    expect(applyUserSessionEnd(t, "ana", "s1", 50, RETENTION)).toEqual({ userId: "ana", state: "offline", lastSeenMs: 50, customStatus: "", invisible: false, visibleLastSeenMs: 50 });
  });

  it("aggregates many sessions of one user the same way (above the small pair list: a Map)", () => {
    const t = createUserPresence();
    for (let i = 0; i < 20; i++) applyUserSession(t, "svc", `s${i}`, "away", 10 + i, RETENTION);
    expect(userStatusOf(t, "svc", 40, RETENTION)).toMatchObject({ state: "away" });
    expect(applyUserSession(t, "svc", "s13", "active", 50, RETENTION)).toMatchObject({ state: "online" });
    expect(applyUserSession(t, "svc", "s13", "active", 55, RETENTION)).toBeNull();
    expect(applyUserSessionEnd(t, "svc", "s13", 60, RETENTION)).toMatchObject({ state: "away", lastSeenMs: 0 });
    expect(applyUserSessionEnd(t, "svc", "s13", 61, RETENTION)).toBeNull(); // already ended
    for (let i = 0; i < 20; i++) if (i !== 13) applyUserSessionEnd(t, "svc", `s${i}`, 70 + i, RETENTION);
    expect(userStatusOf(t, "svc", 100, RETENTION)).toMatchObject({ state: "offline", lastSeenMs: 89 });
    // 1,000 sessions of one identity (a service), ended again: offline with the last end as last seen.
    for (let i = 0; i < 1_000; i++) applyUserSession(t, "many", `m${i}`, "away", 200, RETENTION);
    expect(userStatusOf(t, "many", 200, RETENTION)).toMatchObject({ state: "away" });
    for (let i = 999; i >= 0; i--) applyUserSessionEnd(t, "many", `m${i}`, 300 + i, RETENTION);
    expect(userStatusOf(t, "many", 2_000, RETENTION)).toMatchObject({ state: "offline", lastSeenMs: 300 });
  });

  it("invisible freezes the last seen others see; custom status and the flag commit only on change", () => {
    const t = createUserPresence();
    applyUserSession(t, "ana", "s1", "active", 100, RETENTION);
    expect(applySetStatus(t, "ana", { customStatus: "busy" }, 200, RETENTION)).toMatchObject({ changed: true, status: { customStatus: "busy" } });
    expect(applySetStatus(t, "ana", { customStatus: "busy" }, 210, RETENTION).changed).toBe(false);
    expect(applySetStatus(t, "ana", { invisible: true }, 300, RETENTION)).toMatchObject({ changed: true, status: { invisible: true, visibleLastSeenMs: 300 } });
    expect(applyUserSessionEnd(t, "ana", "s1", 400, RETENTION)).toMatchObject({ state: "offline", lastSeenMs: 400, visibleLastSeenMs: 300 });
    expect(applySetStatus(t, "ana", { invisible: false }, 500, RETENTION).status).toMatchObject({ invisible: false, visibleLastSeenMs: 400 });
    // Going invisible while offline shows the real last seen, not the time of the change.
    expect(applySetStatus(t, "ana", { invisible: true }, 600, RETENTION).status).toMatchObject({ visibleLastSeenMs: 400 });
  });

  it("forgets an offline user after the retention (unknown again), never one with sessions", () => {
    const t = createUserPresence();
    applyUserSession(t, "ana", "s1", "active", 0, RETENTION);
    applyUserSession(t, "bob", "s2", "active", 0, RETENTION);
    applySetStatus(t, "ana", { customStatus: "gone fishing" }, 1, RETENTION);
    applyUserSessionEnd(t, "ana", "s1", 1_000, RETENTION);
    expect(userStatusOf(t, "ana", 10_999, RETENTION)).toMatchObject({ lastSeenMs: 1_000, customStatus: "gone fishing" });
    expect(userStatusOf(t, "ana", 11_000, RETENTION)).toMatchObject({ state: "offline", lastSeenMs: 0, customStatus: "" });
    pruneUsers(t, 1_000_000, RETENTION);
    expect([...t.keys()]).toEqual(["bob"]);
  });

  it("a session that creates the user's record starts it from the restore, in the same commit; an existing record ignores it", () => {
    const t = createUserPresence();
    const restore = { lastSeenMs: 500, visibleLastSeenMs: 300, customStatus: "secret", invisible: true, changedAtMs: 250 };
    // The committed record already carries the flag: no watcher ever sees her visible.
    expect(applyUserSession(t, "eve", "s1", "active", 1_000, RETENTION, restore)).toEqual({
      userId: "eve", state: "online", lastSeenMs: 500, visibleLastSeenMs: 300, customStatus: "secret", invisible: true,
    });
    // A second session of the same user: the record exists, the restore is ignored.
    applySetStatus(t, "eve", { invisible: false }, 1_100, RETENTION);
    expect(applyUserSession(t, "eve", "s2", "away", 1_200, RETENTION, restore)).toBeNull();
    expect(userStatusOf(t, "eve", 1_200, RETENTION)).toMatchObject({ invisible: false, customStatus: "secret" });
    // Ending sessions after a restore behaves as if the record had never been lost.
    applySetStatus(t, "eve", { invisible: true }, 1_300, RETENTION);
    applyUserSessionEnd(t, "eve", "s1", 1_400, RETENTION);
    expect(applyUserSessionEnd(t, "eve", "s2", 1_500, RETENTION)).toMatchObject({ state: "offline", lastSeenMs: 1_500, visibleLastSeenMs: 1_300, invisible: true });
    // A visible restore shows its last seen.
    expect(applyUserSession(t, "ana", "s3", "active", 2_000, RETENTION, { ...restore, invisible: false, customStatus: "" })).toMatchObject({ lastSeenMs: 500, visibleLastSeenMs: 500, invisible: false });
  });
});
