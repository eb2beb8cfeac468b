import { expect, it } from "vitest";
import type { MakeHarness } from "./contract-harness.js";

/** The TrackerStore port's contract (shared trackers of Track streams). */
export function trackerStoreContract(make: MakeHarness) {
  it("trackers: created once, keys written and removed, read back; expiry set, refreshed and reached", async () => {
    const { store, clock } = await make();
    const name = `u:svc\u0000web-${Math.random().toString(36).slice(2)}`;
    expect(await store.loadTracker(name)).toBeNull();
    expect(await store.createTracker(name, "hash-1", 60_000)).toBe(true);
    expect(await store.createTracker(name, "hash-2", 60_000)).toBe(false); // never overwritten
    const rec = { sessionId: "s1", connectionId: "c1", userId: "ana", user: { userId: "ana", name: "Ana", avatarUrl: "", metadata: { team: "7" } }, rooms: { "/a": { color: "red" }, "/b": {} } };
    await store.putTrackedKey(name, "k1", rec, 60_000);
    await store.putTrackedKey(name, "k2", { sessionId: "s2", connectionId: "c2", userId: "bob", rooms: { "/a": {} } }, 60_000);
    await store.deleteTrackedKey(name, "k2");
    // The holder: written by each stream that takes the tracker, read by the node of an older one.
    expect(await store.trackerHolders([name, `${name}-absent`])).toEqual([null, null]);
    await store.setTrackerHolder(name, "node-a/1", 60_000);
    await store.setTrackerHolder(name, "node-b/2", 60_000);
    await store.setTrackerHolder(`${name}-absent`, "node-b/3", 60_000); // no tracker: nothing written
    expect(await store.trackerHolders([name, `${name}-absent`])).toEqual(["node-b/2", null]);
    expect(await store.loadTracker(`${name}-absent`)).toBeNull();
    const loaded = await store.loadTracker(name);
    expect(loaded?.secretHash).toBe("hash-1");
    expect([...(loaded?.keys ?? [])]).toEqual([["k1", rec]]);
    // A short expiry is reached (the memory store on its clock, Redis on its own).
    await store.expireTrackers([name, `${name}-absent`], 40);
    clock.advance(60);
    await new Promise((r) => setTimeout(r, 60));
    expect(await store.loadTracker(name)).toBeNull();
    // A key written into an expired tracker does not bring it back.
    await store.putTrackedKey(name, "k3", rec, 60_000);
    expect(await store.loadTracker(name)).toBeNull();
    expect(await store.createTracker(name, "hash-3", 60_000)).toBe(true);
    await store.deleteTracker(name);
    expect(await store.loadTracker(name)).toBeNull();
  });
}
