import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driveTraffic, OPS_TIMINGS_ENV } from "../support/ops-traffic.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";

/*
 * The metric endpoint never exposes unbounded labels. The same traffic (every protocol, watchers,
 * failures, timeouts: test/support/ops-traffic.ts) runs twice against a real server on Redis: first
 * on 8 rooms, then on 300 rooms with 40 users. After each run /metrics is scraped and parsed.
 * No label value may contain a room name, user id, session id or connection id used, and the second
 * run, 37 times as many rooms, must not add a single label set to any presence_ metric family:
 * series count is a function of the code, never of the traffic's ids.
 */

let redis: RedisInstance;
let server: TestServer;

beforeAll(async () => {
  redis = await startRedis();
  server = await startTestServer({
    ...OPS_TIMINGS_ENV,
    PRESENCE_REDIS_URL: redis.url,
    PRESENCE_RECONNECT_GRACE_MS: "200",
  });
});

afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

/** Label sets per metric family (histogram buckets, sums and counts folded into their family, `le` dropped). */
async function scrape(): Promise<{ text: string; families: Map<string, Set<string>>; values: Set<string> }> {
  const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
  const histograms = new Set([...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1]!));
  const families = new Map<string, Set<string>>();
  const values = new Set<string>();
  for (const line of text.split("\n")) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/);
    if (!m) continue;
    let family = m[1]!;
    const base = family.replace(/_(bucket|sum|count)$/, "");
    if (histograms.has(base)) family = base;
    const labels = [...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].filter((l) => l[1] !== "le");
    for (const l of labels) values.add(l[2]!);
    const key = labels.map((l) => `${l[1]}=${l[2]}`).join(",");
    if (!families.has(family)) families.set(family, new Set());
    families.get(family)!.add(key);
  }
  return { text, families, values };
}

describe("metric labels stay bounded", () => {
  it("no id ever becomes a label value, and 300 rooms add no series over 8 rooms", async () => {
    const small = await driveTraffic(server, { rooms: 8, users: 4, watchedRooms: 4 });
    await small.stop();
    const before = await scrape();

    const large = await driveTraffic(server, { rooms: 300, users: 40, watchedRooms: 8 });
    const during = await scrape();
    await large.stop();
    const after = await scrape();

    expect(large.sessionIds.length).toBeGreaterThanOrEqual(300);
    for (const { text, values } of [before, during, after]) {
      for (const t of [small, large]) {
        expect(text).not.toContain(t.tag); // in every room and user name
        const ids = new Set([...t.rooms, ...t.users, ...t.sessionIds, ...t.connectionIds]);
        expect([...values].filter((v) => ids.has(v) || [...ids].some((id) => v.includes(id)))).toEqual([]);
        expect(t.sessionIds.concat(t.connectionIds).filter((id) => text.includes(id))).toEqual([]);
      }
    }

    const grown: string[] = [];
    for (const snapshot of [during, after]) {
      for (const [family, sets] of snapshot.families) {
        if (!family.startsWith("presence_")) continue;
        const old = before.families.get(family) ?? new Set();
        for (const s of sets) if (!old.has(s)) grown.push(`${family}{${s}}`);
      }
    }
    expect(grown).toEqual([]);
    const largest = Math.max(...[...after.families].filter(([f]) => f.startsWith("presence_")).map(([, s]) => s.size));
    expect(largest).toBeLessThanOrEqual(60);
  }, 60_000);
});
