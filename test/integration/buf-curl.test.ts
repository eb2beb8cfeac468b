/**
 * `buf curl` (the real binary from @bufbuild/buf) as an external client, with the schema taken
 * from our own buf module (`--schema proto`, run from the repo root): the Connect protocol over
 * HTTP/1.1 and gRPC over h2c (prior knowledge). Every child process is started here and killed
 * by its pid if it is still running.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const METHOD = (name: string) => `/presence.v1.PresenceService/${name}`;

let server: TestServer;
let alice: string;
let bob: string;
const children: ChildProcess[] = [];
const open: PresenceClient[] = [];
let seq = 0;

beforeAll(async () => {
  server = await startTestServer();
  alice = await signTestToken(TEST_SECRET, { sub: "alice", name: "Alice" });
  bob = await signTestToken(TEST_SECRET, { sub: "bob", name: "Bob", picture: "https://img.example/bob.png" });
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const c of open.splice(0)) c.close();
});

afterAll(async () => {
  await server.close();
});

/** Runs `buf curl` to completion; resolves with its exit code and output (never rejects on exit codes). */
function bufCurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(BUF, ["curl", "--schema", "proto", ...args], { cwd: ROOT, timeout: 15_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") reject(err);
      else resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
    });
    children.push(child);
  });
}

/** Splits concatenated pretty-printed JSON documents (buf curl prints one per stream message). */
function jsonDocuments(text: string): unknown[] {
  const docs: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{") {
      if (depth++ === 0) start = i;
    } else if (ch === "}" && --depth === 0) docs.push(JSON.parse(text.slice(start, i + 1)));
  }
  return docs;
}

type StreamDoc = {
  snapshot?: { first: boolean; last: boolean; view: { room: string; epoch: string; version: string } };
  event?: { epoch: string; version: string; joined?: { user: { userId: string; name: string }; connection: { connectionId: string }; firstOfUser: boolean } };
};

const PROTOCOLS: Array<[string, string[]]> = [
  ["Connect over HTTP/1.1", ["--protocol", "connect"]],
  ["gRPC over h2c", ["--protocol", "grpc", "--http2-prior-knowledge"]],
];

describe.each(PROTOCOLS)("buf curl, %s", (_name, protocol) => {
  it("joins with a token, then heartbeats with the returned session id", async () => {
    const room = `buf-curl/join/${++seq}`;
    const join = await bufCurl([...protocol, "-H", `Authorization: Bearer ${alice}`, "-d", JSON.stringify({ room }), server.baseUrl + METHOD("Join")]);
    expect(join.stderr).toBe("");
    expect(join.code).toBe(0);
    const joined = JSON.parse(join.stdout) as { session: { sessionId: string; connectionId: string }; view: { room: string; users: Array<{ user: { userId: string; name: string } }> } };
    expect(joined.session.sessionId).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(joined.view.room).toBe(room);
    expect(joined.view.users[0]?.user).toMatchObject({ userId: "alice", name: "Alice" });

    const hb = await bufCurl([
      ...protocol,
      "-H",
      `Authorization: Bearer ${alice}`,
      "-d",
      JSON.stringify({ sessionId: joined.session.sessionId, activity: "ACTIVITY_AWAY" }),
      server.baseUrl + METHOD("Heartbeat"),
    ]);
    expect(hb.code).toBe(0);
    const lease = (JSON.parse(hb.stdout) as { lease: { ttlMs: string; heartbeatIntervalMs: string; expiresAtMs: string } }).lease;
    expect(lease.ttlMs).toBe(String(server.config.timings.sessionTtlMs));
    expect(lease.heartbeatIntervalMs).toBe(String(server.config.timings.heartbeatIntervalMs));
    expect(Number(lease.expiresAtMs)).toBeGreaterThan(Date.now());
    const view = await server.app.store.getView(room, { includeMembers: true });
    expect(view.users[0]?.activity).toBe("away");
  });

  it("streams WatchPresence: the snapshot, then a join made meanwhile by another client", async () => {
    const room = `buf-curl/watch/${++seq}`;
    const child = spawn(BUF, ["curl", "--schema", "proto", ...protocol, "--emit-defaults", "-d", JSON.stringify({ room }), server.baseUrl + METHOD("WatchPresence")], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const until = async (pred: (docs: StreamDoc[]) => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!pred(jsonDocuments(stdout) as StreamDoc[])) {
        if (child.exitCode !== null) throw new Error(`buf curl exited (${child.exitCode}) before ${what}: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout: ${stdout}; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    await until((d) => d.length >= 1, "the snapshot");
    const b = connectClient(server.baseUrl, bob);
    open.push(b);
    const jb = await b.join({ room });
    await until((d) => d.some((x) => x.event?.joined), "the join event");
    child.kill("SIGTERM");
    await exited;

    const docs = jsonDocuments(stdout) as StreamDoc[];
    const snap = docs[0]?.snapshot;
    expect(snap).toMatchObject({ first: true, last: true, view: { room } });
    const ev = docs.find((d) => d.event?.joined)!.event!;
    expect(ev.epoch).toBe(snap!.view.epoch);
    expect(BigInt(ev.version)).toBe(BigInt(snap!.view.version) + 1n);
    expect(ev.joined).toMatchObject({ user: { userId: "bob", name: "Bob" }, connection: { connectionId: jb.session?.connectionId }, firstOfUser: true });
  });

  it("reports a bad room as invalid_argument with its error details (exit code = 8 × code)", async () => {
    const res = await bufCurl([...protocol, "-d", JSON.stringify({ room: "" }), server.baseUrl + METHOD("Join")]);
    expect(res.code).toBe(3 * 8);
    const err = JSON.parse(res.stderr) as { code: string; message: string; details: Array<{ type: string }> };
    expect(err).toMatchObject({ code: "invalid_argument", message: "room: must not be empty" });
    expect(err.details.map((d) => d.type)).toEqual(["google.rpc.ErrorInfo", "google.rpc.BadRequest"]);
  });
});

describe("buf curl against production defaults (issue 11: done when)", () => {
  it("with a key configured, anonymous GetUserStatus and WatchPresence are refused", async () => {
    const prod = await startTestServer({ PRESENCE_ANONYMOUS_RIGHTS: "" }); // the production default: none
    try {
      const grpc = ["--protocol", "grpc", "--http2-prior-knowledge"];
      const status = await bufCurl([...grpc, "-d", JSON.stringify({ userIds: ["alice"] }), prod.baseUrl + METHOD("GetUserStatus")]);
      expect(status.code).toBe(7 * 8);
      expect(JSON.parse(status.stderr)).toMatchObject({ code: "permission_denied", message: 'user_ids: operation "status.read" is not allowed on user "alice" (this caller may not see other users\' status)' });
      const watch = await bufCurl([...grpc, "-d", JSON.stringify({ room: "/docs/intro" }), prod.baseUrl + METHOD("WatchPresence")]);
      expect(watch.code).toBe(7 * 8);
      expect(JSON.parse(watch.stderr)).toMatchObject({ code: "permission_denied", message: 'room: operation "watch" is not allowed on room "/docs/intro"' });
      // With a token the same calls are served.
      const ok = await bufCurl([...grpc, "-H", `Authorization: Bearer ${alice}`, "-d", JSON.stringify({ userIds: ["bob"] }), prod.baseUrl + METHOD("GetUserStatus")]);
      expect(ok.code).toBe(0);
    } finally {
      await prod.close();
    }
  });
});
