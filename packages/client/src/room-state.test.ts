import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { WatchPresenceResponseSchema } from "../../../gen/presence/v1/presence_pb.js";
import { createFakeClock } from "../../../src/core/fake-clock.js";
import type { WatchItem } from "../../../src/fanout/fanout-hub.js";
import { watchItemToPb } from "../../../src/transport/wire.js";
import { joined, left, viewOf } from "../../../test/support/fake-presence-transport.js";
import { createRoomState, type RoomState } from "./room-state.js";
import type { RoomEvents } from "./types.js";

/**
 * The client's room replica over the shared room-view tracker: complete snapshots only, versioned
 * events in order, a gap asks for a resync and freezes the view (never a partial one) until the
 * fresh snapshot, which is diffed into join/leave events.
 */
function setup(self = "c1") {
  const clock = createFakeClock();
  const events: { event: keyof RoomEvents; payload: unknown }[] = [];
  let resyncs = 0;
  const state: RoomState = createRoomState("/doc", {}, {
    clock,
    selfConnectionId: () => self,
    emit: (_s, event, payload) => void events.push({ event, payload }),
    resync: () => void resyncs++,
    sendTyping: () => {},
    sendCursor: () => {},
    typingOptions: {},
    sendPresence: () => false,
    ended: () => {},
    presenceIntervalMs: 100,
    frameScheduler: () => () => {},
  });
  const push = (item: WatchItem) => state.onWatch(create(WatchPresenceResponseSchema, watchItemToPb(item)));
  const names = (kind: keyof RoomEvents) => events.filter((e) => e.event === kind);
  return { clock, state, push, events, names, resyncs: () => resyncs };
}

const E = "epoch-1";

describe("room state", () => {
  it("shows a snapshot only when its last page arrived", async () => {
    const { state, push, names } = setup();
    // The first page carries counts, typing and cursors; later pages only more users.
    const page1 = viewOf("/doc", E, 5, [["ana", "c1"]], { counts: { users: 2, connections: 2, anonymous: 0 } });
    const page2 = viewOf("/doc", E, 5, [["bob", "c2"]]);
    push({ type: "snapshot", view: page1, first: true, last: false });
    expect(state.view()).toBeNull();
    push({ type: "snapshot", view: page2, first: false, last: true });
    expect(state.view()!.users.map((u) => u.userId)).toEqual(["ana", "bob"]);
    expect(state.view()!.userCount).toBe(2);
    expect(state.selfUserId()).toBe("ana");
    expect(state.view()!.users[0]!.isSelf).toBe(true);
    expect(names("view")).toHaveLength(1);
    expect(names("join")).toHaveLength(0); // a first snapshot is not a series of joins
    await expect(state.ready).resolves.toBe(state.view());
  });

  it("applies events in version order and ignores duplicates", () => {
    const { state, push, names } = setup();
    push({ type: "snapshot", view: viewOf("/doc", E, 5, [["ana", "c1"]]), first: true, last: true });
    push({ type: "event", event: joined("/doc", E, 6, "bob", "c2", 2) });
    push({ type: "event", event: joined("/doc", E, 6, "bob", "c2", 2) });
    expect(state.view()!.users.map((u) => u.userId)).toEqual(["ana", "bob"]);
    expect(state.position()).toEqual({ epoch: E, version: 6 });
    expect(names("join")).toHaveLength(1);
    expect(names("join")[0]!.payload).toMatchObject({ firstOfUser: true, isSelf: false, user: { userId: "bob", name: "BOB" } });
    push({ type: "event", event: left("/doc", E, 7, "bob", "c2", 1) });
    expect(state.view()!.userCount).toBe(1);
    expect(names("leave")[0]!.payload).toMatchObject({ userId: "bob", reason: "left", lastOfUser: true, resync: false });
  });

  it("on a gap asks for a resync, keeps the last complete view, and ignores events until the new snapshot", () => {
    const { state, push, names, resyncs } = setup();
    push({ type: "snapshot", view: viewOf("/doc", E, 5, [["ana", "c1"], ["bob", "c2"]]), first: true, last: true });
    const before = state.view();
    push({ type: "event", event: left("/doc", E, 8, "bob", "c2", 1) }); // 6 and 7 are missing
    expect(resyncs()).toBe(1);
    expect(state.resyncing).toBe(true);
    expect(state.view()).toBe(before);
    push({ type: "event", event: joined("/doc", E, 9, "carol", "c3", 2) });
    expect(state.view()).toBe(before); // nothing applied on top of a broken sequence
    // The tail page of an old snapshot is ignored too; the fresh one replaces the view.
    push({ type: "snapshot", view: viewOf("/doc", E, 1, [["zed", "c9"]]), first: false, last: true });
    expect(state.view()).toBe(before);
    push({ type: "snapshot", view: viewOf("/doc", E, 9, [["ana", "c1"], ["carol", "c3"]]), first: true, last: true });
    expect(state.resyncing).toBe(false);
    expect(state.view()!.users.map((u) => u.userId)).toEqual(["ana", "carol"]);
    // The difference is reported as resync leaves and joins.
    expect(names("leave").map((e) => e.payload)).toEqual([expect.objectContaining({ userId: "bob", reason: "resync", resync: true, lastOfUser: true })]);
    expect(names("join").map((e) => e.payload)).toEqual([expect.objectContaining({ user: expect.objectContaining({ userId: "carol" }), resync: true })]);
    push({ type: "event", event: left("/doc", E, 10, "carol", "c3", 1) });
    expect(state.view()!.userCount).toBe(1);
  });

  it("treats a new epoch as a gap", () => {
    const { push, resyncs } = setup();
    push({ type: "snapshot", view: viewOf("/doc", E, 5, [["ana", "c1"]]), first: true, last: true });
    push({ type: "event", event: joined("/doc", "epoch-2", 1, "bob", "c2", 2) });
    expect(resyncs()).toBe(1);
  });

  it("expires typing on the receiver's clock and drops cursors of leavers", () => {
    const { clock, state, push, names } = setup();
    push({ type: "snapshot", view: viewOf("/doc", E, 1, [["ana", "c1"], ["bob", "c2"]]), first: true, last: true });
    push({ type: "typing", typing: { room: "/doc", userId: "bob", typing: true, expiresInMs: 5_000 } });
    expect(state.view()!.typing).toEqual([{ userId: "bob", name: "BOB", isSelf: false }]);
    clock.advance(4_999);
    expect(state.view()!.typing).toHaveLength(1);
    clock.advance(2);
    expect(state.view()!.typing).toEqual([]);
    expect(names("typing").at(-1)!.payload).toEqual({ room: "/doc", typing: [] });

    const cursor = { connectionId: "c2", userId: "bob", position: { x: 1, y: 2, element: "", selectionStart: 0, selectionEnd: 0 }, updatedAtMs: 1 };
    push({ type: "cursors", batch: { room: "/doc", cursors: [cursor], removedConnectionIds: [] } });
    expect(state.view()!.cursors).toEqual([expect.objectContaining({ connectionId: "c2", name: "BOB", isSelf: false, position: cursor.position })]);
    push({ type: "event", event: left("/doc", E, 2, "bob", "c2", 1) });
    expect(state.view()!.cursors).toEqual([]);
  });

  it("a seeded view (Join answer) counts as a complete snapshot", async () => {
    const { state, push } = setup();
    state.seed(viewOf("/doc", E, 3, [["ana", "c1"]]));
    expect(state.position()).toEqual({ epoch: E, version: 3 });
    push({ type: "event", event: joined("/doc", E, 4, "bob", "c2", 2) });
    expect(state.view()!.userCount).toBe(2);
    await expect(state.ready).resolves.toBeTruthy();
  });

  it("dispose() rejects a pending ready and stops emitting", async () => {
    const { state, push, events } = setup();
    state.dispose();
    await expect(state.ready).rejects.toThrow(/left room/);
    push({ type: "snapshot", view: viewOf("/doc", E, 1, [["ana", "c1"]]), first: true, last: true });
    expect(events).toEqual([]);
  });
});
