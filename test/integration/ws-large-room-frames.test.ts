import { afterEach, describe, expect, it } from "vitest";
import type { ServerFrame } from "../../gen/presence/v1/frames_pb.js";
import type { RoomView } from "../../gen/presence/v1/types_pb.js";
import { connectClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs, type WsTestClient } from "../support/ws-client.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";

/**
 * Rooms above one snapshot page: their members go out through the bridge's own encoder
 * (src/transport/ws/snapshot-frames.ts: each member's bytes encoded once while it is unchanged).
 * What binary sockets receive must equal the truth (GetPresence over Connect) in every Join answer
 * and in every snapshot, also right after members changed; JSON sockets get the same through the
 * generic encoder. The page size is shrunk to 3 so that 8 members make 3 pages.
 */
const servers: TestServer[] = [];
const clients: WsTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const token = (sub: string) => signTestToken(TEST_SECRET, { sub, name: sub.toUpperCase(), meta: { team: "blue" } }, 300);

/** userId → each connection's metadata and activity, the comparable part of a view. */
function members(v: Pick<RoomView, "users"> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const u of v?.users ?? []) out[u.user!.userId] = u.connections.map((c) => `${JSON.stringify(c.metadata)} ${c.activity} role=${c.role} team=${u.user!.metadata["team"]}`).sort();
  return out;
}

function joinView(f: ServerFrame): RoomView | undefined {
  if (f.frame.case !== "join") throw new Error(`expected join, got ${f.frame.case}: ${f.frame.case === "error" ? f.frame.value.message : ""}`);
  return f.frame.value.view;
}

/** Watches `room` and returns the users of its first complete snapshot (all pages). */
async function snapshotOf(c: WsTestClient, room: string): Promise<Pick<RoomView, "users">> {
  const ack = await c.request({ case: "watch", value: { room } });
  expect(ack.frame.case).toBe("ack");
  await c.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "snapshot" && f.frame.value.message.value.last);
  const pages = c.watchMessages(room).flatMap((m) => (m.message.case === "snapshot" ? [m.message.value] : []));
  expect(pages.length).toBeGreaterThan(1);
  return { users: pages.flatMap((p) => p.view!.users) };
}

for (const engine of WS_ENGINES)
  describe(`a room above one snapshot page (${engine} engine)`, () => {
    it("Join answers and snapshots equal the truth on binary and JSON sockets, before and after members change", async () => {
      const s = await startTestServer({ ...engineEnv(engine), PRESENCE_SNAPSHOT_PAGE_SIZE: "3" });
      servers.push(s);
      const rpc = connectClient(s.baseUrl, await token("observer"));
      /** GetPresence, every page. */
      const truth = async () => {
        const users: RoomView["users"] = [];
        let pageToken = "";
        do {
          const v = (await rpc.getPresence({ room: "/big", pageToken })).view!;
          users.push(...v.users);
          pageToken = v.nextPageToken;
        } while (pageToken !== "");
        return members({ users });
      };
      const open = async (sub: string, json = false) => {
        const c = await connectWs(s.wsUrl, { token: await token(sub), json });
        clients.push(c);
        return c;
      };

      const sockets: WsTestClient[] = [];
      for (let i = 0; i < 8; i++) {
        const c = await open(`u${i}`);
        sockets.push(c);
        const f = await c.request({ case: "join", value: { room: "/big", metadata: { n: String(i) } } });
        // Each answer lists everyone so far (the last ones through the member cache).
        expect(members(joinView(f))).toEqual(await truth());
      }
      // A second connection of one user (two connections: never cached) and an away one.
      const second = await open("u1");
      await second.request({ case: "join", value: { room: "/big", metadata: { n: "1b" } } });
      await sockets[2]!.request({ case: "heartbeat", value: { activity: 2 } });

      const before = await truth();
      expect(Object.keys(before)).toHaveLength(8);
      expect(members(await snapshotOf(await open("w1"), "/big"))).toEqual(before);

      // Members change (new metadata by a re-Join, a leave): later answers and snapshots follow.
      await sockets[0]!.request({ case: "join", value: { room: "/big", metadata: { n: "changed" } } });
      await sockets[5]!.request({ case: "leave", value: { room: "/big" } });
      const after = await truth();
      expect(after["u0"]).toEqual([`{"n":"changed"} 1 role= team=blue`]);
      expect(after["u5"]).toBeUndefined();
      expect(members(await snapshotOf(await open("w2"), "/big"))).toEqual(after);
      expect(members(await snapshotOf(await open("w3", true), "/big"))).toEqual(after);
      const late = await open("u9");
      expect(members(joinView(await late.request({ case: "join", value: { room: "/big", metadata: { n: "9" } } })))).toEqual(await truth());
      const lateJson = await open("u10", true);
      expect(members(joinView(await lateJson.request({ case: "join", value: { room: "/big" } })))).toEqual(await truth());
    });
  });
