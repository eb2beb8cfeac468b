import { expect, it } from "vitest";
import { ana, bob, code, OWNER_ANA, OWNER_BOB, record, type MakeHarness } from "./contract-harness.js";

/** The SessionStore port's contract (see contract-harness.ts for the timings the suite expects). */
export function sessionStoreContract(make: MakeHarness) {
  it("join creates a session, bumps the version once, and a repeated join is a no-op", async () => {
    const { store, settle } = await make();
    const rec = await record(store, "r1");
    const j = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, activity: "active" });
    expect(j.session.sessionId.length).toBeGreaterThanOrEqual(22); // ≥ 128 bits base64url
    expect(j.session.resumeSecret).not.toBe(j.session.sessionId);
    expect(j.event).toMatchObject({ kind: "joined", version: 1, firstOfUser: true });
    expect(j.view.users.map((u) => u.user.userId)).toEqual(["ana"]);
    const again = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: j.session.sessionId });
    expect(again.event).toBeNull();
    expect(again.view.version).toBe(1);
    const meta = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: { color: "red" }, sessionId: j.session.sessionId });
    expect(meta.event).toMatchObject({ kind: "updated", version: 2 });
    await settle();
    expect(rec.events().map((e) => [e.kind, e.version])).toEqual([["joined", 1], ["updated", 2]]);
  });

  it("leave is one event; leaving a room the session is not in changes nothing", async () => {
    const { store, settle } = await make();
    const rec = await record(store, "r1");
    const j = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    await store.join({ room: "r2", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: j.session.sessionId });
    expect(await store.leave({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA, room: "r3", reason: "left" })).toEqual({ left: false, sessionEnded: false });
    expect(await store.leave({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA, room: "r1", reason: "left" })).toEqual({ left: true, sessionEnded: false });
    await settle();
    expect(rec.events().map((e) => e.kind)).toEqual(["joined", "left"]);
    expect(await store.leave({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA, room: "r2", reason: "left" })).toEqual({ left: true, sessionEnded: true });
    // The session ended with its last room: it is gone.
    expect(await code(store.heartbeat({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA }))).toBe("SESSION_NOT_FOUND");
  });

  it("only the owner may act on a session; unknown sessions answer SESSION_NOT_FOUND", async () => {
    const { store, settle } = await make();
    const j = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const sid = j.session.sessionId;
    expect(await code(store.heartbeat({ sessionId: sid, ownerKey: OWNER_BOB }))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.leave({ sessionId: sid, ownerKey: OWNER_BOB, room: "r1", reason: "left" }))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.heartbeat({ sessionId: "nope", ownerKey: OWNER_ANA }))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.join({ room: "r2", ownerKey: OWNER_BOB, identity: bob, metadata: {}, sessionId: sid }))).toBe("SESSION_NOT_FOUND");
    expect((await store.getView("r1", { includeMembers: true })).version).toBe(1);
  });

  it("the anonymous owner key is an owner like any other: it cannot heartbeat, attach or leave a user's session", async () => {
    const { store } = await make();
    const j = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const asAnonymous = { sessionId: j.session.sessionId, ownerKey: "" };
    expect(await code(store.heartbeat(asAnonymous))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.heartbeat({ ...asAnonymous, activity: "away" }))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.attach(asAnonymous))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.leave({ ...asAnonymous, room: "r1", reason: "left" }))).toBe("SESSION_NOT_FOUND");
    const v = await store.getView("r1", { includeMembers: true });
    expect(v.users[0]!.activity).toBe("active");
    // And an anonymous session is its owner's ('') alone.
    const anon = await store.join({ room: "r1", ownerKey: "", identity: { kind: "anonymous", anonymousId: "v" }, metadata: {} });
    expect(await code(store.heartbeat({ sessionId: anon.session.sessionId, ownerKey: OWNER_ANA }))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.heartbeat({ sessionId: anon.session.sessionId, ownerKey: "" }))).toBe("ok");
  });

  it("navigate is one leave and one join, keeping the connection id", async () => {
    const { store, settle } = await make();
    const a = await record(store, "/a");
    const b = await record(store, "/b");
    const j = await store.join({ room: "/a", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const nav = await store.navigate({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA, fromRoom: "/a", toRoom: "/b", metadata: { page: "b" } });
    await settle();
    expect(a.events().map((e) => e.kind)).toEqual(["joined", "left"]);
    await settle();
    expect(b.events()).toHaveLength(1);
    await settle();
    expect(b.events()[0]).toMatchObject({ kind: "joined", member: { connectionId: j.session.connectionId, metadata: { page: "b" } } });
    expect(nav.view.users[0]!.connections[0]!.connectionId).toBe(j.session.connectionId);
  });

  it("heartbeat refreshes; activity changes are one update per room; same activity bumps nothing", async () => {
    const { store, clock, settle } = await make();
    const rec = await record(store, "r1");
    const j = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    clock.advance(200);
    const lease = await store.heartbeat({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA, activity: "active" });
    expect(lease.expiresAtMs).toBe(clock.now() + lease.ttlMs);
    await store.heartbeat({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA, activity: "away" });
    await store.heartbeat({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA, activity: "away" });
    await settle();
    expect(rec.events().map((e) => [e.kind, e.version])).toEqual([["joined", 1], ["updated", 2]]);
    clock.advance(200);
    await store.reap();
    expect((await store.getView("r1", { includeMembers: true })).users).toHaveLength(1); // kept alive
  });

  it("an expired session leaves every room once with reason timeout and is never resurrected", async () => {
    const { store, clock, settle } = await make();
    const r1 = await record(store, "r1");
    const r2 = await record(store, "r2");
    const j = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    await store.join({ room: "r2", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: j.session.sessionId });
    await store.join({ room: "r1", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    clock.advance(301);
    // Expired but not reaped yet: a late heartbeat is refused (fencing), not a refresh.
    expect(await code(store.heartbeat({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA }))).toBe("SESSION_NOT_FOUND");
    const reaped = await store.reap();
    expect(reaped.expiredSessions).toBe(2);
    expect(await store.reap()).toEqual({ expiredSessions: 0, leaves: 0 });
    await settle();
    const leaves = r1.events().filter((e) => e.kind === "left");
    await settle();
    expect(leaves.map((e) => e.kind === "left" && e.reason)).toEqual(["timeout", "timeout"]);
    await settle();
    expect(r2.events().filter((e) => e.kind === "left")).toHaveLength(1);
    expect(await code(store.heartbeat({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA }))).toBe("SESSION_NOT_FOUND");
    const rejoin = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: j.session.sessionId, resumeSecret: j.session.resumeSecret });
    expect(rejoin.resumed).toBe(false);
    expect(rejoin.session.sessionId).not.toBe(j.session.sessionId);
  });

  it("reclaims a live session with its resume secret; a wrong secret makes a new session", async () => {
    const { store, settle } = await make();
    const rec = await record(store, "r1");
    const j = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const again = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: j.session.sessionId, resumeSecret: j.session.resumeSecret });
    expect(again).toMatchObject({ resumed: true, event: null, session: j.session });
    const wrong = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: j.session.sessionId, resumeSecret: "wrong" });
    expect(wrong.resumed).toBe(false);
    expect(wrong.session.connectionId).not.toBe(j.session.connectionId);
    await settle();
    expect(rec.events().map((e) => e.kind)).toEqual(["joined", "joined"]);
  });

  it("a retried first join with the same request id creates nothing twice", async () => {
    const { store, settle } = await make();
    const a = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, requestId: "req-1" });
    const b = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, requestId: "req-1" });
    await settle();
    expect(b.session.sessionId).toBe(a.session.sessionId);
    await settle();
    expect(b.event).toBeNull();
    const other = await store.join({ room: "r1", ownerKey: OWNER_BOB, identity: bob, metadata: {}, requestId: "req-1" });
    expect(other.session.sessionId).not.toBe(a.session.sessionId);
    await store.reap();
    expect(store.stats().sessions).toBe(2);
  });

  it("refuses a 17th room per session and changes nothing", async () => {
    const { store, settle } = await make();
    const j = await store.join({ room: "room-0", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    for (let i = 1; i < 16; i++) await store.join({ room: `room-${i}`, ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: j.session.sessionId });
    expect(await code(store.join({ room: "room-16", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: j.session.sessionId }))).toBe("TOO_MANY_ROOMS");
    expect((await store.getView("room-16", { includeMembers: true })).counts.connections).toBe(0);
  });

  it("attached sessions: refreshed in batches by their node, kept for the grace after release, never recreated", async () => {
    const { store, clock, settle } = await make();
    const rec = await record(store, "r");
    const a = await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const b = await store.join({ room: "r", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    expect(await code(store.attach({ sessionId: a.session.sessionId, ownerKey: OWNER_BOB }))).toBe("SESSION_NOT_FOUND");
    await store.attach({ sessionId: a.session.sessionId, ownerKey: OWNER_ANA });
    for (let i = 0; i < 5; i++) {
      clock.advance(200);
      expect(await store.refresh([a.session.sessionId])).toEqual({ missing: [] });
      await store.reap();
    }
    // Bob neither heartbeated nor was refreshed: gone. Ana stayed 1 s on refreshes alone.
    await settle();
    expect(rec.events().filter((e) => e.kind === "left").map((e) => e.kind === "left" && e.userId)).toEqual(["bob"]);
    expect(await store.refresh([a.session.sessionId, b.session.sessionId, "nope"])).toEqual({ missing: [b.session.sessionId, "nope"] });
    await store.release({ sessionId: a.session.sessionId, ownerKey: OWNER_ANA }, 100);
    clock.advance(99);
    await store.reap();
    expect((await store.getView("r", { includeMembers: true })).counts.users).toBe(1);
    clock.advance(2);
    await store.reap();
    expect((await store.getView("r", { includeMembers: true })).counts.users).toBe(0);
    expect(await store.refresh([a.session.sessionId])).toEqual({ missing: [a.session.sessionId] });
    expect(await code(store.attach({ sessionId: a.session.sessionId, ownerKey: OWNER_ANA }))).toBe("SESSION_NOT_FOUND");
  });
  it("kickSession: one left event per room with reason kicked, the session ends; unknown ids are SESSION_NOT_FOUND", async () => {
    const { store, settle } = await make();
    const r1 = await record(store, "r1");
    const r2 = await record(store, "r2");
    const a = await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    await store.join({ room: "r2", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: a.session.sessionId });
    await store.join({ room: "r1", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    expect(await store.kickSession(a.session.sessionId)).toEqual({ roomsLeft: 2 });
    await settle();
    expect(r1.events().map((e) => [e.kind, e.version, e.kind === "left" && e.reason])).toEqual([["joined", 1, false], ["joined", 2, false], ["left", 3, "kicked"]]);
    expect(r2.events().map((e) => [e.kind, e.version, e.kind === "left" && e.reason])).toEqual([["joined", 1, false], ["left", 2, "kicked"]]);
    expect(await code(store.heartbeat({ sessionId: a.session.sessionId, ownerKey: OWNER_ANA }))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.kickSession(a.session.sessionId))).toBe("SESSION_NOT_FOUND");
    expect(await code(store.kickSession("nope"))).toBe("SESSION_NOT_FOUND");
    expect((await store.getUserStatus(["ana"]))[0]!.state).toBe("offline");
    expect((await store.getView("r1", { includeMembers: true })).users.map((u) => u.user.userId)).toEqual(["bob"]);
    expect(await store.reap()).toEqual({ expiredSessions: 0, leaves: 0 });
  });
}
