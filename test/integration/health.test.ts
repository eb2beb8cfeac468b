import * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status, type HealthCheckResponse, type HealthListResponse } from "../../gen/grpc/health/v1/health_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { eventually } from "../fault/redis-fault-kit.js";
import { connectClient, grpcJsClient, grpcJsServiceClient, rpcErrorOf, startWatch } from "../support/clients.js";
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";

/*
 * Health (issue 7): the standard gRPC health service on the RPC port, spoken to by a real grpc-js
 * client (h2c with prior knowledge, as Kubernetes `grpc:` probes do), and the admin port's
 * /healthz and /readyz, on a server backed by a real Redis.
 *
 * Invariant (I7, health reflects the real write path): while Redis is down, Watch reports
 * NOT_SERVING and /readyz answers 503 within a few probe periods; when Redis is back both return
 * to SERVING / 200 without a restart. A graceful close sends NOT_SERVING to every Watch before its
 * stream ends. Health needs no token, even with anonymous access disabled.
 */

const PROBE_ENV = {
  PRESENCE_READINESS_INTERVAL_MS: "100",
  PRESENCE_READINESS_TIMEOUT_MS: "1000",
  // A killed Redis fails commands at once (connection refused), so detection does not need a short
  // command timeout; at 300 ms a loaded box timed out a probe on a healthy Redis and a Check said
  // NOT_SERVING (2) where the case expected SERVING (1).
  PRESENCE_REDIS_COMMAND_TIMEOUT_MS: "1000",
};
/** Outage detection bound: a few probe periods plus reconnect backoff, generous for a loaded machine. */
const DETECT_MS = 8_000;

type HealthClient = grpc.Client & Record<string, Function>;

function check(c: HealthClient, service: string): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) => c["check"]!({ service }, (err: grpc.ServiceError | null, res: HealthCheckResponse) => (err ? reject(err) : resolve(res))));
}

function list(c: HealthClient): Promise<HealthListResponse> {
  return new Promise((resolve, reject) => c["list"]!({}, (err: grpc.ServiceError | null, res: HealthListResponse) => (err ? reject(err) : resolve(res))));
}

/** A Watch call recording every status received and how the call ended. */
function watch(c: HealthClient, service: string) {
  const call = c["watch"]!({ service }) as grpc.ClientReadableStream<HealthCheckResponse>;
  const rec = { statuses: [] as Status[], ended: undefined as grpc.StatusObject | undefined, call };
  call.on("data", (m: HealthCheckResponse) => rec.statuses.push(m.status));
  call.on("status", (s: grpc.StatusObject) => (rec.ended = s));
  call.on("error", () => {}); // the status event carries the outcome
  return rec;
}

const readyz = async (s: TestServer) => (await fetch(`${s.adminUrl}/readyz`)).status;
const readyGauge = async (s: TestServer) => {
  const text = await (await fetch(`${s.adminUrl}/metrics`)).text();
  return Number(/^presence_ready (\S+)$/m.exec(text)?.[1]);
};

describe("gRPC health and readiness over a real Redis", () => {
  let redis: RedisInstance;
  let server: TestServer | undefined;
  let client: HealthClient | undefined;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());
  afterEach(async () => {
    client?.close();
    client = undefined;
    await server?.close();
    server = undefined;
  });

  const start = async (env: Record<string, string> = {}) => {
    server = await startTestServer({ ...PROBE_ENV, PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `h${randomBytes(4).toString("hex")}`, ...env });
    client = grpcJsServiceClient(Health, server.baseUrl);
    return { s: server, c: client };
  };

  it("Check answers SERVING for the server and the presence service, NOT_FOUND for an unknown one, without a token and with anonymous access disabled", async () => {
    const { s, c } = await start({ PRESENCE_ALLOW_ANONYMOUS: "false" });
    expect((await check(c, "")).status).toBe(Status.SERVING);
    expect((await check(c, PresenceService.typeName)).status).toBe(Status.SERVING);
    const err = await check(c, "no.such.Service").then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(err?.code).toBe(grpc.status.NOT_FOUND);
    expect(err?.details).toContain('service: unknown service "no.such.Service"');
    const l = await list(c);
    expect(Object.fromEntries(Object.entries(l.statuses).map(([k, v]) => [k, v.status]))).toEqual({ "": Status.SERVING, [PresenceService.typeName]: Status.SERVING });

    // The same server refuses a presence call without a token: health really is the exception.
    const presence = grpcJsClient(s.baseUrl);
    try {
      const e = rpcErrorOf(await presence.getPresence({ room: "/h" }).catch((x: unknown) => x));
      expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      presence.close();
    }
    expect(await readyz(s)).toBe(200);
    expect(await readyGauge(s)).toBe(1);
  });

  it("readiness probes the subscriber connection itself (a message through it, end to end), not a cached flag", async () => {
    const { s } = await start();
    expect(await readyz(s)).toBe(200);
    // The probe publishes on the node's own probe channel and waits for it on its subscriber.
    const channel = `${s.config.redis.prefix}:probe:${s.app.nodeId}`;
    expect(await redis.cli("PUBSUB", "NUMSUB", channel)).toBe(`${channel}\n1`);
    const sub = (await redis.cli("CLIENT", "LIST")).split("\n").find((l) => / name=presence-sub /.test(l));
    expect(sub).toMatch(/ sub=[1-9]/);
    expect(await redis.cli("INFO", "commandstats")).toMatch(/cmdstat_publish:calls=[1-9]/);
  });

  it("Watch: SERVING, NOT_SERVING while Redis is stopped (/readyz 503), SERVING again when it returns; an unknown service gets SERVICE_UNKNOWN and stays open", async () => {
    const { s, c } = await start();
    const w = watch(c, "");
    const unknown = watch(c, "no.such.Service");
    await eventually(async () => w.statuses.length > 0 && unknown.statuses.length > 0, 5_000, "first Watch messages");
    expect(w.statuses).toEqual([Status.SERVING]);
    expect(unknown.statuses).toEqual([Status.SERVICE_UNKNOWN]);

    const t0 = Date.now();
    await redis.kill9();
    await eventually(async () => w.statuses.at(-1) === Status.NOT_SERVING, DETECT_MS, "Watch NOT_SERVING after Redis stopped");
    const detectedMs = Date.now() - t0;
    expect(await readyz(s)).toBe(503);
    expect((await check(c, "")).status).toBe(Status.NOT_SERVING);
    expect(await readyGauge(s)).toBe(0);

    await redis.restart();
    await eventually(async () => w.statuses.at(-1) === Status.SERVING, DETECT_MS, "Watch SERVING after Redis returned");
    await eventually(async () => (await readyz(s)) === 200, DETECT_MS, "/readyz 200 after Redis returned");
    expect(await readyGauge(s)).toBe(1);
    // One message per change, no repeats.
    expect(w.statuses).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
    expect(w.ended).toBeUndefined();
    // The unknown service's Watch saw the whole cycle and is still open, with nothing more said.
    expect(unknown.statuses).toEqual([Status.SERVICE_UNKNOWN]);
    expect(unknown.ended).toBeUndefined();
    console.log(`health: NOT_SERVING ${detectedMs} ms after Redis was killed (probe every 100 ms)`);
  });

  it("graceful close: every Watch receives NOT_SERVING, then its stream ends", async () => {
    const { s, c } = await start();
    const w = watch(c, "");
    const p = watch(c, PresenceService.typeName);
    await eventually(async () => w.statuses.length > 0 && p.statuses.length > 0, 5_000, "first Watch messages");
    await s.close();
    server = undefined;
    await eventually(async () => w.ended !== undefined && p.ended !== undefined, 5_000, "Watch streams ended");
    for (const r of [w, p]) {
      expect(r.statuses).toEqual([Status.SERVING, Status.NOT_SERVING]);
      expect(r.ended?.code).toBe(grpc.status.OK);
    }
  });
});

/*
 * On Redis Cluster the subscriber is one connection per master in use (sharded pub/sub). The probe
 * pings those, so a frozen master that only carries a watched room's channel (not the probe's
 * write) still makes the node not ready: it would miss that room's events.
 */
describe("readiness on Redis Cluster", () => {
  let cluster: RedisClusterInstance;
  let server: TestServer | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    for (const n of cluster.nodes) n.thaw();
    await server?.close();
    await cluster.stop();
  });

  it("pings the sharded subscriber of a watched room's master and fails readiness when only that master is frozen", async () => {
    const prefix = `h${randomBytes(4).toString("hex")}`;
    // The frozen master's ping must fail by the command timeout, inside the probe's bound (1 s),
    // for the answer to name the subscriber probe.
    server = await startTestServer({ ...PROBE_ENV, PRESENCE_REDIS_COMMAND_TIMEOUT_MS: "300", PRESENCE_REDIS_CLUSTER: cluster.seeds, PRESENCE_REDIS_PREFIX: prefix });
    const s = server;
    const owner = async (key: string) => {
      for (const n of cluster.nodes) if (await n.cli("EXISTS", key).then(() => true, () => false)) return n;
      throw new Error(`no master owns ${key}`);
    };
    const pingMaster = await owner(`${prefix}:ping`);
    let room = "";
    for (let i = 0; room === ""; i++) if ((await owner(`${prefix}:{r:/c${i}}:ch`)) !== pingMaster) room = `/c${i}`;
    const roomMaster = await owner(`${prefix}:{r:${room}}:ch`);

    const client = connectClient(s.baseUrl);
    const w = startWatch(client, { room });
    try {
      await w.waitFor((m) => m.message.case === "snapshot");
      expect(await readyz(s)).toBe(200);
      const subscriber = (await roomMaster.cli("CLIENT", "LIST")).split("\n").find((l) => /ssubscriber/.test(l));
      expect(subscriber).toMatch(/ cmd=ping /);

      roomMaster.freeze();
      const res = await fetch(`${s.adminUrl}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain("redis subscriber probe failed");
      roomMaster.thaw();
      await eventually(async () => (await readyz(s)) === 200, DETECT_MS, "/readyz 200 after the master thawed");
    } finally {
      roomMaster.thaw();
      await w.stop();
      client.close();
    }
  });
});
