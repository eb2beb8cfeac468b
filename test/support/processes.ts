import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Child processes of the test harness (redis-server, server nodes): free ports, spawning with a
 * parent-death signal, and one registry that kills every leftover when the test process exits.
 *
 * Each child is started through `setpriv --pdeathsig SIGKILL` when util-linux's setpriv is present:
 * it execs the real program (same pid) and the kernel kills it if the test process dies, even by
 * SIGKILL. The registry's `exit` hook covers normal exits and also removes the temp dirs made by
 * `makeTempDir` that were not removed yet.
 */

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let hooked = false;
const hookExit = () => {
  if (!hooked) process.once("exit", killAllTracked);
  hooked = true;
};

/** True while the child has neither exited nor been killed by a signal. */
export const isRunning = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

const setpriv = (process.env.PATH ?? "").split(path.delimiter).map((d) => path.join(d, "setpriv")).find((p) => existsSync(p));

/**
 * A loopback TCP port that is free now, for a child process that must be told its port up front.
 * Chosen at random below the kernel's ephemeral range (32768–60999 here): a port the OS handed out
 * for `listen(0)` is in that range, and between our check and the child's bind any outgoing
 * connection on the machine may be given it as its source port (a real EADDRINUSE seen in CI).
 * Ports handed out by this process are not handed out again, and test files running at the same
 * time (vitest.config.ts) draw from different slices of the range: vitest numbers its concurrent
 * workers (VITEST_POOL_ID, 1 to the worker count), so two files never hand the same port to their
 * children between the check and the bind.
 */
export async function freePort(): Promise<number> {
  const slice = portSlice();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = slice.from + Math.floor(Math.random() * slice.size);
    if (handedOut.has(port) || !(await canBind(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found in ${slice.from}–${slice.from + slice.size - 1} after 200 attempts`);
}

const PORTS_FROM = 20_000;
const PORTS = 12_000;
const SLICES = 8;
function portSlice(): { from: number; size: number } {
  const pool = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(pool) || pool < 1) return { from: PORTS_FROM, size: PORTS };
  const size = PORTS / SLICES;
  return { from: PORTS_FROM + ((pool - 1) % SLICES) * size, size };
}

const handedOut = new Set<number>();

async function canBind(port: number): Promise<boolean> {
  const srv = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => resolve(true));
  });
  if (ok) await new Promise((r) => srv.close(r));
  return ok;
}

/** A new directory under os.tmpdir(), removed at exit unless `removeTempDir` did it first. */
export async function makeTempDir(prefix: string): Promise<string> {
  hookExit();
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

/**
 * Spawns `command args` (stdio piped), registered until it exits. `output()` is the tail (256 KiB)
 * of stdout and stderr together.
 */
export function spawnTracked(command: string, args: string[], options: SpawnOptions = {}) {
  hookExit();
  const [cmd, argv] = setpriv ? [setpriv, ["--pdeathsig", "SIGKILL", "--", command, ...args]] : [command, args];
  const child = spawn(cmd, argv, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > 262_144) output = output.slice(-262_144);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  child.on("error", (e) => keep(Buffer.from(`spawn ${command} failed: ${e.message}\n`)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, exited, output: () => output };
}

/** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs and waits. Resumes a stopped child first. */
export async function terminate(
  proc: { child: ChildProcess; exited: Promise<unknown> },
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 5_000,
): Promise<void> {
  if (!isRunning(proc.child)) return void (await proc.exited);
  if (signal !== "SIGKILL") proc.child.kill("SIGCONT"); // a frozen process cannot handle SIGTERM
  proc.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([proc.exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
  clearTimeout(timer);
  if (late) {
    proc.child.kill("SIGKILL");
    await proc.exited;
  }
}

/** SIGKILLs every registered child that still runs and removes the temp dirs (synchronous: safe in `exit`). */
export function killAllTracked(): void {
  for (const child of children) if (isRunning(child)) child.kill("SIGKILL");
  children.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
