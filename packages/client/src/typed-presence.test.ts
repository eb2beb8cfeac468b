import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { WatchUsersResponseSchema } from "../../../gen/presence/v1/presence_pb.js";
import { UserState } from "../../../gen/presence/v1/types_pb.js";
import { createFakeClock } from "../../../src/core/fake-clock.js";
import { createFakeTransport, viewOf } from "../../../test/support/fake-presence-transport.js";
import { createPresenceClient } from "./presence-client.js";

/**
 * Typed presence and user status through the client's state machine, over a fake transport and a
 * fake clock: Joins carry the presence, setPresence is local at once and sent merged at most once
 * per interval, others/self come from the view; `client.users(ids)` connects without rooms, keeps
 * the connection when the last room is left, and watches again after a reconnect.
 */
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function setup(kind: "connect" | "websocket" = "websocket") {
  const clock = createFakeClock();
  const fake = createFakeTransport(kind);
  const client = createPresenceClient({ transport: kind, url: "ws://presence.test", transportImpl: fake.transport, clock, visibility: false, staleAfterMs: 0, reconnect: { baseMs: 1_000, capMs: 1_000, jitter: 0 } });
  const advance = async (ms: number) => {
    clock.advance(ms);
    await flush();
  };
  return { clock, fake, client, advance };
}

describe("typed presence in the client", () => {
  it("joins with the initial presence, applies setPresence locally at once, sends at most one merged update per 100 ms", async () => {
    const { fake, client, advance } = setup();
    const room = client.join("/doc", {}, { presence: { tool: "pen", cell: null } });
    await flush();
    expect(fake.of("join")[0]!.req.presence).toEqual({ tool: "pen", cell: null });
    const seen: unknown[] = [];
    room.on("myPresence", (p) => seen.push(p));
    room.setPresence({ cell: "A1" });
    expect(room.presence).toEqual({ tool: "pen", cell: "A1" });
    room.setPresence({ cell: "A2" });
    room.setPresence({ selection: [1, 2] });
    expect(fake.of("updatePresence").map((c) => [c.req.presence, c.req.replace])).toEqual([[{ cell: "A1" }, false]]);
    await advance(100);
    expect(fake.of("updatePresence").map((c) => [c.req.presence, c.req.replace])).toEqual([
      [{ cell: "A1" }, false],
      [{ cell: "A2", selection: [1, 2] }, false],
    ]);
    room.setPresence({ only: true }, { replace: true });
    await advance(100);
    expect(fake.of("updatePresence").at(-1)!.req).toMatchObject({ presence: { only: true }, replace: true, room: "/doc" });
    expect(room.presence).toEqual({ only: true });
    expect(seen).toHaveLength(4);
  });

  it("derives others (with presence and cursor) and self from the view, reusing unchanged entries", async () => {
    const { fake, client } = setup();
    fake.joinView = (req, me) => {
      const v = viewOf("/doc", "e1", 3, [["ana", me], ["bob", "cb"]]);
      v.users[1]!.connections[0]!.presence = { tool: '"eraser"' };
      v.cursors = [{ connectionId: "cb", userId: "bob", position: { x: 1, y: 2, element: "", selectionStart: 0, selectionEnd: 0 }, updatedAtMs: 5 }];
      return req.room === "/doc" ? v : null;
    };
    const room = client.join("/doc");
    await room.ready;
    expect(room.others.map((o) => [o.userId, o.presence, o.cursor?.position.x])).toEqual([["bob", { tool: "eraser" }, 1]]);
    expect(room.selfMember?.userId).toBe("ana");
    expect(room.others).toBe(room.others); // stable while the view is
  });
});

describe("client.users(ids)", () => {
  it("connects without rooms, keeps the connection when the last room is left, and watches again after a reconnect", async () => {
    const { fake, client, advance } = setup();
    const friends = client.users(["bob", "cy"]);
    await advance(0);
    expect(client.status).toBe("connected");
    expect(fake.of("watchUsers").map((c) => c.req.userIds)).toEqual([["bob", "cy"]]);
    fake.pushUsers(create(WatchUsersResponseSchema, { message: { case: "snapshot", value: { statuses: [{ userId: "bob", state: UserState.ONLINE }, { userId: "cy", state: UserState.OFFLINE }] } } }));
    expect(friends.statuses.map((s) => s.state)).toEqual(["online", "offline"]);

    const room = client.join("/r");
    await flush();
    await room.leave();
    await flush();
    expect(client.status).toBe("connected"); // the user watch keeps it
    expect(fake.closes).toEqual([]);

    const { PresenceClientError } = await import("./errors.js");
    fake.drop(new PresenceClientError("unavailable", "network", undefined, { closeCode: 1006 }));
    await advance(1_000);
    expect(client.status).toBe("connected");
    expect(fake.of("watchUsers")).toHaveLength(2); // a fresh snapshot after the reconnect
    friends.close();
    await advance(0);
    expect(fake.of("unwatchUsers")).toHaveLength(1);
  });
});

describe("activity signals for the server's away rule", () => {
  it("liveness heartbeats carry no activity; signalActivity sends ACTIVE at most once per interval", async () => {
    const { fake, client, advance } = setup("connect");
    client.join("/r");
    await flush();
    await advance(30_000); // one periodic heartbeat
    const { Activity } = await import("../../../gen/presence/v1/types_pb.js");
    expect(fake.of("heartbeat").map((c) => c.req.activity)).toEqual([Activity.UNSPECIFIED]);
    client.signalActivity();
    client.signalActivity(); // throttled
    await flush();
    expect(fake.of("heartbeat").map((c) => c.req.activity)).toEqual([Activity.UNSPECIFIED, Activity.ACTIVE]);
    await advance(30_000);
    client.signalActivity();
    await flush();
    expect(fake.of("heartbeat").filter((c) => c.req.activity === Activity.ACTIVE)).toHaveLength(2);
  });
});

describe("a room that ends", () => {
  it("drops the room on the `ended` message: handles see `ended`, no Leave is sent, other rooms carry on", async () => {
    const { fake, client } = setup();
    fake.joinView = (req, me) => viewOf(req.room, "e1", 1, [["ana", me]]);
    const a = client.join("/a");
    const b = client.join("/b");
    await a.ready;
    await b.ready;
    const seen: string[] = [];
    a.on("ended", (e) => seen.push(`${e.room}:${e.endedBy}:${e.reason}`));
    const { create } = await import("@bufbuild/protobuf");
    const { WatchPresenceResponseSchema } = await import("../../../gen/presence/v1/presence_pb.js");
    const ended = create(WatchPresenceResponseSchema, { message: { case: "ended", value: { room: "/a", endedBy: "bob", reason: "done", endedAtMs: 5n, tombstoneUntilMs: 600_005n } } });
    fake.pushRaw(ended);
    fake.pushRaw(ended); // the member frame after the watch's message: once
    await flush();
    expect(seen).toEqual(["/a:bob:done"]);
    expect(client.rooms().map((h) => h.room)).toEqual(["/b"]);
    expect(fake.of("leave")).toEqual([]);
    expect(client.status).toBe("connected");
  });
});
