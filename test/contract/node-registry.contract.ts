import { expect, it } from "vitest";
import { PresenceError } from "../../src/core/presence-error.js";
import { ana, bob, code, OWNER_ANA, OWNER_BOB, record, type MakeHarness } from "./contract-harness.js";

/** The NodeRegistry port's contract (see contract-harness.ts for the timings the suite expects). */
export function nodeRegistryContract(make: MakeHarness) {
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
