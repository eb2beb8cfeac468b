import { expect, it } from "vitest";
import type { MemberIdentity } from "../../src/core/identity.js";
import { ana, bob, OWNER_ANA, OWNER_BOB, record, type MakeHarness } from "./contract-harness.js";

/** The RoomStore port's contract (see contract-harness.ts for the timings the suite expects). */
export function roomStoreContract(make: MakeHarness) {
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

  it("renewEpoch gives a new epoch only to a room still below the version seen in its epoch (a rollback)", async () => {
    const { store } = await make();
    const j = await store.join({ room: "re", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    const { epoch } = j.view;
    expect(await store.renewEpoch("re", { epoch, version: 1 })).toEqual({ epoch, version: 1 }); // caught up: nothing
    expect(await store.renewEpoch("re", { epoch: "other", version: 9 })).toEqual({ epoch, version: 1 }); // another epoch: nothing
    const renewed = await store.renewEpoch("re", { epoch, version: 5 });
    expect(renewed.epoch).not.toBe(epoch);
    expect((await store.getView("re", { includeMembers: true })).users.map((u) => u.user.userId)).toEqual(["ana"]);
    expect(await store.readLog("re", { epoch, version: 0 })).toBeNull();
    const next = await store.join({ room: "re", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    expect(next.event).toMatchObject({ epoch: renewed.epoch, version: renewed.version + 1 });
  });
}
