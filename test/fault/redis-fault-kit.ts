import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as http from "node:http";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { presenceTruth, recordRooms, type ClusterRecorder } from "../support/cluster-recorder.js";
import { startNode, stopAllNodes, type NodeProcess } from "../support/node-process.js";
import { startRedis, stopAllRedis, type RedisInstance, type RedisOptions } from "../support/redis-harness.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { recordWatch, waitFor, type RecordedWatch } from "../support/watch-recorder.js";

/**
 * Shared setup of the Redis and pub/sub fault tests (reliability.md §4.2–4.3): one standalone
 * redis-server, N server nodes on it with shrunken timings, a cluster recorder on every node, and
 * helpers for the clients a test drives (attached sessions, heartbeat loops), /metrics scrapes and
 * /readyz probes. `cleanup()` (for `afterEach`) ends every stream and loop, then stops every node
 * and Redis by pid.
 */

/**
 * Shrunken timings: TTL 800 ms, heartbeat 200 ms, node refresh 150 ms, reaper 100 ms. The callers
 * of a fault test call as fast as the store answers (during an outage every call must fail with
 * STORE_UNAVAILABLE, fast), so the per-caller request rate is lifted: quotas are not under test.
 */
export const FAULT_ENV: Readonly<Record<string, string>> = {
  PRESENCE_QUOTA_REQUESTS_PER_SEC: "100000",
  PRESENCE_QUOTA_REQUEST_BURST: "100000",
  PRESENCE_ANON_QUOTA_REQUESTS_PER_SEC: "100000",
  PRESENCE_ANON_QUOTA_REQUEST_BURST: "100000",
  PRESENCE_SESSION_TTL_MS: "800",
  PRESENCE_HEARTBEAT_INTERVAL_MS: "200",
  PRESENCE_NODE_REFRESH_MS: "150",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_POSITION_CHECK_MS: "500",
  PRESENCE_REDIS_COMMAND_TIMEOUT_MS: "300",
};

export interface FaultCluster {
  redis: RedisInstance;
  nodes: NodeProcess[];
  rooms: string[];
  rec: ClusterRecorder;
  /** GetPresence of every room from node 0. */
  truth: ReturnType<typeof presenceTruth>;
}

const cleanups: (() => void | Promise<void>)[] = [];

/** Ends streams, loops and connections, then stops every node and Redis. For `afterEach`. */
export async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
  await Promise.all([stopAllNodes(), stopAllRedis()]);
}

/** Starts Redis and `nodes` nodes on it (in parallel), and a recorder watching `rooms` on each node. */
export async function startFaultCluster(opts: { nodes: number; rooms: string[]; env?: Record<string, string>; redis?: RedisOptions }): Promise<FaultCluster> {
  const redis = await startRedis(opts.redis);
  const env = { ...FAULT_ENV, ...opts.env, PRESENCE_REDIS_URL: redis.url };
  const nodes = await Promise.all(Array.from({ length: opts.nodes }, () => startNode(env)));
  const rec = recordRooms(nodes, opts.rooms);
  cleanups.push(() => rec.close());
  await waitFor(() => rec.views().every((v) => v !== null), 5_000, "first snapshot of every recorder watcher");
  return { redis, nodes, rooms: opts.rooms, rec, truth: presenceTruth(nodes[0]!.rpcUrl, opts.rooms) };
}

export type PresenceClient = Client<typeof PresenceService>;

/** A gRPC client of `rpcUrl` acting as user `sub` (its own HTTP/2 connection, closed by cleanup). */
export async function userClient(rpcUrl: string, sub: string): Promise<{ client: PresenceClient; headers: Record<string, string> }> {
  const token = await signTestToken(TEST_SECRET, { sub, name: sub });
  const session = new Http2SessionManager(rpcUrl);
  cleanups.push(() => session.abort());
  const headers = { authorization: `Bearer ${token}` };
  return { client: createClient(PresenceService, createGrpcTransport({ baseUrl: rpcUrl, sessionManager: session })), headers };
}

/** A user session joined to `rooms` on a node. */
export interface JoinedSession {
  user: string;
  node: NodeProcess;
  sessionId: string;
  connectionId: string;
  client: PresenceClient;
  headers: Record<string, string>;
}

export async function joinRooms(node: NodeProcess, user: string, rooms: string[]): Promise<JoinedSession> {
  const { client, headers } = await userClient(node.rpcUrl, user);
  let sessionId = "";
  let connectionId = "";
  for (const room of rooms) {
    const r = await client.join({ room, sessionId }, { headers });
    sessionId = r.session!.sessionId;
    connectionId = r.session!.connectionId;
  }
  return { user, node, sessionId, connectionId, client, headers };
}

/** Attached binding: a recorded WatchPresence of `room` naming the session (its node keeps it alive). */
export function attachStream(s: JoinedSession, room: string): RecordedWatch {
  const w = recordWatch(s.client, { room, sessionId: s.sessionId }, { headers: s.headers });
  cleanups.push(() => w.cancel());
  return w;
}

/** Resolves when every watch has received `n` complete snapshots; fails at once if one ended. */
export function waitSnapshots(watches: RecordedWatch[], n: number, timeoutMs: number, what: string): Promise<void> {
  return waitFor(
    () => {
      const ended = watches.find((w) => w.isEnded());
      if (ended) throw new Error(`${what}: a stream ended after ${ended.recorder.snapshots()} snapshot(s)`);
      return watches.every((w) => w.recorder.snapshots() >= n);
    },
    timeoutMs,
    what,
  );
}

/**
 * Heartbeat-bound binding: a client that heartbeats every `intervalMs` like a browser tab, and keeps
 * going through errors (counted per gRPC code).
 */
export function heartbeatLoop(s: JoinedSession, intervalMs: number): { errors: Map<Code, number>; ok(): number; stop(): void } {
  const errors = new Map<Code, number>();
  let ok = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        await s.client.heartbeat({ sessionId: s.sessionId }, { headers: s.headers, timeoutMs: 2_000 });
        ok++;
      } catch (e) {
        const code = ConnectError.from(e).code;
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  const stop = () => void (stopped = true);
  cleanups.push(async () => {
    stop();
    await loop;
  });
  return { errors, ok: () => ok, stop };
}

/** GET on a fresh connection: status and body (status 0 when unreachable or after 3 s). */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 3_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, body: "" }));
  });
}

/** One /metrics scrape: series (`name{labels}` as exposed) → value. */
export async function scrape(node: NodeProcess): Promise<Map<string, number>> {
  const { status, body } = await httpGet(`${node.adminUrl}/metrics`);
  if (status !== 200) throw new Error(`GET ${node.adminUrl}/metrics answered ${status}`);
  const out = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** The sum of every series of `name` whose labels include `labels` (e.g. `reason="epoch"`). */
export async function metric(node: NodeProcess, name: string, labels = ""): Promise<number> {
  let sum = 0;
  for (const [series, v] of await scrape(node)) {
    const base = series.split("{", 1)[0];
    if (base === name && (labels === "" || series.includes(labels))) sum += v;
  }
  return sum;
}

/** One node's series of `name` by the value of its one label `label` (e.g. `kind` → {timeout: 2, …}). */
export async function metricBy(node: NodeProcess, name: string, label: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const series = new RegExp(`^${name}\\{${label}="([^"]*)"\\}$`);
  for (const [s, v] of await scrape(node)) {
    const m = series.exec(s);
    if (m) out.set(m[1]!, v);
  }
  return out;
}

/** Per node, the label values whose count changed between two readings of {@link metricBy} (value → increase). */
export const increases = (before: Map<string, number>[], after: Map<string, number>[]) =>
  after.map((m, i) => Object.fromEntries([...m].map(([k, v]) => [k, v - (before[i]!.get(k) ?? 0)] as const).filter(([, d]) => d !== 0)));

/** `metric` on every node. */
export const metricPerNode = (nodes: NodeProcess[], name: string, labels = "") => Promise.all(nodes.map((n) => metric(n, name, labels)));

/** Polls an async condition every 25 ms; rejects after `timeoutMs` naming `what`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The ErrorInfo reason of a failed call. */
export const reasonOf = (e: ConnectError) => e.findDetails(ErrorInfoSchema)[0]?.reason;

/** Connection ids in a room of the truth map (every user's connections). */
export const connectionsIn = (truth: Map<string, { users: Record<string, string[]> }>, room: string) =>
  Object.values(truth.get(room)?.users ?? {}).flat().sort();
