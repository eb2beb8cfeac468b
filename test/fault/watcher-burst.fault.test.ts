import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { toComparable } from "../support/watch-recorder.js";
import { faultScope } from "../support/fault-scope.js";
import { tokenOf } from "../support/node-fault-kit.js";
import { sleep } from "../support/processes.js";
import { recordWatch, waitFor, type RecordedWatch } from "../support/watch-recorder.js";

/*
 * F-O5 (reliability.md §4.6), CI size: 1,000 watchers subscribe to one room of 60 members at once
 * (WatchPresence over four HTTP/2 connections) on a node on Redis. Snapshots are served from one
 * shared store read per room and version (fan-out hub `sharedView`), not one read per watcher:
 * Redis sees a handful of room reads (counted with MONITOR: the read script's calls on that room)
 * for the whole burst, every watcher's snapshot equals GetPresence, with no recorder violation,
 * and the time to a snapshot is printed (p50 / p99).
 */

const ROOM = "/o5/busy";
const WATCHERS = 1_000;
const CONNECTIONS = 4;

describe("F-O5 a burst of watchers on one room", () => {
  it(`${WATCHERS} watchers at once: a handful of store reads, every snapshot equal to the truth`, async (ctx) => {
    const s = faultScope(ctx);
    const redis = await s.redis();
    const node = await s.node({
      PRESENCE_REDIS_URL: redis.url,
      PRESENCE_SESSION_TTL_MS: "60000",
      PRESENCE_ANON_QUOTA_WATCHES: "100000",
      PRESENCE_ANON_QUOTA_REQUESTS_PER_SEC: "100000",
      PRESENCE_ANON_QUOTA_REQUEST_BURST: "100000",
    });
    for (let i = 0; i < 60; i++) await s.client(node.rpcUrl, await tokenOf(`m${i}`)).join({ room: ROOM });
    const truth = toComparable((await s.client(node.rpcUrl).getPresence({ room: ROOM })).view!);

    // Room reads on Redis (the roomRead script: 4 keys, the room's meta first) during the burst.
    const monitor = await redis.client().monitor();
    s.defer(() => monitor.disconnect());
    let reads = 0;
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === "evalsha" && args[2] === "4" && args[3] === `pr:{r:${ROOM}}:meta`) reads++;
    });
    await sleep(100);

    const sessions = Array.from({ length: CONNECTIONS }, () => new Http2SessionManager(node.rpcUrl));
    s.defer(() => sessions.forEach((x) => x.abort()));
    const clients = sessions.map((sm) => createClient(PresenceService, createGrpcTransport({ baseUrl: node.rpcUrl, sessionManager: sm })));
    const t0 = performance.now();
    const watches: { w: RecordedWatch; at: number }[] = [];
    for (let i = 0; i < WATCHERS; i++) {
      const w = recordWatch(clients[i % CONNECTIONS]!, { room: ROOM });
      s.defer(() => w.cancel());
      watches.push({ w, at: 0 });
    }
    await waitFor(
      () => {
        const now = performance.now() - t0;
        for (const x of watches) if (x.at === 0 && x.w.recorder.view() !== null) x.at = now;
        return watches.every((x) => x.at > 0 || x.w.isEnded());
      },
      30_000,
      "every watcher's snapshot",
    );
    await sleep(200);
    const ms = watches.map((x) => x.at).sort((a, b) => a - b);
    const pct = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))]!.toFixed(0);
    console.log(`F-O5: ${WATCHERS} watchers over ${CONNECTIONS} connections: ${reads} room reads on Redis; time to snapshot p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms`);

    expect(watches.filter((x) => x.w.isEnded())).toEqual([]);
    expect(reads).toBeGreaterThanOrEqual(1);
    expect(reads).toBeLessThanOrEqual(10);
    for (const { w } of watches) expect(w.recorder.view()).toEqual(truth);
    expect(watches.flatMap(({ w }) => w.recorder.violations)).toEqual([]);
  });
});
