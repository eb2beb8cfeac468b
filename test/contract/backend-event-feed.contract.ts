import { expect, it } from "vitest";
import type { BackendEvent } from "../../src/core/backend-events.js";
import type { MakeHarness } from "./contract-harness.js";

/** The BackendEventFeed port's contract (WatchEvents' feed of backend events). */
export function backendEventFeedContract(make: MakeHarness) {
  it("event feed: appended in order, read after a cursor in pages, from now on, with a gap past the retention", async () => {
    const { store, clock } = await make();
    const start = (await store.readBackendEvents("", 0)).lastId;
    const ev = (i: number): BackendEvent => ({ id: `ev-${i}`, timeMs: clock.now(), room: `/feed/${i}`, userId: "", kind: "room_occupied", counts: { users: 0, connections: 1, anonymous: 1 } });
    await store.appendBackendEvents([ev(1), ev(2), ev(3)], 60_000);
    await store.appendBackendEvents([ev(4)], 60_000);
    const page1 = await store.readBackendEvents(start, 2);
    expect(page1.gap).toBe(false);
    expect(page1.entries.map((e) => e.event.id)).toEqual(["ev-1", "ev-2"]);
    expect(page1.entries[0]!.event).toEqual(ev(1));
    const page2 = await store.readBackendEvents(page1.entries[1]!.id, 10);
    expect(page2.entries.map((e) => e.event.id)).toEqual(["ev-3", "ev-4"]);
    expect(page2.lastId).toBe(page2.entries[1]!.id);
    expect((await store.readBackendEvents(page2.lastId, 10)).entries).toEqual([]);
    // Past the retention, the next append trims: a reader from before gets a gap and the retained
    // entries. The cut is the store's clock minus the retention; Redis' stream ids are its server's
    // time. The Redis harnesses' fake clock starts at the real time when the harness is made, so it
    // is behind by the time the set-up took (over 100 ms on a loaded box left ev-1..4 untrimmed):
    // after the real wait, move it to the real time; a clock far from it (the memory store's, which
    // starts at 0) only moves by the retention and a bit.
    await new Promise((r) => setTimeout(r, 1_100));
    const behind = Date.now() - clock.now();
    clock.advance(behind > 1_100 && behind < 600_000 ? behind : 1_100);
    await store.appendBackendEvents([ev(5)], 1_000);
    const late = await store.readBackendEvents(page1.entries[0]!.id, 10);
    expect(late.gap).toBe(true);
    expect(late.entries.map((e) => e.event.id)).toEqual(["ev-5"]);
  });
}
