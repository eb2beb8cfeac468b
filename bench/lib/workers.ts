/**
 * Load-generator processes for the benchmarks: `spawnWorker(file, args)` forks a module (through
 * tsx) and talks to it over IPC with numbered commands; `serveWorker(handle)` is the worker side.
 * A worker exits when the orchestrator goes away (IPC disconnect), and every worker still running
 * is killed when the orchestrator exits, so a crashed benchmark leaves no load behind.
 *
 * Protocol: the worker sends `{ ready: true }` once, then answers each `{ id, cmd }` with
 * `{ id, result }` or `{ id, error }`. `close()` sends the command `{ type: "close" }`, which the
 * worker must answer and then exit; after 5 s it is killed.
 */
import { fork, type ChildProcess } from "node:child_process";

export interface Worker<Cmd> {
  pid: number;
  call<T>(cmd: Cmd): Promise<T>;
  close(): Promise<void>;
}

const workers = new Set<ChildProcess>();
process.once("exit", () => {
  for (const w of workers) w.kill("SIGKILL");
});

export async function spawnWorker<Cmd>(file: string, args: string[]): Promise<Worker<Cmd>> {
  const child = fork(file, args, { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  workers.add(child);
  const exited = new Promise<void>((r) => child.once("exit", () => (workers.delete(child), r())));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  child.on("message", (m: { ready?: boolean; id?: number; result?: unknown; error?: string }) => {
    if (m.ready) return readyResolve();
    const p = pending.get(m.id ?? -1);
    if (!p) return;
    pending.delete(m.id!);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.result);
  });
  void exited.then(() => {
    for (const p of pending.values()) p.reject(new Error("generator process exited"));
    pending.clear();
  });
  await Promise.race([ready, exited.then(() => Promise.reject(new Error("generator process failed to start")))]);
  return {
    pid: child.pid!,
    call<T>(cmd: Cmd) {
      return new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, cmd });
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      try {
        child.send({ id: 0, cmd: { type: "close" } });
      } catch {
        child.kill("SIGKILL");
      }
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Worker side: answers every command with `handle(cmd)` (sync or async). A `close` command is
 * answered after `handle` ran, then the process exits.
 */
export function serveWorker<Cmd extends { type: string }>(handle: (cmd: Cmd) => unknown): void {
  process.on("disconnect", () => process.exit(0));
  process.on("message", (msg: { id: number; cmd: Cmd }) => {
    const reply = (result: unknown) => process.send?.({ id: msg.id, result: result ?? null });
    const fail = (e: unknown) => process.send?.({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
    Promise.resolve()
      .then(() => handle(msg.cmd))
      .then(reply, fail)
      .then(() => {
        if (msg.cmd.type === "close") setTimeout(() => process.exit(0), 50);
      });
  });
  process.send?.({ ready: true });
}
