import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { UserState } from "../../gen/presence/v1/types_pb.js";
import { connectClient } from "../support/clients.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * A refused first Join never shows its user online (Redis, standalone and Cluster, two nodes; and
 * the memory store, one node): a
 * watcher of ana's status (WatchUsers on node A) while her first Joins on node B are refused by a
 * full and by an ended managed room, through every path a first Join takes on Redis (standalone
 * without a request id: session, room and status in one round trip; with a request id and on
 * Cluster: session first). The watch is in order, so everything it saw before her first accepted
 * Join is what the refusals showed: nothing but the snapshot's offline. Her record stays "never
 * seen" (last seen 0) after the refusals.
 */
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const token = (sub: string, extra: Record<string, unknown> = {}) => signTestToken(TEST_SECRET, { sub, name: sub, ...extra });

for (const topology of ["memory", "standalone", "cluster"] as const) {
  describe(`refused first Joins on ${topology === "memory" ? "the memory store" : `${topology} Redis`}`, () => {
    let redis: RedisInstance | undefined;
    let cluster: RedisClusterInstance | undefined;
    beforeAll(async () => {
      if (topology === "standalone") redis = await startRedis();
      else if (topology === "cluster") cluster = await startRedisCluster();
    }, 60_000);
    afterAll(async () => {
      await redis?.stop();
      await cluster?.stop();
    });

    it("never show the user online to a status watcher, with or without a request id", async () => {
      const env = { PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}`, ...(redis ? { PRESENCE_REDIS_URL: redis.url } : cluster ? { PRESENCE_REDIS_CLUSTER: cluster.seeds } : {}) };
      const a = await startTestServer(env);
      servers.push(a);
      const b = topology === "memory" ? a : await startTestServer(env);
      if (b !== a) servers.push(b);
      const owner = connectClient(a.baseUrl, await token("owner"));
      await owner.createRoom({ room: "/op/full", maxParticipants: 1 });
      await owner.join({ room: "/op/full" });
      await owner.createRoom({ room: "/op/ended" });
      await owner.endRoom({ room: "/op/ended", reason: "done" });

      const watcherToken = await token("watcher");
      const watcher = createClient(PresenceService, createGrpcTransport({ baseUrl: a.baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${watcherToken}`), next(req))] }));
      const ac = new AbortController();
      const seen: string[] = [];
      let snapshot!: () => void;
      const snapshotSeen = new Promise<void>((r) => (snapshot = r));
      const watching = (async () => {
        for await (const m of watcher.watchUsers({ userIds: ["ana"] }, { signal: ac.signal })) {
          if (m.message.case === "snapshot") {
            seen.push(...m.message.value.statuses.map((s) => `snapshot:${UserState[s.state]}`));
            snapshot();
          } else if (m.message.case === "changed") seen.push(`changed:${UserState[m.message.value.state]}`);
        }
      })().catch((e: unknown) => {
        if (!ac.signal.aborted) throw e;
      });
      try {
        await snapshotSeen;
        const ana = connectClient(b.baseUrl, await token("ana"));
        const refusals: [string, string | undefined][] = [
          ["/op/full", undefined],
          ["/op/full", "req-full"],
          ["/op/ended", undefined],
          ["/op/ended", "req-ended"],
        ];
        for (const [room, requestId] of refusals) {
          const err = await ana.join({ room, ...(requestId ? { requestId } : {}) }).then(
            () => null,
            (e: unknown) => ConnectError.from(e),
          );
          expect(err?.code, `${room} ${requestId ?? "(no request id)"}`).toBe(room === "/op/full" ? Code.ResourceExhausted : Code.FailedPrecondition);
        }
        const never = (await watcher.getUserStatus({ userIds: ["ana"] })).statuses[0]!;
        expect([UserState[never.state], never.lastSeenMs]).toEqual(["OFFLINE", 0n]);

        // Her first accepted Join: the watcher sees her online now, and nothing before it.
        await ana.join({ room: "/lobby" });
        const deadline = Date.now() + 15_000;
        while (!seen.includes("changed:ONLINE") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(seen).toEqual(["snapshot:OFFLINE", "changed:ONLINE"]);
      } finally {
        ac.abort();
        await watching;
      }
    }, 60_000);
  });
}
