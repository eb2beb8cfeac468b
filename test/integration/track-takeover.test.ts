/**
 * A Track stream taken over from ANOTHER node while it is still open (a backend that reconnected
 * elsewhere over a connection its first node had not seen die), on a real Redis shared by two
 * nodes: the newer stream reclaims every presence (no leave, no join), the older stream ends with
 * TRACKER_REPLACED at its node's next refresh and stops keeping the sessions alive, so when the
 * newer stream is cut too, every presence leaves once after the grace. (Before the holder was
 * recorded in the store, the first node kept refreshing the sessions for as long as its stream
 * stayed open: they never left.)
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { trackClient } from "../support/track-client.js";
import { recordWatch, type RecordedWatch } from "../support/watch-recorder.js";

const GRACE_MS = 1_000;
const NODE_REFRESH_MS = 500;
const ENV = {
  PRESENCE_RECONNECT_GRACE_MS: String(GRACE_MS),
  PRESENCE_NODE_REFRESH_MS: String(NODE_REFRESH_MS),
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_SESSION_TTL_MS: "5000",
  PRESENCE_HEARTBEAT_INTERVAL_MS: "2000",
};
const ROOM = "takeover/doc";
const KEYS = 20;

describe("Track takeover across nodes (redis)", () => {
  let redis: RedisInstance;
  let a: TestServer;
  let b: TestServer;
  let viewer: PresenceClient;
  let watch: RecordedWatch;

  beforeAll(async () => {
    redis = await startRedis();
    const env = { ...ENV, PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `t${randomBytes(4).toString("hex")}` };
    [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
    viewer = connectClient(b.baseUrl, undefined, { httpVersion: "2" });
    watch = recordWatch(viewer, { room: ROOM });
    await watch.until((r) => r.snapshots() >= 1, 20_000, "the first snapshot");
  }, 60_000);

  afterAll(async () => {
    watch?.cancel();
    viewer?.close();
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it("the older stream ends with TRACKER_REPLACED and lets go; after the newer one is cut, each presence leaves once", async () => {
    const token = await signTestToken(TEST_SECRET, { sub: "takeover-backend", role: "service" });
    const first = trackClient(a.baseUrl, token);
    const { opened } = await first.open("web-takeover");
    await Promise.all(Array.from({ length: KEYS }, (_, i) => first.send({ case: "track", value: { key: `k${i}`, room: ROOM, user: { userId: `u${i}` } } })));
    await watch.until((r) => r.view()?.counts.connections === KEYS, 10_000, "every presence");
    const members = watch.recorder.view()?.users;

    // The backend reconnects through node b while node a still holds its first stream open.
    const second = trackClient(b.baseUrl, token);
    const taken = await second.open("web-takeover", opened.trackerSecret);
    expect(taken.opened).toMatchObject({ resumed: true, reclaimed: KEYS });
    const ended = await Promise.race([first.ended, new Promise<string>((r) => setTimeout(() => r("still open"), 5 * NODE_REFRESH_MS + 2_000))]);
    expect(ended instanceof Error ? ended.message : ended).toMatch(/^\[aborted\] tracker: a newer Track stream of this tracker took it over/);
    expect(watch.recorder.view()?.users, "moved, never left or re-joined").toEqual(members);

    // Now the newer stream is cut: nobody keeps the sessions alive any more.
    const cutAt = Date.now();
    second.abort();
    await second.ended;
    await watch.until((r) => r.view()?.counts.connections === 0, 30_000, "the room to empty");
    expect(Date.now() - cutAt).toBeGreaterThanOrEqual(GRACE_MS - 200);
    expect(watch.recorder.violations).toEqual([]);
    for (const cid of watch.recorder.connectionIds()) expect(watch.recorder.leavesOf(cid), cid).toBeLessThanOrEqual(1);
  });
});
