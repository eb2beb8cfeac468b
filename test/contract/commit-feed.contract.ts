import { expect, it } from "vitest";
import type { Commit } from "../../src/core/commit.js";
import { ana, bob, OWNER_ANA, OWNER_BOB, type MakeHarness } from "./contract-harness.js";

/**
 * The commit feed: every committed membership event, user-status change and admin action, once,
 * on the node that committed it (here the harness's one node, "local"), with the store's commit
 * time; ephemeral signals (typing, cursors) and no-ops are not commits.
 */
function summary(c: Commit): string {
  if (c.type === "room_event") {
    const e = c.event;
    const detail = e.kind === "left" ? `:${e.reason}` : e.kind === "anonymous" ? `:${e.connectionsDelta}` : "";
    return `${e.room}@${e.version} ${e.kind}${detail}`;
  }
  if (c.type === "user_status") return `${c.status.userId} ${c.status.state}${c.status.customStatus ? ` "${c.status.customStatus}"` : ""}${c.status.invisible ? " invisible" : ""}`;
  return `${c.action.kind} by ${c.action.actor}`;
}

export function commitFeedContract(make: MakeHarness) {
  it("reports every commit once with the node and the commit time; no-ops, typing and cursors are not commits", async () => {
    const { store, clock, settle } = await make();
    const commits: Commit[] = [];
    const off = store.onCommit((c) => commits.push(c));
    const t0 = clock.now();
    const a = await store.join({ room: "f", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    await store.join({ room: "f", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: a.session.sessionId }); // no-op
    const ref = { sessionId: a.session.sessionId, ownerKey: OWNER_ANA };
    await store.setTyping({ ...ref, room: "f", typing: true });
    await store.updateCursor({ ...ref, room: "f", position: { x: 1, y: 2, element: "", selectionStart: 0, selectionEnd: 0 } });
    clock.advance(50);
    await settle();
    await store.heartbeat({ ...ref, activity: "away" });
    await store.setStatus({ ...ref, customStatus: "busy" });
    await store.join({ room: "f", ownerKey: "", identity: { kind: "anonymous", anonymousId: "v" }, metadata: {} });
    await store.navigate({ ...ref, fromRoom: "f", toRoom: "g", metadata: {} });
    await store.leave({ ...ref, room: "g", reason: "left" });
    // Room events in version order per room, a user's statuses in commit order; the order between
    // a room event and a status change of the same call is not part of the contract, nor the order
    // between rooms (a Navigate on Redis joins the target first: a managed room may refuse it).
    const roomOf = (line: string) => line.slice(0, line.indexOf("@"));
    expect(commits.filter((c) => c.type === "room_event").map(summary).sort((x, y) => (roomOf(x) < roomOf(y) ? -1 : roomOf(x) > roomOf(y) ? 1 : 0))).toEqual([
      "f@1 joined",
      "f@2 updated",
      "f@3 anonymous:1",
      "f@4 left:left",
      "g@1 joined",
      "g@2 left:left",
    ]);
    expect(commits.filter((c) => c.type === "user_status").map(summary)).toEqual(["ana online", "ana away", 'ana away "busy"', 'ana offline "busy"']);
    for (const c of commits) {
      expect(c.nodeId).toBe("local");
      expect(c.timeMs).toBe(c.type === "room_event" ? c.event.timeMs : c.timeMs);
      expect(c.timeMs).toBeGreaterThanOrEqual(t0);
      expect(c.timeMs).toBeLessThanOrEqual(clock.now());
    }
    off();
    await store.join({ room: "f", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    expect(commits).toHaveLength(10);
  });

  it("reaping and kicking report their leaves, status changes and the admin action with its actor", async () => {
    const { store, clock } = await make();
    const a = await store.join({ room: "k", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    await store.join({ room: "k2", ownerKey: OWNER_ANA, identity: ana, metadata: {}, sessionId: a.session.sessionId });
    const b = await store.join({ room: "k", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    const commits: Commit[] = [];
    store.onCommit((c) => commits.push(c));
    await store.kickSession(a.session.sessionId, { actor: "op-1" });
    const kick = commits.at(-1)!;
    expect(kick).toMatchObject({ type: "admin_action", nodeId: "local", action: { kind: "kick_session", actor: "op-1", connectionId: a.session.connectionId, userId: "ana", roomsLeft: 2 } });
    expect(commits.map(summary).sort()).toEqual(["ana offline", "k2@2 left:kicked", "k@3 left:kicked", "kick_session by op-1"].sort());
    expect(commits.at(-1)!.type).toBe("admin_action"); // after the leaves it caused
    commits.length = 0;
    await store.heartbeat({ sessionId: b.session.sessionId, ownerKey: OWNER_BOB });
    clock.advance(301);
    await store.reap();
    expect(commits.map(summary).sort()).toEqual(["bob offline", "k@4 left:timeout"]);
    commits.length = 0;
    await store.announceNode();
    await store.join({ room: "p", ownerKey: OWNER_BOB, identity: bob, metadata: {} });
    commits.length = 0;
    await store.purgeNode("local", { force: true, actor: "op-2" });
    expect(commits.map(summary).sort()).toEqual(["bob offline", "p@2 left:kicked", "purge_node by op-2"]);
    expect(commits.at(-1)!.type).toBe("admin_action");
    expect(commits.at(-1)).toMatchObject({ action: { kind: "purge_node", nodeId: "local", sessionsKicked: 1, roomsLeft: 1 } });
  });

  it("a listener that throws does not stop the others or the call", async () => {
    const { store } = await make();
    const seen: string[] = [];
    store.onCommit(() => {
      throw new Error("listener bug");
    });
    store.onCommit((c) => seen.push(summary(c)));
    await store.join({ room: "t", ownerKey: OWNER_ANA, identity: ana, metadata: {} });
    expect(seen.sort()).toEqual(["ana online", "t@1 joined"]);
  });
}
