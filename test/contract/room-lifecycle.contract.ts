import { expect, it } from "vitest";
import type { FakeClock } from "../../src/core/fake-clock.js";
import { PresenceError } from "../../src/core/presence-error.js";
import type { RoomLifecycleStore } from "../../src/store/ports/room-lifecycle-store.js";

/**
 * The RoomLifecycleStore contract (rooms.proto): create / update / get / end, tombstones that
 * refuse a second creation until they pass, and the idle index the reaper reads. Limits used:
 * default idle timeout 86,400,000 ms, tombstone 600,000 ms.
 */
const settings = { maxParticipants: 3, idleTimeoutMs: 60_000, awayAfterMs: 120_000 };
const reasonOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof PresenceError ? e.reason : String(e);
  }
};

export function roomLifecycleContract(make: () => Promise<{ store: RoomLifecycleStore; clock: FakeClock }>) {
  it("creates a room once, describes it, updates given fields only", async () => {
    const { store, clock } = await make();
    const r = await store.createRoom({ room: "op/1", ownerUserId: "ana", metadata: { target: "t" }, settings });
    expect(r).toMatchObject({ room: "op/1", ownerUserId: "ana", metadata: { target: "t" }, maxParticipants: 3, idleTimeoutMs: 60_000, awayAfterMs: 120_000, status: "open", createdAtMs: clock.now() });
    expect(await reasonOf(store.createRoom({ room: "op/1", ownerUserId: "bob", metadata: {}, settings }))).toBe("ROOM_EXISTS");
    expect(await store.getRoom("op/1")).toEqual(r);
    expect(await store.getRoom("other")).toBeNull();
    const u = await store.updateRoom("op/1", { maxParticipants: 10, metadata: { objective: "o" } });
    expect(u).toMatchObject({ maxParticipants: 10, metadata: { objective: "o" }, idleTimeoutMs: 60_000, ownerUserId: "ana" });
    expect((await store.updateRoom("op/1", { idleTimeoutMs: 0 })).idleTimeoutMs).toBe(86_400_000);
    expect(await reasonOf(store.updateRoom("nope", { maxParticipants: 1 }))).toBe("ROOM_NOT_FOUND");
  });

  it("ends once; the tombstone refuses a new creation and updates until it passes", async () => {
    const { store, clock } = await make();
    await store.createRoom({ room: "op/2", ownerUserId: "ana", metadata: {}, settings });
    clock.advance(1_000);
    const ended = await store.markEnded("op/2", "ana", "done");
    expect(ended).toMatchObject({ status: "ended", endedBy: "ana", endReason: "done", endedAtMs: clock.now(), tombstoneUntilMs: clock.now() + 600_000 });
    clock.advance(5);
    expect(await store.markEnded("op/2", "bob", "again")).toEqual(ended);
    expect(await reasonOf(store.createRoom({ room: "op/2", ownerUserId: "bob", metadata: {}, settings }))).toBe("ROOM_ENDED");
    expect(await reasonOf(store.updateRoom("op/2", { maxParticipants: 1 }))).toBe("ROOM_ENDED");
    expect(await store.markEnded("never", "ana", "x")).toBeNull();
    clock.advance(600_000);
    expect(await store.getRoom("op/2")).toBeNull();
    expect((await store.createRoom({ room: "op/2", ownerUserId: "bob", metadata: {}, settings })).ownerUserId).toBe("bob");
  });

  it("lists rooms idle past their timeout; activity moves the deadline; ended rooms never idle", async () => {
    const { store, clock } = await make();
    await store.createRoom({ room: "idle/a", ownerUserId: "ana", metadata: {}, settings });
    await store.createRoom({ room: "idle/b", ownerUserId: "ana", metadata: {}, settings });
    await store.createRoom({ room: "idle/c", ownerUserId: "ana", metadata: {}, settings: { ...settings, idleTimeoutMs: 3_600_000 } });
    clock.advance(30_000);
    await store.touchRoom("idle/b");
    clock.advance(30_000);
    expect((await store.idleRooms(10)).sort()).toEqual(["idle/a"]);
    clock.advance(30_000);
    expect((await store.idleRooms(10)).sort()).toEqual(["idle/a", "idle/b"]);
    await store.markEnded("idle/a", "", "idle");
    expect(await store.idleRooms(10)).toEqual(["idle/b"]);
    expect(await store.idleRooms(0)).toEqual([]);
  });
}
