import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { WatchUsersResponseSchema } from "../../../gen/presence/v1/presence_pb.js";
import { PresenceOverride, UserState } from "../../../gen/presence/v1/types_pb.js";
import { createFakeClock } from "../../../src/core/fake-clock.js";
import { PresenceClientError } from "./errors.js";
import { createUserStatusTracker, type UserWatchPort } from "./user-status.js";

function setup(connected = true) {
  const clock = createFakeClock();
  const sent: (string[] | null)[] = [];
  let live = connected;
  let connects = 0;
  const port: UserWatchPort = {
    canWatch: () => live,
    ensureConnected: () => void connects++,
    watch: (ids) => void sent.push(ids),
    unwatch: () => void sent.push(null),
  };
  const tracker = createUserStatusTracker(port, clock, { retryMs: 1_000 });
  return { clock, sent, tracker, connects: () => connects, setLive: (v: boolean) => (live = v) };
}

const snapshot = (...st: [string, UserState, number?][]) =>
  create(WatchUsersResponseSchema, { message: { case: "snapshot", value: { statuses: st.map(([userId, state, ls]) => ({ userId, state, lastSeenMs: BigInt(ls ?? 0) })) } } });
const changed = (userId: string, state: UserState, extra: { customStatus?: string; presenceOverride?: PresenceOverride } = {}) =>
  create(WatchUsersResponseSchema, { message: { case: "changed", value: { userId, state, ...extra } } });

describe("client.users(ids): one shared watch of the union", () => {
  it("watches the union once per task, reads offline until the snapshot, then follows changes", () => {
    const t = setup();
    const a = t.tracker.users(["ana", "bob"]);
    const b = t.tracker.users(["bob", "cy"]);
    expect(a.statuses.map((s) => s.state)).toEqual(["offline", "offline"]);
    expect(a.ready).toBe(false);
    t.clock.advance(0);
    expect(t.sent).toEqual([["ana", "bob", "cy"]]);
    const seenA: string[][] = [];
    a.on("change", (st) => seenA.push(st.map((s) => s.state)));
    t.tracker.onMessage(snapshot(["ana", UserState.ONLINE], ["bob", UserState.OFFLINE, 1_000], ["cy", UserState.AWAY]));
    expect(a.ready).toBe(true);
    expect(a.get("bob")).toMatchObject({ state: "offline", lastSeenMs: 1_000 });
    expect(b.statuses.map((s) => s.state)).toEqual(["offline", "away"]);
    const before = a.statuses;
    t.tracker.onMessage(changed("cy", UserState.ONLINE, { customStatus: "coding" }));
    expect(a.statuses).toBe(before); // cy is not a's: a keeps the same array, no event
    expect(b.get("cy")).toMatchObject({ state: "online", customStatus: "coding" });
    t.tracker.onMessage(changed("ana", UserState.AWAY, { presenceOverride: PresenceOverride.AWAY }));
    expect(a.get("ana")).toMatchObject({ state: "away", presenceOverride: "away" });
    expect(seenA).toEqual([["online", "offline"], ["away", "offline"]]);
  });

  it("shrinks the watch when a handle closes and stops it with the last one", () => {
    const t = setup();
    const a = t.tracker.users(["ana"]);
    const b = t.tracker.users(["bob"]);
    t.clock.advance(0);
    b.close();
    b.close();
    t.clock.advance(0);
    a.close();
    t.clock.advance(0);
    expect(t.sent).toEqual([["ana", "bob"], ["ana"], null]);
    expect(t.tracker.active()).toBe(false);
  });

  it("connects when not connected, watches again after every reconnect, retries after the server ends the watch", () => {
    const t = setup(false);
    t.tracker.users(["ana"]);
    t.clock.advance(0);
    expect(t.sent).toEqual([]);
    expect(t.connects()).toBe(1);
    t.setLive(true);
    t.tracker.connected();
    t.tracker.connected(); // a second reconnect: a fresh snapshot again
    expect(t.sent).toEqual([["ana"], ["ana"]]);
    t.tracker.onEnded(new PresenceClientError("unavailable", "draining", "DRAINING"));
    t.clock.advance(999);
    expect(t.sent).toHaveLength(2);
    t.clock.advance(1);
    expect(t.sent).toEqual([["ana"], ["ana"], ["ana"]]);
  });
});
