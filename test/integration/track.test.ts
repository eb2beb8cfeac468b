/**
 * The Track stream (issue 14, the Phoenix Tracker model) against real servers: 10,000 presences
 * (TRACK_TEST_PRESENCES) over one stream across 100 rooms, watched on another node (a second
 * server on the same Redis; on the memory store, the same node), on the memory store, a real
 * standalone Redis and a real 3-master Cluster:
 *
 * 1. every track is answered like a Join and every presence is visible to the watchers;
 * 2. the stream cut abruptly and reopened with the tracker id and secret within the grace, on the
 *    other node (Redis, Cluster), reclaims every presence with no leave and no join seen by any watcher;
 * 3. cut again and not reopened: every presence leaves exactly once, with reason TIMEOUT, after
 *    the grace and within grace + reaper interval + slack.
 *
 * The recorders also check every watcher's stream for gaps and duplicates.
 */
import { randomBytes } from "node:crypto";
import { LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { trackClient } from "../support/track-client.js";
import { recordWatch, type RecordedWatch } from "../support/watch-recorder.js";

const N = Number(process.env.TRACK_TEST_PRESENCES ?? 10_000);
const ROOMS = 100;
// The reconnect below comes at a quarter of the grace and must reclaim 10,000 sessions on another
// node before the rest of it runs out: 2 s left 1.5 s, and under CI load 12 of 10,000 were reaped
// first (reclaimed 9,988: correct behaviour for sessions past their grace, but not what this case
// proves). 5 s leaves 3.75 s.
const GRACE_MS = 5_000;
const REAPER_MS = 100;
const ENV = {
  PRESENCE_RECONNECT_GRACE_MS: String(GRACE_MS),
  PRESENCE_REAPER_INTERVAL_MS: String(REAPER_MS),
  PRESENCE_SESSION_TTL_MS: "20000",
  PRESENCE_HEARTBEAT_INTERVAL_MS: "10000",
  PRESENCE_NODE_REFRESH_MS: "2000",
};

const membership = (w: RecordedWatch) => w.recorder.messages.filter((m) => m.kind === "event" && (m.eventKind === "joined" || m.eventKind === "left"));

/**
 * Each presence seen `kind` exactly once by a watcher: as an event, or (when the hub resynced the
 * watcher meanwhile: a slow reader, a position check on a busy machine, design §5) folded into a
 * snapshot. The recorder already fails on a duplicate join or a leave of someone absent, and the
 * caller checks the final view; here: never twice, and all of them as events when no snapshot
 * came since `snapshotsBefore`.
 */
function expectEachOnce(w: RecordedWatch, kind: "joined" | "left", expected: number, snapshotsBefore: number, label: string) {
  const seen = membership(w).filter((m) => m.eventKind === kind);
  expect(new Set(seen.map((m) => m.connectionId)).size, `${label}: no ${kind} event twice`).toBe(seen.length);
  if (w.recorder.snapshots() === snapshotsBefore) expect(seen, `${label}: every ${kind} as an event (no resync)`).toHaveLength(expected);
  else expect(seen.length, `${label}: resynced, the rest is in the snapshot`).toBeLessThanOrEqual(expected);
}

for (const store of ["memory", "redis", "cluster"] as const) {
  describe(`Track, ${N} presences over one stream across ${ROOMS} rooms (${store})`, { timeout: 180_000 }, () => {
    let redis: RedisInstance | undefined;
    let cluster: RedisClusterInstance | undefined;
    let tracking: TestServer;
    let watching: TestServer;
    let token: string;
    let viewer: PresenceClient;
    let watchers: RecordedWatch[] = [];
    let tracker = { id: "", secret: "" };
    let cutAt = 0;
    let snapshotsAtCut: number[] = [];
    let leftBeforeCut: number[] = [];
    const room = (i: number) => `track/${store}/${i % ROOMS}`;

    beforeAll(async () => {
      let env: Record<string, string> = { ...ENV };
      if (store === "redis") redis = await startRedis();
      if (store === "cluster") cluster = await startRedisCluster();
      if (redis) env = { ...env, PRESENCE_REDIS_URL: redis.url };
      if (cluster) env = { ...env, PRESENCE_REDIS_CLUSTER: cluster.seeds };
      if (store !== "memory") env.PRESENCE_REDIS_PREFIX = `k${randomBytes(4).toString("hex")}`;
      tracking = await startTestServer(env);
      watching = store === "memory" ? tracking : await startTestServer(env);
      token = await signTestToken(TEST_SECRET, { sub: "track-backend", role: "service" });
      viewer = connectClient(watching.baseUrl, undefined, { httpVersion: "2" });
      watchers = Array.from({ length: ROOMS }, (_, i) => recordWatch(viewer, { room: room(i) }));
      await Promise.all(watchers.map((w) => w.until((r) => r.snapshots() >= 1, 20_000, "the first snapshot")));
    }, 120_000);

    afterAll(async () => {
      for (const w of watchers) w.cancel();
      viewer?.close();
      await tracking?.close();
      if (watching !== tracking) await watching?.close();
      await redis?.stop();
      await cluster?.stop();
    });

    it("tracks every presence (answered like Join) and the watchers on the other node see each once", { timeout: 180_000 }, async () => {
      const stream = trackClient(tracking.baseUrl, token);
      try {
        await trackAll(stream);
      } finally {
        stream.abort(); // (2) an abrupt end: network loss, process gone (also when a check failed)
        await stream.ended;
      }
    });

    async function trackAll(stream: ReturnType<typeof trackClient>) {
      const { opened } = await stream.open();
      expect(opened).toMatchObject({ resumed: false, reclaimed: 0, maxPresences: 50_000 });
      expect(opened.trackerSecret).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      tracker = { id: opened.trackerId, secret: opened.trackerSecret };
      const answers = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          stream.send({ case: "track", value: { key: `conn-${i}`, room: room(i), user: { userId: `user-${i}`, name: `User ${i}` }, metadata: { n: String(i) } } }),
        ),
      );
      for (const a of answers) {
        expect(a.case).toBe("tracked");
        if (a.case === "tracked") expect(a.value).toMatchObject({ changed: true, view: { membersOmitted: true } });
      }
      await Promise.all(watchers.map((w) => w.until((r) => (r.view()?.counts.users ?? 0) === N / ROOMS, 60_000, "every member")));
      const views = await viewer.batchGetPresence({ rooms: Array.from({ length: ROOMS }, (_, i) => room(i)), detail: 2 });
      expect(views.views.reduce((n, v) => n + (v.counts?.connections ?? 0), 0)).toBe(N);
      for (const [i, w] of watchers.entries()) {
        expect(w.recorder.violations).toEqual([]);
        expectEachOnce(w, "joined", N / ROOMS, 1, `room ${i}`);
      }
      // Idempotent like Join: the same key, room and metadata again changes nothing.
      const again = await stream.send({ case: "track", value: { key: "conn-0", room: room(0), metadata: { n: "0" } } });
      expect(again).toMatchObject({ case: "tracked", value: { changed: false } });
    }

    it(`reclaims them all on reconnect within the grace${store === "memory" ? "" : " on ANOTHER node"}: no leave, no join`, { timeout: 180_000 }, async () => {
      const before = watchers.map((w) => membership(w).length);
      const members = watchers.map((w) => w.recorder.view()?.users);
      await new Promise((r) => setTimeout(r, GRACE_MS / 4));
      // Behind a load balancer the reconnect lands anywhere: here on the other node.
      const stream = trackClient(watching.baseUrl, token);
      const { opened, reclaimed } = await stream.open(tracker.id, tracker.secret);
      expect(opened).toMatchObject({ trackerId: tracker.id, trackerSecret: "", resumed: true, reclaimed: N });
      expect(reclaimed).toHaveLength(N);
      expect(new Set(reclaimed.map((p) => p.key)).size).toBe(N);
      // Past the grace and a node refresh: still nobody left, nobody (re)joined.
      await new Promise((r) => setTimeout(r, GRACE_MS + 3 * REAPER_MS + 500));
      expect(watchers.map((w) => membership(w).length)).toEqual(before);
      // Also through a resync: the same connections (a leave and re-join would bring new ones).
      expect(watchers.map((w) => w.recorder.view()?.users)).toEqual(members);
      const untracked = await stream.send({ case: "untrack", value: { key: "conn-1", room: room(1) } });
      expect(untracked).toMatchObject({ case: "untracked", value: { left: true, ended: true } });
      const unknown = await stream.send({ case: "untrack", value: { key: "no-such-key", room: "" } }).catch((e: unknown) => e);
      expect(unknown).toMatchObject({ item: { code: 5, message: 'key: no presence tracked with key "no-such-key"' } });
      await watchers[1]!.until((r) => r.view()?.counts.connections === N / ROOMS - 1, 10_000, "the untracked presence's leave");
      snapshotsAtCut = watchers.map((w) => w.recorder.snapshots());
      leftBeforeCut = watchers.map((w) => membership(w).filter((m) => m.eventKind === "left").length);
      cutAt = Date.now();
      stream.abort();
      await stream.ended;
    });

    it("after the grace without a reconnect, every presence leaves exactly once", { timeout: 180_000 }, async () => {
      const t0 = cutAt;
      // 10,000 departures at once are bounded by the reaper's throughput, not by the grace: each is
      // about six store round trips (claim, view, leave, user status, scopes, done), the 64 session
      // buckets one after another. Measured on the shared 2-core box at load 30: 4.6 s past the
      // grace on memory, 28 s on Redis, 47.5 s on Cluster; hence 120 s here, and the figure printed.
      await Promise.all(watchers.map((w) => w.until((r) => r.view()?.counts.connections === 0, 120_000, "the room to empty")));
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(GRACE_MS - 200);
      for (const [i, w] of watchers.entries()) {
        expect(w.recorder.violations).toEqual([]);
        expectEachOnce(w, "left", N / ROOMS, snapshotsAtCut[i]!, `room ${i}`);
        const left = membership(w).filter((m) => m.eventKind === "left");
        if (w.recorder.snapshots() === snapshotsAtCut[i]) {
          for (const m of left.slice(leftBeforeCut[i])) expect(m.reason, `room ${i}: left with reason TIMEOUT`).toBe(LeaveReason.TIMEOUT);
        }
      }
      const resynced = watchers.filter((w, i) => w.recorder.snapshots() > snapshotsAtCut[i]!).length;
      console.log(`Track (${store}): ${N} presences left ${elapsed} ms after the stream was cut (grace ${GRACE_MS} ms, reaper ${REAPER_MS} ms; ${resynced} of ${ROOMS} watchers resynced meanwhile)`);
    });
  });
}
