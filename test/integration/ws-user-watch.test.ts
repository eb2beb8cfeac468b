import { afterEach, describe, expect, it } from "vitest";
import type { ServerFrame } from "../../gen/presence/v1/frames_pb.js";
import { UserState } from "../../gen/presence/v1/types_pb.js";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs, type WsTestClient } from "../support/ws-client.js";

/**
 * The WebSocket user watch list (frames.proto `watch_users`, the SDK's `client.users(ids)` over the
 * bridge): an Ack, a snapshot of every listed user, then one `users` frame per change; a new
 * `watch_users` replaces the list; `unwatch_users` stops it; bad lists are refused with an
 * ErrorFrame naming the field. A real server (port 0), real `ws` clients.
 */
const servers: TestServer[] = [];
const clients: WsTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function open(s: TestServer, sub: string) {
  const c = await connectWs(s.wsUrl, { token: await signTestToken(TEST_SECRET, { sub, name: sub }, 300) });
  clients.push(c);
  return c;
}

const users = (f: ServerFrame) => (f.frame.case === "users" ? f.frame.value.message : undefined);

describe("WebSocket user watch list", () => {
  it("sends a snapshot, then each change of a watched user; a new list replaces the old one", async () => {
    const s = await startTestServer();
    servers.push(s);
    const ana = await open(s, "ana");
    const ack = await ana.request({ case: "watchUsers", value: { userIds: ["bob", "cy"] } });
    expect(ack.frame.case).toBe("ack");
    const snap = await ana.waitFor((f) => users(f)?.case === "snapshot");
    const statuses = (users(snap) as { value: { statuses: { userId: string; state: UserState }[] } }).value.statuses;
    expect(statuses.map((x) => [x.userId, x.state])).toEqual([["bob", UserState.OFFLINE], ["cy", UserState.OFFLINE]]);

    const bob = await open(s, "bob");
    await bob.request({ case: "join", value: { room: "/r" } });
    const online = await ana.waitFor((f) => users(f)?.case === "changed" && (users(f)!.value as { userId: string }).userId === "bob");
    expect((users(online)!.value as { state: UserState }).state).toBe(UserState.ONLINE);

    // Replace the list: a new snapshot with cy only; bob's changes no longer arrive.
    const before = ana.frames.length;
    await ana.request({ case: "watchUsers", value: { userIds: ["cy"] } });
    const snap2 = await ana.waitFor((f) => ana.frames.indexOf(f) >= before && users(f)?.case === "snapshot");
    expect((users(snap2)!.value as { statuses: { userId: string }[] }).statuses.map((x) => x.userId)).toEqual(["cy"]);
    const mark = ana.frames.length;
    await bob.request({ case: "leave", value: { room: "/r" } });
    const cy = await open(s, "cy");
    await cy.request({ case: "join", value: { room: "/r" } });
    await ana.waitFor((f) => users(f)?.case === "changed" && (users(f)!.value as { userId: string }).userId === "cy");
    expect(ana.frames.slice(mark).some((f) => users(f)?.case === "changed" && (users(f)!.value as { userId: string }).userId === "bob")).toBe(false);

    // Stop: nothing more arrives.
    await ana.request({ case: "unwatchUsers", value: {} });
    const stopped = ana.frames.length;
    await cy.request({ case: "leave", value: { room: "/r" } });
    await new Promise((r) => setTimeout(r, 200));
    expect(ana.frames.slice(stopped).filter((f) => users(f) !== undefined)).toEqual([]);
  });

  it("refuses an empty or oversized list with an ErrorFrame naming the field", async () => {
    const s = await startTestServer({ PRESENCE_MAX_USER_IDS: "2" });
    servers.push(s);
    const ana = await open(s, "ana");
    const empty = await ana.request({ case: "watchUsers", value: { userIds: [] } });
    expect(empty.frame.case === "error" && empty.frame.value).toMatchObject({ code: 3, reason: ErrorReason.INVALID_ARGUMENT, message: "user_ids: must not be empty" });
    const many = await ana.request({ case: "watchUsers", value: { userIds: ["a", "b", "c"] } });
    expect(many.frame.case === "error" && many.frame.value.message).toBe("user_ids: must be at most 2 ids (got 3)");
  });
});
