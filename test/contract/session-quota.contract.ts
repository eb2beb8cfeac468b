import { expect, it } from "vitest";
import { ana, bob, OWNER_ANA, OWNER_BOB, record, type MakeHarness } from "./contract-harness.js";

/**
 * What the access layer's quotas read from the SessionStore: whether a join created the session
 * and the room's state, and how many live sessions an owner key has.
 */
export function sessionQuotaContract(make: MakeHarness) {
  it("join says whether it created the session and the room's state", async () => {
    const { store } = await make();
    const first = await store.join({ room: "q1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, requestId: "r-1" });
    expect(first).toMatchObject({ sessionCreated: true, roomCreated: true, resumed: false });
    const other = await store.join({ room: "q1", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    expect(other).toMatchObject({ sessionCreated: true, roomCreated: false });
    const sid = first.session.sessionId;
    expect(await store.join({ room: "q2", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: sid })).toMatchObject({ sessionCreated: false, roomCreated: true });
    expect(await store.join({ room: "q1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, requestId: "r-1" })).toMatchObject({ sessionCreated: false, roomCreated: false });
    const reclaimed = await store.join({ room: "q3", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: sid, resumeSecret: first.session.resumeSecret });
    expect(reclaimed).toMatchObject({ sessionCreated: false, roomCreated: true, resumed: true });
    // A watched room has state (an epoch) before anyone joins it: the join does not create it.
    await record(store, "q4");
    expect(await store.join({ room: "q4", ownerKey: OWNER_BOB, identity: bob, metadata: {} })).toMatchObject({ sessionCreated: true, roomCreated: false });
  });

  it("countSessions: an owner's live sessions, until they end, are kicked or reaped", async () => {
    const { store, clock } = await make();
    const a1 = await store.join({ room: "c1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, requestId: "x" });
    await store.join({ room: "c1", ownerKey: OWNER_ANA, identity: ana, metadata: {}, requestId: "x" }); // a retry: no new session
    await store.join({ room: "c2", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: a1.session.sessionId });
    const a2 = await store.join({ room: "c1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const b1 = await store.join({ room: "c1", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    await store.join({ room: "c1", ownerKey: "", identity: { kind: "anonymous", anonymousId: "v1" }, metadata: {} });
    expect([await store.countSessions(OWNER_ANA), await store.countSessions(OWNER_BOB), await store.countSessions(""), await store.countSessions("u:zed")]).toEqual([2, 1, 1, 0]);
    await store.leave({ sessionId: a1.session.sessionId, ownerKey: OWNER_ANA, room: "c1", reason: "left" });
    expect(await store.countSessions(OWNER_ANA)).toBe(2); // still in c2
    await store.leave({ sessionId: a1.session.sessionId, ownerKey: OWNER_ANA, room: "c2", reason: "left" });
    expect(await store.countSessions(OWNER_ANA)).toBe(1);
    await store.kickSession(b1.session.sessionId);
    expect(await store.countSessions(OWNER_BOB)).toBe(0);
    clock.advance(150);
    await store.heartbeat({ sessionId: a2.session.sessionId, ownerKey: OWNER_ANA });
    clock.advance(200); // the anonymous session expired; a2 was refreshed
    await store.reap();
    expect([await store.countSessions(OWNER_ANA), await store.countSessions("")]).toEqual([1, 0]);
    clock.advance(301);
    await store.reap();
    expect(await store.countSessions(OWNER_ANA)).toBe(0);
  });

  it("countSessions counts by the quota key a session was made under (default its owner key)", async () => {
    const { store, clock } = await make();
    const anon = (id: string) => ({ kind: "anonymous" as const, anonymousId: id });
    const a1 = await store.join({ room: "k1", ownerKey: "", quotaKey: "a:10.0.0.1", identity: anon("v1"), metadata: {} });
    await store.join({ room: "k1", ownerKey: "", quotaKey: "a:10.0.0.1", identity: anon("v2"), metadata: {} });
    await store.join({ room: "k1", ownerKey: "", quotaKey: "a:10.0.0.2", identity: anon("v3"), metadata: {} });
    await store.join({ room: "k2", ownerKey: "", quotaKey: "a:10.0.0.1", identity: anon("v1"), metadata: {}, sessionId: a1.session.sessionId }); // not a new session
    await store.join({ room: "k1", ownerKey: OWNER_ANA, quotaKey: OWNER_ANA, identity: ana, metadata: {} });
    const counts = () => Promise.all(["a:10.0.0.1", "a:10.0.0.2", "", OWNER_ANA].map((k) => store.countSessions(k)));
    expect(await counts()).toEqual([2, 1, 0, 1]);
    await store.leave({ sessionId: a1.session.sessionId, ownerKey: "", room: "k1", reason: "left" });
    expect(await counts()).toEqual([2, 1, 0, 1]); // still in k2
    await store.leave({ sessionId: a1.session.sessionId, ownerKey: "", room: "k2", reason: "left" });
    expect(await counts()).toEqual([1, 1, 0, 1]);
    clock.advance(301); // everything expires
    await store.reap();
    expect(await counts()).toEqual([0, 0, 0, 0]);
  });

  it("maxSessions: a Join that would make one session too many is refused and changes nothing; other Joins pass", async () => {
    const { store, clock } = await make();
    const anon = (id: string) => ({ kind: "anonymous" as const, anonymousId: id });
    const join = (room: string, id: string, extra: Record<string, unknown> = {}) =>
      store.join({ room, ownerKey: "", quotaKey: "a:q", identity: anon(id), metadata: {}, maxSessions: 2, ...extra });
    const s1 = await join("m1", "v1", { requestId: "r1" });
    await join("m1", "v2");
    const refused = await join("m2", "v3").then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ reason: "QUOTA_EXCEEDED", detail: { field: "sessions", limit: 2, actual: 3 } });
    expect((refused as Error).message).toContain("at most 2 live sessions");
    expect(await store.countSessions("a:q")).toBe(2);
    // Nothing of the refused Join remains: no room state, no member.
    expect((await store.getView("m2", { includeMembers: true })).counts.connections).toBe(0);
    expect((await store.getView("m1", { includeMembers: true })).counts.connections).toBe(2);
    // At the limit: calls of existing sessions, a retry of a first Join (request id) and other quota keys pass.
    await join("m2", "v1", { sessionId: s1.session.sessionId });
    expect(await join("m1", "v1", { requestId: "r1" })).toMatchObject({ sessionCreated: false });
    await join("m3", "v9", { quotaKey: "a:other" });
    await join("m3", "v1", { sessionId: s1.session.sessionId, resumeSecret: s1.session.resumeSecret });
    expect(await store.countSessions("a:q")).toBe(2);
    // A failed reclaim makes a new session: refused too.
    await expect(join("m3", "v1", { sessionId: s1.session.sessionId, resumeSecret: "wrong" })).rejects.toMatchObject({ reason: "QUOTA_EXCEEDED" });
    // A session that ends frees its place at once; one that expires, once reaped.
    await store.leave({ sessionId: s1.session.sessionId, ownerKey: "", room: "m1", reason: "left" });
    await store.leave({ sessionId: s1.session.sessionId, ownerKey: "", room: "m2", reason: "left" });
    await store.leave({ sessionId: s1.session.sessionId, ownerKey: "", room: "m3", reason: "left" });
    const s4 = await join("m4", "v4");
    await expect(join("m4", "v5")).rejects.toMatchObject({ reason: "QUOTA_EXCEEDED" });
    clock.advance(150);
    await store.heartbeat({ sessionId: s4.session.sessionId, ownerKey: "" });
    clock.advance(200); // v2's session expired (still counted until reaped)
    await expect(join("m4", "v5")).rejects.toMatchObject({ reason: "QUOTA_EXCEEDED" });
    await store.reap();
    expect(await join("m4", "v5")).toMatchObject({ sessionCreated: true });
  });

  it("maxSessions: of 12 concurrent first Joins of one quota key at 5 left, exactly 5 pass", async () => {
    const { store } = await make();
    const id = (i: number) => ({ kind: "user" as const, user: { userId: `c${i}`, name: "", avatarUrl: "", metadata: {} } });
    const join = (i: number, requestId?: string) => store.join({ room: `cc${i % 3}`, ownerKey: "s:svc", identity: id(i), metadata: {}, maxSessions: 8, requestId });
    for (let i = 0; i < 3; i++) await join(i);
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => join(100 + i, i % 2 === 0 ? `rq${i}` : undefined)));
    const passed = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as { reason: string });
    expect(passed).toHaveLength(5);
    expect(refused.map((e) => e.reason)).toEqual(Array(7).fill("QUOTA_EXCEEDED"));
    expect(await store.countSessions("s:svc")).toBe(8);
    const views = await Promise.all([0, 1, 2].map((r) => store.getView(`cc${r}`, { includeMembers: true })));
    expect(views.reduce((n, v) => n + v.counts.connections, 0)).toBe(8);
  });

  it("memoryUsage reports the store's memory and grows with its content", async () => {
    const { store, memoryEstimated } = await make();
    const before = await store.memoryUsage();
    expect(before.estimated).toBe(memoryEstimated);
    expect(before.largestNodeBytes).toBeLessThanOrEqual(before.usedBytes);
    const metadata = { note: "x".repeat(500) };
    for (let i = 0; i < 200; i++) await store.join({ room: `m${i % 20}`, ownerKey: `u:m${i}`, identity: { kind: "user", user: { userId: `m${i}`, name: "", avatarUrl: "", metadata: {} } }, metadata });
    const after = await store.memoryUsage();
    expect(after.usedBytes).toBeGreaterThan(before.usedBytes + 100_000); // 200 members with 500-byte metadata
  });
}
