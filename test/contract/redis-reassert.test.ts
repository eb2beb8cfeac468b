import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import { createRedisPresenceStore } from "../../src/store/redis/create-redis-store.js";
import { createKeys } from "../../src/store/redis/keys.js";
import type { RedisPresenceStore } from "../../src/store/redis/redis-store.js";
import { keySlot, startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";

/**
 * Re-assertion after Redis lost data (I2), at the store level:
 * - bug 4 (issue 10): the user's invisible flag and custom status come back with the sessions (an
 *   invisible user must not become visible because Redis lost its data);
 * - bug 3: on Cluster, losing ONE master's data (the others keep theirs, and so does the key that
 *   used to mark the dataset's incarnation) is detected and the lost sessions and room members come
 *   back; before, rooms could point at sessions whose expiry record was gone (never reaped).
 */
const user = (id: string) => ({ kind: "user" as const, user: { userId: id, name: id, avatarUrl: "", metadata: {} } });
const open: RedisPresenceStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function node(conn: { url?: string; clusterSeeds?: string[] }, prefix: string) {
  const clock = createFakeClock(Date.now());
  const s = await createRedisPresenceStore(
    { ...conn, prefix, commandTimeoutMs: 2_000, connectTimeoutMs: 10_000, scopeShards: 16 },
    { clock, ids: createIdSource((n) => randomBytes(n)), timings: { ...DEFAULT_TIMINGS, sessionTtlMs: 5_000, nodeRefreshMs: 1_000 }, limits: DEFAULT_LIMITS, fixedTime: true },
  );
  open.push(s);
  return { store: s, clock };
}

describe("re-assertion after data loss", () => {
  describe("standalone Redis", () => {
    let redis: RedisInstance;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("restores the invisible flag and the custom status with the sessions (bug 4)", async () => {
      const { store } = await node({ url: redis.url }, `t${randomBytes(4).toString("hex")}`);
      const j = await store.join({ room: "r", ownerKey: "u:ana", identity: user("ana"), metadata: {} });
      const ref = { sessionId: j.session.sessionId, ownerKey: "u:ana" };
      await store.setStatus({ ...ref, invisible: true, customStatus: "heads down" });
      await redis.cli("FLUSHALL"); // this test's own server
      await store.heartbeat(ref); // finds its session gone, re-asserts
      expect((await store.getUserStatus(["ana"]))[0]).toMatchObject({ state: "online", invisible: true, customStatus: "heads down" });
      expect((await store.getView("r", { includeMembers: true })).users.map((u) => u.user.userId)).toEqual(["ana"]);
    });

    it("re-creates the invisible user's record with her flag in the same script: no status published meanwhile shows her visible", async () => {
      const { store } = await node({ url: redis.url }, `t${randomBytes(4).toString("hex")}`);
      const j = await store.join({ room: "r", ownerKey: "u:eve", identity: user("eve"), metadata: {} });
      const ref = { sessionId: j.session.sessionId, ownerKey: "u:eve" };
      await store.setStatus({ ...ref, invisible: true, customStatus: "hidden" });
      const published: boolean[] = [];
      const committed: boolean[] = [];
      store.subscribeUsers(["eve"], (r) => published.push(r.invisible));
      store.onCommit((c) => void (c.type === "user_status" && committed.push(c.status.invisible)));
      await store.settleForTests(); // the user subscription is live
      await redis.cli("FLUSHALL");
      await store.heartbeat(ref); // re-asserts: her record is re-created
      await new Promise((r) => setTimeout(r, 200)); // pub/sub delivery
      expect(committed.length).toBeGreaterThan(0);
      expect([...new Set(committed)]).toEqual([true]);
      expect([...new Set(published)]).toEqual([true]);
      expect((await store.getUserStatus(["eve"]))[0]).toMatchObject({ state: "online", invisible: true, customStatus: "hidden" });
    });

    it("restores each connection's typed presence (and metadata) in every room", async () => {
      const { store } = await node({ url: redis.url }, `t${randomBytes(4).toString("hex")}`);
      const j = await store.join({ room: "doc", ownerKey: "u:ana", identity: user("ana"), metadata: { tab: "1" }, presence: { tool: '"pen"' } });
      const ref = { sessionId: j.session.sessionId, ownerKey: "u:ana" };
      await store.join({ ...ref, room: "chat", identity: user("ana"), metadata: {} });
      await store.updatePresence({ ...ref, room: "doc", presence: { selection: "[1,4]" }, replace: false });
      await store.updatePresence({ ...ref, room: "chat", presence: { typingIn: '"general"' }, replace: false });
      const shown = async () => {
        const out: Record<string, unknown> = {};
        for (const room of ["doc", "chat"]) {
          const v = await store.getView(room, { includeMembers: true });
          out[room] = v.users.flatMap((u) => u.connections.map((c) => ({ user: u.user.userId, metadata: c.metadata, presence: c.presence ?? {} })));
        }
        return out;
      };
      const before = await shown();
      expect(before).toEqual({
        doc: [{ user: "ana", metadata: { tab: "1" }, presence: { tool: '"pen"', selection: "[1,4]" } }],
        chat: [{ user: "ana", metadata: {}, presence: { typingIn: '"general"' } }],
      });
      await redis.cli("FLUSHALL");
      await store.heartbeat(ref); // finds its session gone, re-asserts
      expect(await shown()).toEqual(before);
    });

    it("restores the typed presence of a session this node learned by attaching it (created on a node that died since)", async () => {
      const prefix = `t${randomBytes(4).toString("hex")}`;
      const a = await node({ url: redis.url }, prefix);
      const b = await node({ url: redis.url }, prefix);
      const j = await a.store.join({ room: "doc", ownerKey: "u:bo", identity: user("bo"), metadata: {}, presence: { color: '"teal"' } });
      const ref = { sessionId: j.session.sessionId, ownerKey: "u:bo" };
      await b.store.attach(ref); // a stream of node b now holds it
      await a.store.close();
      await redis.cli("FLUSHALL");
      await b.store.heartbeat(ref);
      const v = await b.store.getView("doc", { includeMembers: true });
      expect(v.users.map((u) => ({ user: u.user.userId, presence: u.connections[0]?.presence }))).toEqual([{ user: "bo", presence: { color: '"teal"' } }]);
    });
  });

  describe("Redis Cluster (3 masters)", () => {
    let cluster: RedisClusterInstance;
    beforeAll(async () => {
      cluster = await startRedisCluster({ masters: 3 });
    }, 30_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it("detects that one master lost its data and brings its sessions and members back; orphans are swept (bug 3)", async () => {
      const prefix = `t${randomBytes(4).toString("hex")}`;
      const { store, clock } = await node({ clusterSeeds: cluster.seeds.split(",") }, prefix);
      const keys = createKeys(prefix);
      const ownerOf = async (key: string) => {
        for (const n of cluster.nodes) if (Number(await n.cli("CLUSTER", "COUNTKEYSINSLOT", String(keySlot(key)))) > 0) return n;
        return undefined;
      };
      const joined = [];
      for (let i = 0; i < 12; i++) {
        const j = await store.join({ room: `room-${i % 4}`, ownerKey: `u:u${i}`, identity: user(`u${i}`), metadata: {} });
        joined.push({ ...j, i });
      }
      const victim = (await ownerOf(keys.bucket(keys.bucketOf(joined[0]!.session.sessionId)).sessions))!;
      // A second node's session in a bucket of the victim, in a room on another master; the node
      // then dies: after the loss, nobody knows that session, so its member would stay forever.
      const other = await node({ clusterSeeds: cluster.seeds.split(",") }, prefix);
      let orphanRoom = "";
      for (let i = 0; !orphanRoom && i < 200; i++) {
        const room = `orphan-${i}`;
        const j = await other.store.join({ room, ownerKey: "u:zed", identity: user("zed"), metadata: {} });
        const onVictim = (await ownerOf(keys.bucket(keys.bucketOf(j.session.sessionId)).sessions)) === victim;
        if (onVictim && (await ownerOf(keys.room(room).meta)) !== victim) orphanRoom = room;
        else await other.store.leave({ sessionId: j.session.sessionId, ownerKey: "u:zed", room, reason: "left" });
      }
      expect(orphanRoom, "a session on the victim in a room elsewhere").not.toBe("");
      await other.store.close();
      await victim.cli("FLUSHALL");
      // Every session answers again (re-asserted), and every room has all its members back.
      for (const j of joined) await store.heartbeat({ sessionId: j.session.sessionId, ownerKey: `u:u${j.i}` });
      for (let r = 0; r < 4; r++) {
        const v = await store.getView(`room-${r}`, { includeMembers: true });
        expect(v.users.map((u) => u.user.userId).sort(), `room-${r}`).toEqual(joined.filter((j) => j.i % 4 === r).map((j) => `u${j.i}`).sort());
      }
      // One refresh interval later the orphan is swept with TIMEOUT.
      const commits: string[] = [];
      store.onCommit((c) => c.type === "room_event" && c.event.kind === "left" && commits.push(`${c.event.room} ${c.event.reason}`));
      expect((await store.getView(orphanRoom, { includeMembers: false })).counts.connections).toBe(1);
      clock.advance(1_000); // nodeRefreshMs
      for (let t = 0; t < 100 && commits.length === 0; t++) await new Promise((r) => setTimeout(r, 20));
      expect(commits).toEqual([`${orphanRoom} timeout`]);
      expect((await store.getView(orphanRoom, { includeMembers: false })).counts.connections).toBe(0);
      expect(await store.reap()).toEqual({ expiredSessions: 0, leaves: 0 });
    });
  });
});
