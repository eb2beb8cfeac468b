import { expect, it } from "vitest";
import type { FakeClock } from "../../src/core/fake-clock.js";
import type { MemberIdentity } from "../../src/core/identity.js";
import { PresenceError } from "../../src/core/presence-error.js";
import type { StoreMessage } from "../../src/core/presence-event.js";
import type { PresenceStore } from "../../src/store/presence-store.js";

/**
 * The PresenceStore contract: one suite, every implementation. The memory store is the
 * specification; a new store passes this suite unchanged. Timings expected by the suite:
 * heartbeat 100 ms, TTL 300 ms, node refresh 100 ms (a node is dead 200 ms after its last
 * announcement), typing TTL 5 s, cursor flush 50 ms, cursor TTL 10 s, 16 rooms per session,
 * large-room threshold 1,000. The store's node id is the default, "local". `advance` moves the store's clock.
 */
export interface ContractHarness {
  store: PresenceStore;
  /** The store's clock (scripts take their time from it too). */
  clock: FakeClock;
  /** Waits until everything published so far has reached this process's subscribers. */
  settle(): Promise<void>;
  /** Lets an empty, unwatched room's state expire (memory: virtual time; Redis: its short TTL). */
  expireIdleRoom(): Promise<void>;
  /** Whether `stats().rooms` is exact (the memory store counts rooms; Redis only watched ones). */
  exactRoomStats: boolean;
}

const ana: MemberIdentity = { kind: "user", user: { userId: "ana", name: "Ana", avatarUrl: "https://a/ana.png", metadata: {} } };
const bob: MemberIdentity = { kind: "user", user: { userId: "bob", name: "Bob", avatarUrl: "", metadata: {} } };
const OWNER_ANA = "u:ana";
const OWNER_BOB = "u:bob";

async function record(store: PresenceStore, room: string) {
  const messages: StoreMessage[] = [];
  const off = store.subscribe(room, (m) => messages.push(m));
  await store.ready(room);
  const events = () => messages.flatMap((m) => (m.type === "event" ? [m.event] : []));
  return { messages, events, off };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof PresenceError ? e.reason : `unexpected ${String(e)}`;
  }
}

export function presenceStoreContract(make: () => Promise<ContractHarness>) {
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

  it("counts anonymous viewers by id, separately from users", async () => {
    const { store, settle } = await make();
    const anonA: MemberIdentity = { kind: "anonymous", anonymousId: "a1" };
    await store.join({ room: "r", ownerKey: "", identity: anonA, metadata: {} });
    await store.join({ room: "r", ownerKey: "", identity: anonA, metadata: {} });
    await store.join({ room: "r", ownerKey: "", identity: { kind: "anonymous", anonymousId: "a2" }, metadata: {} });
    await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const v = await store.getView("r", { includeMembers: true });
    expect(v.counts).toEqual({ users: 1, connections: 4, anonymous: 2 });
    expect(v.users.map((u) => u.user.userId)).toEqual(["ana"]);
  });

  it("typing: broadcast on start and stop, silent refresh inside the TTL, cleared on leave", async () => {
    const { store, clock, settle } = await make();
    const rec = await record(store, "r");
    const j = await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const ref = { sessionId: j.session.sessionId, ownerKey: OWNER_ANA, room: "r" };
    await store.setTyping({ ...ref, typing: true });
    clock.advance(100);
    await store.setTyping({ ...ref, typing: true });
    await store.setTyping({ ...ref, typing: false });
    await store.setTyping({ ...ref, typing: false });
    await store.setTyping({ ...ref, typing: true });
    expect((await store.getView("r", { includeMembers: true })).typing).toEqual([{ userId: "ana", expiresInMs: 5_000 }]);
    await store.leave({ ...ref, reason: "left" });
    await settle();
    const typing = rec.messages.flatMap((m) => (m.type === "typing" ? [m.typing.typing] : []));
    await settle();
    expect(typing).toEqual([true, false, true, false]);
  });

  it("cursors: last value wins per flush, kept 10 s for late joiners, removed on leave", async () => {
    const { store, clock, settle } = await make();
    const rec = await record(store, "r");
    const j = await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const ref = { sessionId: j.session.sessionId, ownerKey: OWNER_ANA, room: "r" };
    for (let i = 1; i <= 5; i++) await store.updateCursor({ ...ref, position: { x: i, y: i, element: "", selectionStart: 0, selectionEnd: 0 } });
    clock.advance(50);
    await settle();
    const batches = rec.messages.flatMap((m) => (m.type === "cursors" ? [m.batch] : []));
    await settle();
    expect(batches).toHaveLength(1);
    await settle();
    expect(batches[0]!.cursors.map((c) => c.position.x)).toEqual([5]);
    const wait = async (ms: number) => {
      for (let t = 0; t < ms; t += 100) {
        clock.advance(Math.min(100, ms - t));
        await store.heartbeat(ref); // keep the session alive (TTL 300 ms) while time passes
      }
    };
    await wait(5_000);
    expect((await store.getView("r", { includeMembers: true })).cursors).toHaveLength(1);
    await wait(5_001);
    expect((await store.getView("r", { includeMembers: true })).cursors).toHaveLength(0);
    await store.updateCursor({ ...ref, position: { x: 9, y: 9, element: "#doc", selectionStart: 1, selectionEnd: 4 } });
    await store.leave({ ...ref, reason: "left" });
    clock.advance(50);
    await settle();
    const last = rec.messages.filter((m) => m.type === "cursors").at(-1);
    await settle();
    expect(last).toMatchObject({ type: "cursors", batch: { removedConnectionIds: [j.session.connectionId] } });
  });

  it("the event log replays from a kept version and refuses other epochs", async () => {
    const { store, settle } = await make();
    record(store, "r");
    for (let i = 0; i < 5; i++) await store.join({ room: "r", ownerKey: `u:${i}`, identity: { kind: "user", user: { userId: `${i}`, name: "", avatarUrl: "", metadata: {} } }, metadata: {} });
    const v = await store.getView("r", { includeMembers: false });
    expect((await store.readLog("r", { epoch: v.epoch, version: 2 }))!.map((e) => e.version)).toEqual([3, 4, 5]);
    expect(await store.readLog("r", { epoch: "nope", version: 2 })).toBeNull();
    expect(await store.readLog("r", { epoch: v.epoch, version: 99 })).toBeNull();
  });

  it("a room's state is dropped after its retention once empty and unwatched", async () => {
    const h = await make();
    const { store } = h;
    const rec = await record(store, "r");
    const j = await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const epoch = j.view.epoch;
    await store.leave({ sessionId: j.session.sessionId, ownerKey: OWNER_ANA, room: "r", reason: "left" });
    rec.off();
    await h.expireIdleRoom();
    await store.reap();
    expect((await store.getView("r", { includeMembers: true })).epoch).toBe("");
    const again = await store.join({ room: "r", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    expect(again.view.epoch).not.toBe(epoch);
    if (h.exactRoomStats) expect(store.stats()).toEqual({ sessions: 1, rooms: 1 });
  });

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

  it("listRooms: rooms with connections, busiest first, with counts and the total", async () => {
    const { store } = await make();
    const join = (room: string, owner: string, identity: MemberIdentity) => store.join({ room, ownerKey: owner, identity, metadata: {} });
    await join("a", OWNER_ANA, ana);
    for (const [o, id] of [[OWNER_ANA, ana], [OWNER_BOB, bob], ["", { kind: "anonymous", anonymousId: "x" }]] as const) await join("b", o, id);
    await join("c", OWNER_ANA, ana);
    await join("c", OWNER_BOB, bob);
    const d = await join("d", OWNER_ANA, ana);
    await store.leave({ sessionId: d.session.sessionId, ownerKey: OWNER_ANA, room: "d", reason: "left" });
    expect(await store.listRooms(2)).toEqual({
      rooms: [
        { room: "b", counts: { users: 2, connections: 3, anonymous: 1 } },
        { room: "c", counts: { users: 2, connections: 2, anonymous: 0 } },
      ],
      totalRooms: 3,
    });
    expect((await store.listRooms(10)).rooms.map((r) => r.room)).toEqual(["b", "c", "a"]);
  });

  it("nodes: sessions record their node; purge refuses a node seen within the dead bound unless forced, then kicks its sessions", async () => {
    const { store, clock, settle } = await make();
    const r1 = await record(store, "r1");
    await store.announceNode();
    await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const b = await store.join({ room: "r1", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    await store.join({ room: "r2", ownerKey: OWNER_BOB, identity: bob, metadata: {}, sessionId: b.session.sessionId });
    expect(await store.listNodes()).toEqual({ nodes: [{ nodeId: "local", lastSeenMs: clock.now(), lastSeenAgeMs: 0, alive: true, sessions: 2 }], deadAfterMs: 200 });
    clock.advance(150);
    const refused = await store.purgeNode("local", { force: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PresenceError);
    expect(refused).toMatchObject({ code: "failed_precondition", reason: "NODE_ALIVE", detail: { field: "node_id", limit: 200, actual: 150 } });
    expect((refused as Error).message).toContain("node local was seen 150 ms ago");
    expect(await code(store.purgeNode("ghost", { force: false }))).toBe("NODE_NOT_FOUND");
    clock.advance(51); // 201 ms since the announcement: dead; the sessions (TTL 300 ms) still live
    expect((await store.listNodes()).nodes).toMatchObject([{ nodeId: "local", alive: false, lastSeenAgeMs: 201, sessions: 2 }]);
    expect(await store.purgeNode("local", { force: false })).toEqual({ sessionsKicked: 2, roomsLeft: 3 });
    await settle();
    expect(r1.events().filter((e) => e.kind === "left").map((e) => e.kind === "left" && e.reason)).toEqual(["kicked", "kicked"]);
    expect((await store.getView("r2", { includeMembers: false })).counts.connections).toBe(0);
    expect(await store.listNodes()).toEqual({ nodes: [], deadAfterMs: 200 });
    await store.announceNode();
    await store.join({ room: "r1", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    expect(await store.purgeNode("local", { force: true })).toEqual({ sessionsKicked: 1, roomsLeft: 1 });
  });
}

