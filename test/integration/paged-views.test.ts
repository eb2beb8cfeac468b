import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { Activity, Detail, MemberOrder } from "../../gen/presence/v1/types_pb.js";
import { connectClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * Paged and ordered room reads (presence.proto GetPresence / BatchGetPresence page_size,
 * page_token, order; WatchPresence order and snapshot_page_size) against a real server on the
 * memory store and on a real Redis: a walk visits every user once in the asked order, the page
 * size is bounded by the snapshot page size, and a bad token is refused naming the field.
 */
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

for (const store of ["memory", "redis"] as const) {
  describe(`paged room views on the ${store} store`, () => {
    let redis: RedisInstance | undefined;
    beforeAll(async () => {
      if (store === "redis") redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    async function roomOf12() {
      const env: Record<string, string> = { PRESENCE_SNAPSHOT_PAGE_SIZE: "10" };
      if (redis) Object.assign(env, { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` });
      const s = await startTestServer(env);
      servers.push(s);
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const id = `u${String(i).padStart(2, "0")}`;
        ids.push(id);
        await connectClient(s.baseUrl, await signTestToken(TEST_SECRET, { sub: id, name: id })).join({ room: "/big" });
        await new Promise((r) => setTimeout(r, 3)); // distinct join times
      }
      return { s, ids, client: connectClient(s.baseUrl) };
    }

    it("walks GetPresence pages in join order and in last-activity order, each user once", async () => {
      const { ids, client } = await roomOf12();
      for (const [order, expected] of [
        [MemberOrder.JOINED, ids],
        [MemberOrder.LAST_ACTIVE, [...ids].reverse()],
      ] as const) {
        const seen: string[] = [];
        let token = "";
        let pages = 0;
        do {
          const v = (await client.getPresence({ room: "/big", pageSize: 5, pageToken: token, order })).view!;
          expect(v.counts?.users).toBe(12);
          seen.push(...v.users.map((u) => u.user!.userId));
          token = v.nextPageToken;
          pages++;
        } while (token !== "");
        expect(pages).toBe(3);
        expect(seen).toEqual(expected);
      }
      // No page size: the snapshot page size (10) bounds the answer.
      const first = (await client.getPresence({ room: "/big" })).view!;
      expect(first.users).toHaveLength(10);
      expect(first.nextPageToken).not.toBe("");
      const batch = (await client.batchGetPresence({ rooms: ["/big", "/empty"], pageSize: 4, order: MemberOrder.LAST_ACTIVE })).views;
      expect(batch[0]!.users.map((u) => u.user!.userId)).toEqual(["u11", "u10", "u09", "u08"]);
      expect(batch[1]!.users).toEqual([]);
      const err = await client.getPresence({ room: "/big", pageSize: 11 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toBe("page_size: must be at most 10 entries (got 11)");
      const bad = await client.getPresence({ room: "/big", pageToken: "nope" }).catch((e: unknown) => e);
      expect((bad as ConnectError).rawMessage).toMatch(/^page_token: is not a page token of this list/);
      expect((await client.getPresence({ room: "/big", detail: Detail.COUNTS })).view?.membersOmitted).toBe(true);
    });

    it("LAST_ACTIVE follows the members' activity signals, not their join order (Connection.last_active_ms filled)", async () => {
      const env: Record<string, string> = {};
      if (redis) Object.assign(env, { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` });
      const a = await startTestServer(env);
      servers.push(a);
      const b = redis ? await startTestServer(env) : a; // on Redis the signals go through another node than the reads
      if (b !== a) servers.push(b);
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const members: { id: string; sid: string; client: ReturnType<typeof connectClient> }[] = [];
      for (const id of ["ann", "ben", "cat"]) {
        const client = connectClient(b.baseUrl, await signTestToken(TEST_SECRET, { sub: id, name: id }));
        members.push({ id, client, sid: (await client.join({ room: "/act" })).session!.sessionId });
        await sleep(10);
      }
      const [ann, ben] = members as [(typeof members)[0], (typeof members)[0]];
      await sleep(10);
      await ann.client.setTyping({ sessionId: ann.sid, room: "/act", typing: true }); // an activity signal
      await sleep(10);
      await ben.client.heartbeat({ sessionId: ben.sid, activity: Activity.ACTIVE }); // one more
      const reader = connectClient(a.baseUrl);
      const order = async (o: MemberOrder) => (await reader.getPresence({ room: "/act", order: o })).view!.users.map((u) => u.user!.userId);
      expect(await order(MemberOrder.JOINED)).toEqual(["ann", "ben", "cat"]);
      expect(await order(MemberOrder.LAST_ACTIVE)).toEqual(["ben", "ann", "cat"]);
      const conns = (await reader.getPresence({ room: "/act" })).view!.users.map((u) => u.connections[0]!);
      const [annC, benC, catC] = conns as [(typeof conns)[0], (typeof conns)[0], (typeof conns)[0]];
      expect(catC.lastActiveMs).toBe(catC.joinedAtMs); // a Join is its only signal
      expect(annC.lastActiveMs).toBeGreaterThan(catC.joinedAtMs);
      expect(benC.lastActiveMs).toBeGreaterThan(annC.lastActiveMs);
      // Paging in that order walks the same sequence.
      const first = (await reader.getPresence({ room: "/act", order: MemberOrder.LAST_ACTIVE, pageSize: 2 })).view!;
      const second = (await reader.getPresence({ room: "/act", order: MemberOrder.LAST_ACTIVE, pageSize: 2, pageToken: first.nextPageToken })).view!;
      expect([...first.users, ...second.users].map((u) => u.user!.userId)).toEqual(["ben", "ann", "cat"]);
    });

    it("pages WatchPresence snapshots in the asked order and size", async () => {
      const { client } = await roomOf12();
      const ac = new AbortController();
      const pages: string[][] = [];
      for await (const m of client.watchPresence({ room: "/big", order: MemberOrder.LAST_ACTIVE, snapshotPageSize: 5 }, { signal: ac.signal })) {
        if (m.message.case !== "snapshot") continue;
        pages.push(m.message.value.view!.users.map((u) => u.user!.userId));
        if (m.message.value.last) break;
      }
      ac.abort();
      expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
      expect(pages.flat()).toEqual(Array.from({ length: 12 }, (_, i) => `u${String(11 - i).padStart(2, "0")}`));
    });
  });
}
