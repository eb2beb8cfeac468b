/**
 * The quick starts of docs/backends.md, run as written against a real server: the Python one
 * (create a venv, `pip install ./clients/python`, run `watch.py` and `track.py` from the page) and
 * the TypeScript one (`npx tsx track.ts`). Offline here: pip uses Debian's grpcio/protobuf/PyJWT
 * through the venv's system site packages (PIP_NO_INDEX, no build isolation).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { freePort } from "../support/processes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { waitFor } from "../support/watch-recorder.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const page = readFileSync(join(ROOT, "docs/backends.md"), "utf8");

/** The fenced blocks of one language in the section whose heading is `heading`, in order. */
function blocks(heading: string, lang: string): string[] {
  const start = page.indexOf(`## ${heading}`);
  const end = page.indexOf("\n## ", start + 1);
  const section = page.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

/** Runs a command to its end without blocking this process (the server under test runs in it). */
function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

let server: TestServer;
let dir: string;
let receiverPort: number;
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString("base64")}`;

beforeAll(async () => {
  receiverPort = await freePort();
  server = await startTestServer({
    PRESENCE_REFLECTION: "false",
    PRESENCE_WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/presence`,
    PRESENCE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    PRESENCE_WEBHOOK_BATCH_DELAY_MS: "20",
    PRESENCE_RECONNECT_GRACE_MS: "300",
  });
  dir = mkdtempSync(join(tmpdir(), "quickstart-"));
  symlinkSync(join(ROOT, "clients"), join(dir, "clients"));
  symlinkSync(join(ROOT, "gen"), join(dir, "gen"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  symlinkSync("/usr/bin/python3", join(dir, "python3")); // Debian's python3 first on PATH (not pyenv's)
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("docs/backends.md", () => {
  it("Python quick start: install, track two users, watch the room, receive the webhooks", { timeout: 240_000 }, async () => {
    const env = {
      ...process.env,
      PATH: `${dir}:${process.env.PATH}`,
      PIP_NO_INDEX: "1",
      PIP_NO_BUILD_ISOLATION: "0",
      PIP_DISABLE_PIP_VERSION_CHECK: "1",
      PRESENCE_TARGET: `127.0.0.1:${server.app.rpcPort}`,
      PRESENCE_JWT_SECRET: TEST_SECRET,
      PRESENCE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      RECEIVER_PORT: String(receiverPort),
    };
    const [install] = blocks("Python quick start", "bash");
    const installed = await run("bash", ["-euo", "pipefail", "-c", install!], { cwd: dir, env, timeoutMs: 180_000 });
    expect(installed.status, installed.stderr).toBe(0);
    const [track, watch, receive] = blocks("Python quick start", "python");
    writeFileSync(join(dir, "track.py"), track!);
    writeFileSync(join(dir, "watch.py"), watch!);
    writeFileSync(join(dir, "receiver.py"), receive!);
    const receiver = spawn(join(dir, ".venv/bin/python"), ["receiver.py"], { cwd: dir, env });
    let received = "";
    receiver.stdout.on("data", (d: Buffer) => (received += d.toString()));
    receiver.stderr.on("data", (d: Buffer) => (received += d.toString()));

    const watcher = spawn(join(dir, ".venv/bin/python"), ["watch.py"], { cwd: dir, env });
    let watched = "";
    watcher.stdout.on("data", (d: Buffer) => (watched += d.toString()));
    watcher.stderr.on("data", (d: Buffer) => (watched += d.toString()));
    const watcherExit = new Promise<number | null>((r) => watcher.once("close", (code) => r(code)));
    try {
      await waitFor(() => watched.includes("snapshot:"), 30_000, `watch.py's snapshot (${watched})`);
      const tracked = await run(join(dir, ".venv/bin/python"), ["track.py"], { cwd: dir, env, timeoutMs: 60_000 });
      expect(tracked.status, tracked.stderr).toBe(0);
      expect(tracked.stdout).toContain("here now: ['ana', 'bob']");
      expect(tracked.stdout).toContain("counts: Counts(users=2, connections=2, anonymous=0)");
      expect(tracked.stdout).toContain("ana is online");
      expect(await watcherExit).toBe(0);
      expect(watched).toMatch(/snapshot: \[\]\njoined: ana\njoined: bob\nleft: (ana|bob)\n/);
      // The webhooks of the same story, verified and de-duplicated by receiver.py.
      const lines = () => received.split("\n").filter((l) => l.startsWith("webhook:"));
      await waitFor(() => lines().length >= 10, 20_000, `10 webhook events (${received})`);
      expect(lines().sort()).toEqual(
        [
          "room_occupied /docs/intro -",
          "member_added /docs/intro ana",
          "member_added /docs/intro bob",
          "user_online - ana",
          "user_online - bob",
          "member_removed /docs/intro ana",
          "member_removed /docs/intro bob",
          "room_vacated /docs/intro -",
          "user_offline - ana",
          "user_offline - bob",
        ]
          .map((l) => `webhook: ${l}`)
          .sort(),
      );
    } finally {
      watcher.kill("SIGKILL");
      receiver.kill("SIGKILL");
    }
  });

  it("TypeScript quick start: one Track stream, two users, clean close", { timeout: 60_000 }, async () => {
    const [track] = blocks("TypeScript quick start", "ts");
    writeFileSync(join(dir, "track.mts"), track!);
    const token = await signTestToken(TEST_SECRET, { sub: "quickstart", role: "service" });
    const ran = await run("npx", ["tsx", "track.mts"], {
      cwd: dir,
      env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}`, PRESENCE_URL: server.baseUrl, PRESENCE_TOKEN: token },
      timeoutMs: 50_000,
    });
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^tracker trk_\S+\nhere now: ana, bob\nleft: 2\n$/);
    expect((await server.app.store.getView("/docs/intro", { includeMembers: true })).users).toEqual([]);
  });
});
