import { describe, expect, it } from "vitest";
import { createSession, createSessionTable, deleteSession, expiredSessions, liveSession, navigationRooms, openSession, ownedSession, pruneRequests, setRoomAway } from "./session-table.js";

const LIMITS = { maxRoomsPerSession: 2 };
const TTL = 1_000;
const ana = { kind: "user" as const, user: { userId: "ana", name: "Ana", avatarUrl: "", metadata: {} } };

function table() {
  const t = createSessionTable();
  let n = 0;
  const create = (owner: string, now: number, input: { requestId?: string; sessionId?: string } = {}) =>
    createSession(t, { id: `s${++n}`, resumeSecret: `sec${n}`, connectionId: `c${n}`, ownerKey: owner, identity: ana, activity: "active", nodeId: "n1" }, input, now, TTL);
  return { t, create };
}

describe("session table", () => {
  it("a managed room's away threshold shortens the session's while it is in the room", () => {
    const t = createSessionTable();
    const s = createSession(t, { id: "s1", resumeSecret: "k", connectionId: "c1", ownerKey: "u:ana", identity: ana, activity: "active", nodeId: "n1", awayBaseMs: 300_000 }, {}, 0, TTL);
    expect(s.awayAfterMs).toBe(300_000);
    setRoomAway(s, "collab", 120_000);
    setRoomAway(s, "huddle", 60_000);
    expect(s.awayAfterMs).toBe(60_000);
    setRoomAway(s, "huddle", 0); // left it
    expect(s.awayAfterMs).toBe(120_000);
    setRoomAway(s, "collab", 600_000); // updated above the base: no effect
    expect(s.awayAfterMs).toBe(300_000);
  });

  it("a session is live until its expiry, owned by its owner key only, and fenced once expired", () => {
    const { t, create } = table();
    const s = create("u:ana", 0);
    expect(liveSession(t, s.id, 999)).toBe(s);
    expect(liveSession(t, s.id, 1_000)).toBeUndefined(); // expiry is exclusive: fenced at the instant
    expect(ownedSession(t, { sessionId: s.id, ownerKey: "u:bob" }, 10)).toBeUndefined();
    expect(openSession(t, { ownerKey: "u:ana", room: "r", sessionId: s.id }, 1_000, LIMITS, "n2")).toEqual({ status: "not_found" });
    expect(openSession(t, { ownerKey: "u:ana", room: "r", sessionId: s.id, resumeSecret: s.resumeSecret }, 1_000, LIMITS, "n2")).toEqual({ status: "create" });
  });

  it("reclaims with the secret (recording the node), refuses a foreign session id, creates on a wrong secret", () => {
    const { t, create } = table();
    const s = create("u:ana", 0);
    expect(openSession(t, { ownerKey: "u:bob", room: "r", sessionId: s.id }, 10, LIMITS, "n2")).toEqual({ status: "not_found" });
    expect(openSession(t, { ownerKey: "u:ana", room: "r", sessionId: s.id, resumeSecret: "wrong" }, 10, LIMITS, "n2")).toEqual({ status: "create" });
    expect(s.nodeId).toBe("n1");
    expect(openSession(t, { ownerKey: "u:ana", room: "r", sessionId: s.id, resumeSecret: s.resumeSecret }, 10, LIMITS, "n2")).toMatchObject({ status: "reclaimed" });
    expect(s.nodeId).toBe("n2");
  });

  it("refuses a room beyond the limit, counting the rooms it would have; a room it is in is fine", () => {
    const { t, create } = table();
    const s = create("u:ana", 0);
    s.rooms.set("a", {}).set("b", {});
    expect(openSession(t, { ownerKey: "u:ana", room: "c", sessionId: s.id }, 1, LIMITS, "n1")).toEqual({ status: "too_many_rooms", rooms: 3 });
    expect(openSession(t, { ownerKey: "u:ana", room: "b", sessionId: s.id }, 1, LIMITS, "n1")).toMatchObject({ status: "use" });
    expect(navigationRooms(s, "a", "c", 2)).toEqual({ leaving: true, refused: null });
    expect(navigationRooms(s, "", "c", 2)).toEqual({ leaving: false, refused: 3 });
    expect(navigationRooms(s, "x", "a", 2)).toEqual({ leaving: false, refused: null });
  });

  it("a first Join's request id finds the session it created for one TTL, per owner; a gone session is replaced and the id re-pointed", () => {
    const { t, create } = table();
    expect(openSession(t, { ownerKey: "u:ana", room: "r", requestId: "q" }, 0, LIMITS, "n1")).toEqual({ status: "create" });
    const s = create("u:ana", 0, { requestId: "q" });
    expect(openSession(t, { ownerKey: "u:ana", room: "r", requestId: "q" }, 500, LIMITS, "n1")).toMatchObject({ status: "use", session: s });
    expect(openSession(t, { ownerKey: "u:bob", room: "r", requestId: "q" }, 500, LIMITS, "n1")).toEqual({ status: "create" });
    deleteSession(t, s);
    expect(openSession(t, { ownerKey: "u:ana", room: "r", requestId: "q" }, 600, LIMITS, "n1")).toEqual({ status: "create" });
    const s2 = create("u:ana", 600, { requestId: "q" });
    expect(openSession(t, { ownerKey: "u:ana", room: "r", requestId: "q" }, 1_500, LIMITS, "n1")).toMatchObject({ status: "use", session: s2 });
    pruneRequests(t, 1_600);
    expect(t.requests.size).toBe(0);
    // A Join that names a session (a failed reclaim) does not record its request id.
    create("u:ana", 2_000, { requestId: "z", sessionId: "gone" });
    expect(t.requests.size).toBe(0);
  });

  it("counts sessions per owner until deleted; expired ones are listed for reaping, oldest first", () => {
    const { t, create } = table();
    const a = create("u:ana", 0);
    const b = create("u:ana", 500);
    create("", 100);
    expect(t.quotas).toEqual(new Map([["u:ana", 2], ["", 1]]));
    expect(expiredSessions(t, 1_200).map((s) => s.id)).toEqual([a.id, "s3"]);
    deleteSession(t, a);
    deleteSession(t, a); // idempotent
    expect(t.quotas.get("u:ana")).toBe(1);
    deleteSession(t, b);
    expect(t.quotas.has("u:ana")).toBe(false);
  });
});
