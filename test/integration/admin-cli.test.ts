import { Code, ConnectError } from "@connectrpc/connect";
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { createKeys } from "../../src/store/redis/keys.js";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startNode, stopAllNodes } from "../support/node-process.js";
import { startRedis, stopAllRedis } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { recordWatch, waitFor, type RecordedWatch } from "../support/watch-recorder.js";

/**
 * The `presence` admin CLI, run as a child process through its real bin (bin/presence.mjs), against
 * real servers: a single in-process server (memory store) for the read commands, kick, tail and
 * the credential and usage errors; then two Redis-backed node processes for the purge of a node
 * killed with SIGKILL: the purge is refused while the dead node is still within its dead bound,
 * then clears its sessions (watchers on the surviving node see one KICKED leave per session and
 * room) long before their TTL, leaving nothing of them in Redis.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = "bin/presence.mjs";

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** PRESENCE_* of the test process are not passed on: only what the test gives. */
function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PRESENCE_"))), ...env };
}

function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(env), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const left = (w: RecordedWatch) => w.recorder.messages.filter((m) => m.kind === "event" && m.eventKind === "left");

describe("presence CLI against a running server", () => {
  let server: TestServer;
  let env: Record<string, string>;
  const clients: PresenceClient[] = [];
  const watches: RecordedWatch[] = [];
  let ana: PresenceClient;
  let anaSession = "";
  let anaConn = "";

  beforeAll(async () => {
    server = await startTestServer();
    const admin = await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" });
    env = { PRESENCE_URL: server.baseUrl, PRESENCE_ADMIN_TOKEN: admin };
    ana = connectClient(server.baseUrl, await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" }));
    const bob = connectClient(server.baseUrl, await signTestToken(TEST_SECRET, { sub: "bob", name: "Bob" }));
    const anon = connectClient(server.baseUrl);
    clients.push(ana, bob, anon);
    const j = await ana.join({ room: "/doc/1" });
    anaSession = j.session!.sessionId;
    anaConn = j.session!.connectionId;
    await ana.join({ room: "/doc/2", sessionId: anaSession });
    await bob.join({ room: "/doc/1" });
    await anon.join({ room: "/doc/1" });
  });
  afterAll(async () => {
    watches.forEach((w) => w.cancel());
    clients.forEach((c) => c.close());
    await server?.close();
  });

  it("rooms: busiest first with counts, as a table and as JSON", async () => {
    const human = await cli(["rooms"], env);
    expect(human).toMatchObject({ code: 0, stderr: "" });
    expect(human.stdout.split("\n")[0]).toMatch(/^ROOM\s+CONNECTIONS\s+USERS\s+ANONYMOUS$/);
    expect(human.stdout).toMatch(/\/doc\/1\s+3\s+2\s+1\n\/doc\/2\s+1\s+1\s+0\n2 of 2 rooms/);
    const json = await cli(["rooms", "--limit", "1", "--json"], env);
    expect(JSON.parse(json.stdout)).toEqual({ rooms: [{ room: "/doc/1", counts: { users: 2, connections: 3, anonymous: 1 } }], totalRooms: 2 });
  });

  it("room: members, connections and counts", async () => {
    const r = await cli(["room", "/doc/1"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("users=2 connections=3 anonymous=1");
    expect(r.stdout).toMatch(new RegExp(`ana\\s+Ana\\s+active\\s+${anaConn}`));
    expect(r.stdout).toMatch(/bob\s+Bob\s+active/);
  });

  it("user: status and last seen", async () => {
    const r = await cli(["user", "ana", "zed"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ana\s+online\s+now/);
    expect(r.stdout).toMatch(/zed\s+offline\s+never/);
  });

  it("nodes: the answering node, alive", async () => {
    const r = await cli(["nodes", "--json"], env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.nodeId).toBe(server.app.nodeId);
    expect(out.nodes).toEqual([expect.objectContaining({ nodeId: server.app.nodeId, alive: true, sessions: 3 })]);
  });

  it("tail: prints events made after it started, until stopped", async () => {
    const child = spawn(process.execPath, [BIN, "tail", "/doc/3"], { cwd: ROOT, env: cliEnv(env) });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await waitFor(() => stdout.includes("snapshot"), 20_000, "the tail's first snapshot");
      const carl = connectClient(server.baseUrl, await signTestToken(TEST_SECRET, { sub: "carl" }));
      clients.push(carl);
      await carl.join({ room: "/doc/3" });
      await waitFor(() => /v1\s+joined\s+carl conn=\S+ first_of_user\s+users=1 connections=1/.test(stdout), 10_000, "the join line");
    } finally {
      process.kill(child.pid!, "SIGINT");
    }
    expect(await exited).toBe(0);
  });

  it("kick: the session leaves every room with reason KICKED and ends", async () => {
    const w = recordWatch(ana, { room: "/doc/1" });
    watches.push(w);
    await w.until((r) => r.snapshots() === 1, 5_000, "snapshot");
    const r = await cli(["kick", anaSession], env);
    expect(r).toMatchObject({ code: 0, stdout: `kicked session ${anaSession}: left 2 rooms\n` });
    await w.until(() => left(w).length === 1, 5_000, "the leave");
    expect(left(w)[0]).toMatchObject({ connectionId: anaConn, reason: LeaveReason.KICKED });
    const hb = await ana.heartbeat({ sessionId: anaSession }).catch((e: unknown) => ConnectError.from(e));
    expect(hb).toMatchObject({ code: Code.NotFound });
    const again = await cli(["kick", anaSession], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("presence: not_found SESSION_NOT_FOUND: session_id:");
  });

  it("credentials: a non-admin token is PERMISSION_DENIED, no token UNAUTHENTICATED (exit 1)", async () => {
    const user = await cli(["rooms"], { ...env, PRESENCE_ADMIN_TOKEN: await signTestToken(TEST_SECRET, { sub: "ana" }) });
    expect(user.code).toBe(1);
    expect(user.stderr).toBe(
      'presence: permission_denied PERMISSION_DENIED: authorization: the admin API requires an admin token (JWT claim role "admin"); this token\'s role is "user"\n',
    );
    const service = await cli(["purge-node", "x", "--token", await signTestToken(TEST_SECRET, { sub: "svc", role: "service" })], { PRESENCE_URL: env.PRESENCE_URL! });
    expect(service.stderr).toContain("permission_denied PERMISSION_DENIED");
    const none = await cli(["nodes"], { PRESENCE_URL: env.PRESENCE_URL! });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("presence: unauthenticated UNAUTHENTICATED: authorization: the admin API requires an admin token");
  });

  it("errors: unknown node NODE_NOT_FOUND, limit over the maximum INVALID_ARGUMENT (exit 1); usage mistakes exit 2", async () => {
    const ghost = await cli(["purge-node", "ghost"], env);
    expect(ghost).toMatchObject({ code: 1, stderr: expect.stringContaining("not_found NODE_NOT_FOUND: node_id: no node ghost is known") });
    const big = await cli(["rooms", "--limit", "1001"], env);
    expect(big).toMatchObject({ code: 1, stderr: expect.stringContaining("invalid_argument INVALID_ARGUMENT: limit: must be at most 1000 rooms (got 1001)") });
    for (const args of [["kick"], ["rooms", "--limit", "x"], ["frobnicate"], ["rooms", "--force"], []]) {
      const r = await cli(args, env);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("usage: presence");
    }
  });
});

describe("presence purge-node: a node killed with SIGKILL", () => {
  afterEach(async () => {
    await Promise.all([stopAllNodes(), stopAllRedis()]);
  });

  it("refuses while the node is within its dead bound, then kicks its sessions long before their TTL", async () => {
    const redis = await startRedis();
    // TTL 60 s: without the purge the sessions would stay that long. Dead bound: 2 × 2 s.
    const base = {
      PRESENCE_REDIS_URL: redis.url,
      PRESENCE_SESSION_TTL_MS: "60000",
      PRESENCE_HEARTBEAT_INTERVAL_MS: "20000",
      PRESENCE_NODE_REFRESH_MS: "2000",
      PRESENCE_REAPER_INTERVAL_MS: "200",
    };
    const [a, b] = await Promise.all([startNode({ ...base, PRESENCE_NODE_ID: "node-a" }), startNode({ ...base, PRESENCE_NODE_ID: "node-b" })]);
    const env = { PRESENCE_URL: b.rpcUrl, PRESENCE_ADMIN_TOKEN: await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" }) };
    const anaOnA = connectClient(a.rpcUrl, await signTestToken(TEST_SECRET, { sub: "ana" }));
    const bobOnA = connectClient(a.rpcUrl, await signTestToken(TEST_SECRET, { sub: "bob" }));
    const bobOnB = connectClient(b.rpcUrl, await signTestToken(TEST_SECRET, { sub: "bob" }));
    const watcher = connectClient(b.rpcUrl);
    const all = [anaOnA, bobOnA, bobOnB, watcher];
    try {
      // Ana joins through A; Bob joins through B, then attaches to a stream of A (recorded for A).
      const sa = (await anaOnA.join({ room: "r1" })).session!;
      await anaOnA.join({ room: "r2", sessionId: sa.sessionId });
      const sb = (await bobOnB.join({ room: "r1" })).session!;
      const attached = recordWatch(bobOnA, { room: "r1", sessionId: sb.sessionId });
      const w1 = recordWatch(watcher, { room: "r1" });
      const w2 = recordWatch(watcher, { room: "r2" });
      await Promise.all([attached, w1, w2].map((w) => w.until((r) => r.snapshots() === 1, 10_000, "snapshots")));
      const before = JSON.parse((await cli(["nodes", "--json"], env)).stdout);
      expect(before.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ nodeId: "node-a", alive: true, sessions: 2 })]));

      await a.kill9();
      const killedAt = Date.now();
      const refused = await cli(["purge-node", "node-a"], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^presence: failed_precondition NODE_ALIVE: node_id: node node-a was seen \d+(\.\d)? m?s ago, within the dead bound of 4\.0 s/);

      // Dead once not seen for 4 s.
      for (;;) {
        const nodes = JSON.parse((await cli(["nodes", "--json"], env)).stdout).nodes as { nodeId: string; alive: boolean; sessions: number }[];
        const nodeA = nodes.find((n) => n.nodeId === "node-a");
        if (nodeA && !nodeA.alive) {
          expect(nodeA.sessions).toBe(2);
          break;
        }
        expect(Date.now() - killedAt).toBeLessThan(20_000);
        await new Promise((r) => setTimeout(r, 250));
      }
      const purged = await cli(["purge-node", "node-a"], env);
      expect(purged).toMatchObject({ code: 0, stdout: "purged node node-a: 2 sessions kicked, 3 room leaves\n" });
      await w1.until(() => left(w1).length === 2, 5_000, "two leaves in r1");
      await w2.until(() => left(w2).length === 1, 5_000, "one leave in r2");
      expect(Date.now() - killedAt).toBeLessThan(30_000); // half the TTL
      expect(left(w1).map((m) => [m.connectionId, m.reason]).sort()).toEqual([[sa.connectionId, LeaveReason.KICKED], [sb.connectionId, LeaveReason.KICKED]].sort());
      expect(left(w2).map((m) => [m.connectionId, m.reason])).toEqual([[sa.connectionId, LeaveReason.KICKED]]);
      expect([...w1.recorder.violations, ...w2.recorder.violations]).toEqual([]);
      for (const room of ["r1", "r2"]) expect((await watcher.getPresence({ room })).view!.counts).toMatchObject({ users: 0, connections: 0 });

      // Nothing of the sessions is left in Redis, and the node is forgotten.
      const keys = createKeys("pr");
      const r = redis.client();
      for (const sid of [sa.sessionId, sb.sessionId]) {
        const bk = keys.bucket(keys.bucketOf(sid));
        expect(await r.hget(bk.sessions, sid)).toBeNull();
        expect(await r.zscore(bk.expiry, sid)).toBeNull();
        expect(await r.zscore(bk.reaping, sid)).toBeNull();
        expect(await r.exists(keys.sessionRooms(sid))).toBe(0);
      }
      expect(await r.hexists(keys.nodes(), "node-a")).toBe(0);
      const after = JSON.parse((await cli(["nodes", "--json"], env)).stdout);
      expect(after.nodes.map((n: { nodeId: string }) => n.nodeId)).toEqual(["node-b"]);
      [attached, w1, w2].forEach((w) => w.cancel());
    } finally {
      all.forEach((c) => c.close());
    }
  }, 90_000);
});
