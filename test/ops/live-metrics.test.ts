import { afterEach, describe, expect, it } from "vitest";
import { Detail } from "../../gen/presence/v1/types_pb.js";
import { connectClient, grpcWebClient, startWatch, type PresenceClient, type WatchHandle } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs, type WsTestClient } from "../support/ws-client.js";

/*
 * The values of the operations metrics, on both stores: heartbeat lag is the time since the same
 * session's previous heartbeat (measured by the store), fan-out latency is observed once per live
 * event and transport and is small on an idle machine, and the scrape-time gauges count watchers
 * by transport and detail, connections by transport and sessions by binding.
 */

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(store: "memory" | "redis"): Promise<TestServer> {
  let env: Record<string, string> = { PRESENCE_SESSION_TTL_MS: "5000", PRESENCE_HEARTBEAT_INTERVAL_MS: "1000" };
  if (store === "redis") {
    const redis: RedisInstance = await startRedis();
    cleanups.push(() => redis.stop());
    env = { ...env, PRESENCE_REDIS_URL: redis.url };
  }
  const server = await startTestServer(env);
  cleanups.push(() => server.close());
  return server;
}

/** Sum of the samples of `series` (name plus a label fragment) in the scrape. */
async function value(server: TestServer, name: string, labels = ""): Promise<number> {
  const text = await server.app.metrics.registry.metrics();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(["memory", "redis"] as const)("operations metrics on the %s store", (store) => {
  it("heartbeat lag is the time since the session's previous heartbeat", async () => {
    const server = await start(store);
    const token = await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" });
    const c: PresenceClient = connectClient(server.baseUrl, token);
    cleanups.push(() => c.close());
    const { session } = await c.join({ room: "lag" });
    await sleep(400);
    await c.heartbeat({ sessionId: session!.sessionId });
    await sleep(200);
    await c.heartbeat({ sessionId: session!.sessionId });
    expect(await value(server, "presence_heartbeat_lag_seconds_count")).toBe(2);
    const sum = await value(server, "presence_heartbeat_lag_seconds_sum");
    expect(sum).toBeGreaterThanOrEqual(0.55);
    expect(sum).toBeLessThan(1.2);
  });

  it("fan-out latency is observed per live event and transport; gauges count watchers, connections and bound sessions", async () => {
    const server = await start(store);
    const token = await signTestToken(TEST_SECRET, { sub: "bob", name: "Bob" });
    const watcher = grpcWebClient(server.baseUrl, token, { httpVersion: "2" });
    const actor = connectClient(server.baseUrl, token);
    cleanups.push(() => watcher.close(), () => actor.close());
    const watches: WatchHandle[] = [startWatch(watcher, { room: "fan", detail: Detail.FULL }), startWatch(watcher, { room: "fan", detail: Detail.COUNTS })];
    cleanups.push(() => Promise.all(watches.map((w) => w.stop())));
    const ws: WsTestClient = await connectWs(server.wsUrl, { token });
    cleanups.push(() => ws.close(1000));
    await ws.request({ case: "watch", value: { room: "fan", detail: Detail.FULL } });
    await ws.request({ case: "join", value: { room: "elsewhere" } });
    await watches[0]!.waitFor((m) => m.message.case === "snapshot");
    await ws.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "snapshot");

    const { session } = await actor.join({ room: "fan" });
    await actor.leave({ sessionId: session!.sessionId, room: "fan" });
    await watches[0]!.waitFor((m) => m.message.case === "event" && m.message.value.kind.case === "left");
    await ws.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "event" && f.frame.value.message.value.kind.case === "left");

    // joined + left, once per transport (the WebSocket broadcaster is one hub watcher per room).
    expect(await value(server, "presence_fanout_latency_seconds_count", 'transport="connect"')).toBe(2);
    expect(await value(server, "presence_fanout_latency_seconds_count", 'transport="ws"')).toBe(2);
    expect(await value(server, "presence_fanout_latency_seconds_bucket", 'le="1",transport="connect"')).toBe(2);
    expect(await value(server, "presence_watchers", 'transport="connect",detail="full"')).toBe(1);
    expect(await value(server, "presence_watchers", 'transport="connect",detail="counts"')).toBe(1);
    expect(await value(server, "presence_watchers", 'transport="ws",detail="full"')).toBe(1);
    // Rooms followed in the store: "fan" (watched by both transports: one subscription) and
    // "elsewhere", which the WebSocket socket joined without watching: the bridge follows it to
    // send the socket room_ended (one per room and node). Leaving it drops that one (below).
    expect(await value(server, "presence_watched_rooms")).toBe(2);
    expect(await value(server, "presence_connections", 'transport="ws"')).toBe(1);
    expect(await value(server, "presence_connections", 'transport="http2"')).toBe(1);
    expect(await value(server, "presence_connections", 'transport="http1"')).toBeGreaterThanOrEqual(1);
    expect(await value(server, "presence_bound_sessions", 'binding="ws"')).toBe(1);
    expect(await value(server, "presence_bound_sessions", 'binding="stream"')).toBe(0);
    expect(await value(server, "presence_redis_subscriber_up")).toBe(1);

    await ws.request({ case: "leave", value: { room: "elsewhere" } });
    for (let i = 0; i < 100 && (await value(server, "presence_watched_rooms")) !== 1; i++) await sleep(20);
    expect(await value(server, "presence_watched_rooms")).toBe(1); // only "fan", watched by clients
    expect(await value(server, "presence_watchers", 'transport="ws"')).toBe(1); // the end watch was never a client's watcher
  });
});
