import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ServerFrameSchema } from "../../../gen/presence/v1/frames_pb.js";
import type { UserInfo } from "../../core/identity.js";
import type { Member, RoomView, UserPresence } from "../../core/presence-event.js";
import { groupByUser } from "../../core/room-state.js";
import { viewToPb, watchItemToPb } from "../wire.js";
import { encodeBinary } from "./frames.js";
import { joinAnswerFrame, snapshotPageFrame } from "./snapshot-frames.js";

const user = (id: string, metadata: Record<string, string> = {}): UserInfo => ({ userId: id, name: `Name ${id}`, avatarUrl: `https://a/${id}`, metadata });
const member = (u: UserInfo, conn: string, extra: Partial<Member> = {}): Member => ({
  connectionId: conn,
  identity: { kind: "user", user: u },
  metadata: { tab: conn },
  activity: "active",
  joinedAtMs: 1_700_000_000_000,
  lastActiveMs: 1_700_000_000_500,
  ...extra,
});
const view = (users: UserPresence[]): RoomView => ({
  room: "/doc/1",
  epoch: "e1",
  version: 42,
  counts: { users: users.length, connections: users.reduce((n, u) => n + u.connections.length, 0), anonymous: 3 },
  users,
  membersOmitted: false,
  typing: [{ userId: "u1", expiresInMs: 1500 }],
  cursors: [{ connectionId: "c1", userId: "u1", position: { x: 1, y: 2, element: "p", selectionStart: 0, selectionEnd: 3 }, updatedAtMs: 1_700_000_000_100 }],
});
/** What the generic encoder makes of the same page. */
const reference = (v: RoomView, first: boolean, last: boolean) => encodeBinary({ requestId: 0, frame: { case: "watch", value: watchItemToPb({ type: "snapshot", view: v, first, last }) } });
const decoded = (b: Uint8Array) => fromBinary(ServerFrameSchema, b);

describe("snapshot page frames", () => {
  const u1 = user("u1", { plan: "pro" });
  const u2 = user("u2");
  const members = [
    member(u1, "c1"),
    member(u2, "c2", { activity: "away", presence: { status: '"writing"' } }),
    member(u2, "c3", { metadata: { $role: "editor" } }), // a second connection of u2, with a role
    member(user("u3"), "c4", { metadata: { $role: "viewer", x: "1" } }),
  ];

  for (const cache of [false, true])
    for (const [first, last] of [[true, true], [true, false], [false, true], [false, false]] as const)
      it(`decode to what the generic encoder gives (cache ${cache}, first ${first}, last ${last})`, () => {
        const v = view(groupByUser(members));
        const b = snapshotPageFrame(v, first, last, cache ? 0 : 10_000, v.users.length);
        expect(decoded(b)).toEqual(decoded(reference(v, first, last)));
      });

  it("reuse a user's bytes while its member object is unchanged, and follow a replaced member", () => {
    const v1 = view(groupByUser(members));
    const a = snapshotPageFrame(v1, true, true, 0, v1.users.length);
    expect(snapshotPageFrame(v1, true, true, 0, v1.users.length)).toEqual(a);
    // The store replaces a member when it changes (activity, metadata, presence, last activity).
    const changed = [{ ...members[0]!, activity: "away" as const, lastActiveMs: 1_700_000_009_000 }, ...members.slice(1)];
    const v2 = view(groupByUser(changed));
    const b = snapshotPageFrame(v2, true, true, 0, v2.users.length);
    expect(decoded(b)).toEqual(decoded(reference(v2, true, true)));
    expect(decoded(b)).not.toEqual(decoded(a));
  });

  it("an empty page is the view's head alone", () => {
    const v = view([]);
    expect(decoded(snapshotPageFrame(v, true, true, 0, 0))).toEqual(decoded(reference(v, true, true)));
  });
});

describe("join answer frames", () => {
  const members = [member(user("a"), "c1"), member(user("b"), "c2", { metadata: { $role: "editor" } }), member(user("b"), "c3", { activity: "away" })];
  const answer = {
    session: { sessionId: "s1", resumeSecret: "r1", connectionId: "c1" },
    lease: { ttlMs: 30_000n, heartbeatIntervalMs: 10_000n, expiresAtMs: 1_700_000_030_000n },
    resumed: true,
    heartbeatKey: new Uint8Array([1, 2, 3]),
    udpPort: 7001,
    scopes: ["team:1"],
  };
  for (const [requestId, minUsers] of [[7, 0], [0, 0], [300, 10_000]] as const)
    it(`decode to what the generic encoder gives (request ${requestId}, cache ${minUsers === 0})`, () => {
      const v = view(groupByUser(members));
      const b = joinAnswerFrame(requestId, answer, v, minUsers);
      const generic = encodeBinary({ requestId, frame: { case: "join", value: { ...answer, view: viewToPb(v) } } });
      expect(decoded(b)).toEqual(decoded(generic));
    });
});

describe("large pages", () => {
  it("encode lengths of several bytes the same as the generic encoder (2,000 users, a 70 KB page)", () => {
    const many = Array.from({ length: 2_000 }, (_, i) => member(user(`user-${i}`, { bio: "x".repeat(i % 40) }), `conn-${i}`));
    const v = view(groupByUser(many));
    const b = snapshotPageFrame(v, true, false, 100, v.users.length);
    expect(b.length).toBeGreaterThan(70_000);
    expect(decoded(b)).toEqual(decoded(reference(v, true, false)));
    const j = joinAnswerFrame(4_000_000_000, { resumed: false }, v, 100);
    expect(decoded(j)).toEqual(decoded(encodeBinary({ requestId: 4_000_000_000, frame: { case: "join", value: { resumed: false, view: viewToPb(v) } } })));
  });
});
