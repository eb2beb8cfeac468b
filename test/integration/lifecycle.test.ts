import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { Detail, LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { SERVER_ARGS } from "../support/node-process.js";
import { freePort } from "../support/processes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { recordWatch, toComparableDomain, waitFor, type RecordedWatch } from "../support/watch-recorder.js";

/*
 * Session and process lifecycle.
 *
 * (a) I1: a session that stops heartbeating leaves every room it is in with exactly one `left`
 *     (reason TIMEOUT) per watcher, within TTL + reaper interval; a heartbeating session stays, and
 *     a late heartbeat is fenced (SESSION_NOT_FOUND).
 * (b) Graceful shutdown in-process: `app.close()` ends every open watch stream with `unavailable`
 *     and ErrorInfo reason DRAINING (gRPC and Connect over HTTP/1.1), refuses later calls and
 *     resolves within the shutdown deadline.
 * (c) The real entry point as a child process: ready on /readyz, SIGTERM ends a watch with
 *     DRAINING and the process exits 0 within the deadline; an invalid variable exits 2 naming it.
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const servers: TestServer[] = [];
const watches: RecordedWatch[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const w of watches.splice(0)) w.cancel();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

async function start(env: Record<string, string>) {
  const server = await startTestServer(env);
  servers.push(server);
  return { server, client: createClient(PresenceService, createGrpcTransport({ baseUrl: server.baseUrl })) };
}

async function scrape(server: TestServer, series: string): Promise<number> {
  const line = (await server.app.metrics.registry.metrics()).split("\n").find((l) => l.startsWith(`${series} `));
  return Number(line?.split(" ").pop() ?? NaN);
}

const reasonOf = (e: ConnectError | undefined) => e?.findDetails(ErrorInfoSchema)[0]?.reason;

describe("(a) missed heartbeats", () => {
  it("a silent session leaves every room once per watcher with TIMEOUT, within TTL + reaper interval", async () => {
    const ttlMs = 400;
    const reaperMs = 50;
    const { server, client } = await start({
      PRESENCE_HEARTBEAT_INTERVAL_MS: "100",
      PRESENCE_SESSION_TTL_MS: String(ttlMs),
      PRESENCE_REAPER_INTERVAL_MS: String(reaperMs),
    });
    const gone = { authorization: `Bearer ${await signTestToken(TEST_SECRET, { sub: "gone" })}` };
    const stay = { authorization: `Bearer ${await signTestToken(TEST_SECRET, { sub: "stay" })}` };
    const rooms = ["a", "b"];
    const perRoom = rooms.map((room) => [0, 1].map(() => recordWatch(client, { room })));
    watches.push(...perRoom.flat());
    await waitFor(() => perRoom.flat().every((w) => w.recorder.snapshots() === 1), 5_000, "snapshots");

    const g = await client.join({ room: "a" }, { headers: gone });
    const g2 = await client.join({ room: "b", sessionId: g.session!.sessionId }, { headers: gone });
    const expiresAt = Number(g2.lease!.expiresAtMs);
    const s = await client.join({ room: "a" }, { headers: stay });
    await client.join({ room: "b", sessionId: s.session!.sessionId }, { headers: stay });
    const beat = setInterval(() => void client.heartbeat({ sessionId: s.session!.sessionId }, { headers: stay }).catch(() => {}), 100);
    try {
      const cid = g.session!.connectionId;
      await waitFor(() => perRoom.flat().every((w) => w.recorder.leavesOf(cid) === 1), ttlMs + 2_000, "timeout leaves");
      // Stay a while longer: no second leave, and the heartbeating session is still there.
      await sleep(ttlMs + 2 * reaperMs);
      for (const [i, room] of rooms.entries()) {
        const truth = toComparableDomain(await server.app.store.getView(room, { includeMembers: true }));
        expect(truth.users).toEqual({ stay: [s.session!.connectionId] });
        for (const w of perRoom[i]!) {
          const r = w.recorder;
          expect(r.violations).toEqual([]);
          const left = r.messages.filter((m) => m.kind === "event" && m.eventKind === "left");
          expect(left).toHaveLength(1);
          expect(left[0]).toMatchObject({ connectionId: cid, reason: LeaveReason.TIMEOUT });
          // Reaped no later than expiry + one reaper interval (+ delivery slack).
          expect(left[0]!.receivedAtMs).toBeLessThanOrEqual(expiresAt + reaperMs + 250);
          expect(left[0]!.receivedAtMs).toBeGreaterThanOrEqual(expiresAt);
          expect(r.leavesOf(s.session!.connectionId)).toBe(0);
          expect(r.view()).toEqual(truth);
        }
      }
      expect(await scrape(server, "presence_heartbeats_missed_total")).toBe(1);
      // I5: a late heartbeat does not resurrect the reaped session.
      const late = await client.heartbeat({ sessionId: g.session!.sessionId }, { headers: gone }).catch((e: unknown) => ConnectError.from(e));
      expect(late).toBeInstanceOf(ConnectError);
      expect((late as ConnectError).code).toBe(Code.NotFound);
      expect(reasonOf(late as ConnectError)).toBe("SESSION_NOT_FOUND");
    } finally {
      clearInterval(beat);
    }
  });
});

describe("(b) graceful shutdown in-process", () => {
  it("ends open watch streams with unavailable / DRAINING, refuses later calls, within the deadline", async () => {
    const deadlineMs = 1_000;
    const { server, client } = await start({ PRESENCE_SHUTDOWN_DEADLINE_MS: String(deadlineMs) });
    const h1 = createClient(PresenceService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }));
    const ws = [
      recordWatch(client, { room: "lobby" }),
      recordWatch(client, { room: "lobby", detail: Detail.COUNTS }, { counts: true }),
      recordWatch(h1, { room: "lobby" }),
    ];
    watches.push(...ws);
    await client.join({ room: "lobby" });
    await waitFor(() => ws.every((w) => w.recorder.position()?.version === 1), 5_000, "watchers live");

    const t0 = Date.now();
    await server.app.close();
    const closeMs = Date.now() - t0;
    expect(closeMs).toBeLessThan(deadlineMs + 250);
    const ends = await Promise.all(ws.map((w) => w.ended));
    for (const e of ends) {
      expect(e?.code).toBe(Code.Unavailable);
      expect(reasonOf(e)).toBe("DRAINING");
    }
    expect(server.app.hub.watcherCount()).toEqual({ full: 0, counts: 0 });
    const after = await client.getPresence({ room: "lobby" }).catch((e: unknown) => ConnectError.from(e));
    expect(after).toBeInstanceOf(ConnectError);
    expect((after as ConnectError).code).toBe(Code.Unavailable);
    const h1After = await h1.getPresence({ room: "lobby" }).catch((e: unknown) => ConnectError.from(e));
    expect(h1After).toBeInstanceOf(ConnectError);
  });
});

/** Runs the built server (`node dist/main.js`, as `npm start` does) in one node process (so the pid is the server's). */
function runMain(env: Record<string, string>) {
  const child = spawn(process.execPath, SERVER_ARGS, {
    cwd: ROOT,
    env: { ...process.env, PRESENCE_HOST: "127.0.0.1", PRESENCE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, exited, output: () => output };
}

describe("(c) the entry point as a child process", () => {
  it("becomes ready, and on SIGTERM ends watches with DRAINING and exits 0 within the deadline", async () => {
    const deadlineMs = 2_000;
    const [rpcPort, adminPort, wsPort] = [await freePort(), await freePort(), await freePort()];
    const main = runMain({ PRESENCE_RPC_PORT: String(rpcPort), PRESENCE_ADMIN_PORT: String(adminPort), PRESENCE_WS_PORT: String(wsPort), PRESENCE_SHUTDOWN_DEADLINE_MS: String(deadlineMs) });
    try {
      let ready = false;
      const readyBy = Date.now() + 20_000;
      while (!ready && Date.now() < readyBy && main.child.exitCode === null) {
        ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.status === 200, () => false);
        if (!ready) await sleep(50);
      }
      expect(ready, main.output()).toBe(true);

      const client = createClient(PresenceService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${rpcPort}` }));
      const w = recordWatch(client, { room: "lobby" });
      watches.push(w);
      await client.join({ room: "lobby" });
      await w.until((r) => r.position()?.version === 1, 5_000, "watch live");

      const t0 = Date.now();
      expect(main.child.kill("SIGTERM")).toBe(true);
      const end = await w.ended;
      expect(end?.code).toBe(Code.Unavailable);
      expect(reasonOf(end)).toBe("DRAINING");
      const exit = await Promise.race([main.exited, sleep(deadlineMs + 3_000).then(() => null)]);
      expect(exit, main.output()).not.toBeNull();
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit!.at - t0).toBeLessThan(deadlineMs);
      expect(w.recorder.violations).toEqual([]);
    } finally {
      if (main.child.exitCode === null && main.child.signalCode === null) main.child.kill("SIGKILL");
    }
  });

  it("exits 2 with a message naming an invalid variable", async () => {
    const main = runMain({ PRESENCE_RPC_PORT: "0", PRESENCE_ADMIN_PORT: "0", PRESENCE_SESSION_TTL_MS: "abc" });
    try {
      const exit = await Promise.race([main.exited, sleep(20_000).then(() => null)]);
      expect(exit, main.output()).toMatchObject({ code: 2 });
      expect(main.output()).toContain('PRESENCE_SESSION_TTL_MS="abc"');
      expect(main.output()).toMatch(/must be an integer/);
    } finally {
      if (main.child.exitCode === null && main.child.signalCode === null) main.child.kill("SIGKILL");
    }
  });
});
