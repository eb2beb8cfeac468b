/**
 * The backend process holding a Track stream is killed with SIGKILL (no close, no goodbye): the
 * server sees the connection drop, its presences enter the reconnect grace, and since nobody
 * reclaims them each leaves exactly once, within grace + reaper interval (+ slack for a loaded
 * machine), seen by watchers on another node. Memory store, standalone Redis and a 3-master Cluster.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { spawnTracked, terminate } from "../support/processes.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { recordWatch, waitFor, type RecordedWatch } from "../support/watch-recorder.js";

const N = 1_000;
const ROOMS = 10;
const GRACE_MS = 1_000;
const REAPER_MS = 100;
const SLACK_MS = 3_000;
const CHILD = fileURLToPath(new URL("../support/track-backend-child.ts", import.meta.url));

for (const store of ["memory", "redis", "cluster"] as const) {
  describe(`kill -9 of a backend holding ${N} presences on a Track stream (${store})`, { timeout: 120_000 }, () => {
    let redis: RedisInstance | undefined;
    let cluster: RedisClusterInstance | undefined;
    let tracking: TestServer;
    let watching: TestServer;
    let viewer: PresenceClient;
    let watchers: RecordedWatch[];
    const prefix = `kill9/${store}`;

    beforeAll(async () => {
      let env: Record<string, string> = { PRESENCE_RECONNECT_GRACE_MS: String(GRACE_MS), PRESENCE_REAPER_INTERVAL_MS: String(REAPER_MS), PRESENCE_SESSION_TTL_MS: "20000", PRESENCE_HEARTBEAT_INTERVAL_MS: "10000" };
      if (store === "redis") redis = await startRedis();
      if (store === "cluster") cluster = await startRedisCluster();
      if (redis) env = { ...env, PRESENCE_REDIS_URL: redis.url };
      if (cluster) env = { ...env, PRESENCE_REDIS_CLUSTER: cluster.seeds };
      if (store !== "memory") env.PRESENCE_REDIS_PREFIX = `x${randomBytes(4).toString("hex")}`;
      tracking = await startTestServer(env);
      watching = store === "memory" ? tracking : await startTestServer(env);
      viewer = connectClient(watching.baseUrl, undefined, { httpVersion: "2" });
      watchers = Array.from({ length: ROOMS }, (_, i) => recordWatch(viewer, { room: `${prefix}/${i}` }));
      await Promise.all(watchers.map((w) => w.until((r) => r.snapshots() >= 1, 20_000, "the first snapshot")));
    }, 90_000);

    afterAll(async () => {
      for (const w of watchers ?? []) w.cancel();
      viewer?.close();
      await tracking?.close();
      if (watching !== tracking) await watching?.close();
      await redis?.stop();
      await cluster?.stop();
    });

    it("each presence leaves exactly once within grace + reaper interval", async () => {
      const token = await signTestToken(TEST_SECRET, { sub: "kill9-backend", role: "service" });
      const backend = spawnTracked(process.execPath, ["--import", "tsx", CHILD], {
        env: { ...process.env, PRESENCE_URL: tracking.baseUrl, TRACK_TOKEN: token, TRACK_PRESENCES: String(N), TRACK_ROOMS: String(ROOMS), TRACK_ROOM: prefix },
      });
      await waitFor(() => /ready trk_/.test(backend.output()), 60_000, `the backend to track its presences (output: ${backend.output()})`);
      await Promise.all(watchers.map((w) => w.until((r) => r.view()?.counts.connections === N / ROOMS, 30_000, "every presence")));
      const killedAt = Date.now();
      await terminate(backend, "SIGKILL");
      await Promise.all(watchers.map((w) => w.until((r) => r.view()?.counts.connections === 0, GRACE_MS + REAPER_MS + SLACK_MS + 15_000, "every presence to leave")));
      const elapsed = Date.now() - killedAt;
      for (const w of watchers) {
        const left = w.recorder.messages.filter((m) => m.kind === "event" && m.eventKind === "left");
        expect(left).toHaveLength(N / ROOMS);
        expect(new Set(left.map((m) => m.connectionId)).size).toBe(N / ROOMS);
        expect(w.recorder.violations).toEqual([]);
      }
      console.log(`kill -9 (${store}): ${N} presences gone ${elapsed} ms after SIGKILL (grace ${GRACE_MS} ms + reaper ${REAPER_MS} ms)`);
      expect(elapsed).toBeGreaterThanOrEqual(GRACE_MS - 100);
      expect(elapsed).toBeLessThanOrEqual(GRACE_MS + REAPER_MS + SLACK_MS);
    });
  });
}
