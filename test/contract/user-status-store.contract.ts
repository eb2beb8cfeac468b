import { expect, it } from "vitest";
import type { Commit } from "../../src/core/commit.js";
import type { UserStatusRecord } from "../../src/core/user-status.js";
import { ana, bob, code, OWNER_ANA, OWNER_BOB, type MakeHarness } from "./contract-harness.js";

/** The UserStatusStore port's contract (see contract-harness.ts for the timings the suite expects). */
export function userStatusStoreContract(make: MakeHarness) {
  it("user status: online, away, offline with last seen; changes published once; unknown users offline", async () => {
    const { store, clock, settle } = await make();
    const seen: string[] = [];
    const off = store.subscribeUsers(["ana", "bob"], (r) => seen.push(`${r.userId}:${r.state}`));
    await settle();
    expect(await store.getUserStatus(["ana", "zed"])).toMatchObject([{ userId: "ana", state: "offline", lastSeenMs: 0 }, { userId: "zed", state: "offline" }]);
    const a1 = await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const a2 = await store.join({ room: "s", ownerKey: OWNER_ANA, identity: ana, metadata: {}, activity: "away" });
    await settle();
    expect(seen).toEqual(["ana:online"]); // the second (away) session changes nothing visible
    await store.heartbeat({ sessionId: a1.session.sessionId, ownerKey: OWNER_ANA, activity: "away" });
    await settle();
    expect(seen).toEqual(["ana:online", "ana:away"]);
    clock.advance(10);
    await store.leave({ sessionId: a1.session.sessionId, ownerKey: OWNER_ANA, room: "r", reason: "left" });
    await settle();
    expect(seen).toEqual(["ana:online", "ana:away"]);
    const endMs = clock.now();
    await store.leave({ sessionId: a2.session.sessionId, ownerKey: OWNER_ANA, room: "s", reason: "left" });
    await settle();
    expect(seen).toEqual(["ana:online", "ana:away", "ana:offline"]);
    expect((await store.getUserStatus(["ana"]))[0]).toMatchObject({ state: "offline", lastSeenMs: endMs });
    // Anonymous sessions have no user status.
    await store.join({ room: "r", ownerKey: "", identity: { kind: "anonymous", anonymousId: "x" }, metadata: {} });
    await settle();
    expect(seen).toHaveLength(3);
    off();
  });

  it("user status: a reaped session sets last seen; custom status and invisibility via setStatus", async () => {
    const { store, clock, settle } = await make();
    const seen: { state: string; custom: string; invisible: boolean }[] = [];
    store.subscribeUsers(["ana"], (r) => seen.push({ state: r.state, custom: r.customStatus, invisible: r.invisible }));
    await settle();
    const j = await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const ref = { sessionId: j.session.sessionId, ownerKey: OWNER_ANA };
    expect(await store.setStatus({ ...ref, customStatus: "in a meeting" })).toMatchObject({ customStatus: "in a meeting", state: "online" });
    expect(await store.setStatus({ ...ref, customStatus: "in a meeting" })).toMatchObject({ customStatus: "in a meeting" });
    const wentInvisible = clock.now();
    expect(await store.setStatus({ ...ref, invisible: true })).toMatchObject({ invisible: true, visibleLastSeenMs: wentInvisible });
    await settle();
    expect(seen).toEqual([
      { state: "online", custom: "", invisible: false },
      { state: "online", custom: "in a meeting", invisible: false },
      { state: "online", custom: "in a meeting", invisible: true },
    ]);
    expect(await code(store.setStatus({ ...ref, ownerKey: OWNER_BOB, invisible: false }))).toBe("SESSION_NOT_FOUND");
    clock.advance(301);
    await store.reap();
    const [r] = await store.getUserStatus(["ana"]);
    expect(r).toMatchObject({ state: "offline", lastSeenMs: clock.now(), visibleLastSeenMs: wentInvisible, customStatus: "in a meeting" });
  });

  it("user status: a join that creates the user's record restores the durable status in the same commit; an existing record ignores it; SetStatus commits say what they set", async () => {
    const { store, clock, settle } = await make();
    const seen: UserStatusRecord[] = [];
    store.subscribeUsers(["ana"], (r) => seen.push(r));
    const commits: Commit[] = [];
    const stop = store.onCommit((c) => commits.push(c));
    await settle();
    const restore = { lastSeenMs: clock.now() - 5_000, visibleLastSeenMs: clock.now() - 9_000, customStatus: "secret", invisible: true, changedAtMs: clock.now() - 9_000 };
    // No record of ana (a Redis data loss, a cold start): the join publishes her restored, never visible.
    const j = await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {}, restoreStatus: restore });
    await settle();
    const restored = { userId: "ana", state: "online", lastSeenMs: restore.lastSeenMs, visibleLastSeenMs: restore.visibleLastSeenMs, customStatus: "secret", invisible: true };
    expect(seen).toMatchObject([restored]);
    expect(await store.getUserStatus(["ana"])).toMatchObject([restored]);
    // Her record exists now: another join's restore changes nothing.
    await store.join({ room: "s", ownerKey: OWNER_ANA, identity: ana, metadata: {}, restoreStatus: { ...restore, invisible: false, customStatus: "" } });
    const ref = { sessionId: j.session.sessionId, ownerKey: OWNER_ANA };
    // Un-hiding right away is a change of the store's record (she came back invisible), committed with what it set.
    clock.advance(10);
    expect(await store.setStatus({ ...ref, invisible: false })).toMatchObject({ invisible: false, customStatus: "secret" });
    await store.setStatus({ ...ref, presence: "away" });
    await settle();
    const statusCommits = commits.filter((c) => c.type === "user_status");
    expect(statusCommits.map((c) => [c.status.invisible, c.settings])).toEqual([
      [true, undefined], // the join: a session's change
      [false, { invisible: false }],
      [false, undefined], // a manual presence sets neither the custom status nor the flag
    ]);
    // A visible restore shows its last seen; a blank one restores nothing.
    await store.join({ room: "r", ownerKey: OWNER_BOB, identity: bob, metadata: {}, restoreStatus: { ...restore, invisible: false, customStatus: "" } });
    expect(await store.getUserStatus(["bob"])).toMatchObject([{ state: "online", lastSeenMs: restore.lastSeenMs, invisible: false, customStatus: "" }]);
    stop();
  });
}
