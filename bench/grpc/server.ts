/**
 * The server under benchmark: the built `dist/main.js` (built by npm run bench:grpc first) in its own process (test/support/node-process.ts
 * `startNode`: 127.0.0.1, free ports, test JWT secret, anonymous access on, log level warn), with
 * the inspector on a free loopback port so that the benchmark can force a GC and profile it, and
 * optionally pinned to CPUs with `taskset` (all threads: `-a`).
 */
import { execFileSync } from "node:child_process";
import * as os from "node:os";
import { connectInspector, type Inspector } from "../lib/inspector.js";
import { fileURLToPath } from "node:url";
import { startNode, type NodeProcess } from "../../test/support/node-process.js";
import { freePort, spawnTracked, terminate } from "../../test/support/processes.js";
import type { BareKind } from "./bare-server.js";
import { UNLIMITED_QUOTAS_ENV } from "../lib/unlimited-quotas.js";

export interface BenchServer {
  node: Pick<NodeProcess, "pid" | "rpcUrl">;
  /** Null when started without the inspector. */
  insp: Inspector | null;
  stop(): Promise<void>;
}

export async function startBenchServer(env: Record<string, string>, cpus: string | null, inspect = true): Promise<BenchServer> {
  const inspectPort = inspect ? await freePort() : 0;
  const node = await startNode({
    PRESENCE_LOG_LEVEL: "warn",
    ...UNLIMITED_QUOTAS_ENV,
    ...env,
    ...(inspect ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --inspect=127.0.0.1:${inspectPort}`.trim() } : {}),
  });
  if (cpus !== null) pin(node.pid, cpus);
  const insp = inspect ? await connectInspector(inspectPort) : null;
  return {
    node,
    insp,
    async stop() {
      insp?.close();
      await node.stop();
    },
  };
}

/**
 * A reference server of bench/grpc/bare-server.ts (bare grpc-js or bare connect-node) in its own
 * process, pinned like ours, with the inspector when asked (for a profile of the framework alone).
 */
export async function startBareServer(kind: BareKind, cpus: string | null, inspect = false): Promise<BenchServer> {
  const inspectPort = inspect ? await freePort() : 0;
  const script = fileURLToPath(new URL("./bare-server.ts", import.meta.url));
  const proc = spawnTracked(process.execPath, [...(inspect ? [`--inspect=127.0.0.1:${inspectPort}`] : []), "--import", "tsx", script, kind]);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bare ${kind} server did not start: ${proc.output()}`)), 30_000);
    const onData = () => {
      const m = /port (\d+)/.exec(proc.output());
      if (!m) return;
      clearTimeout(timer);
      proc.child.stdout!.off("data", onData);
      resolve(Number(m[1]));
    };
    proc.child.stdout!.on("data", onData);
    void proc.exited.then(() => reject(new Error(`bare ${kind} server exited: ${proc.output()}`)));
  });
  const pid = proc.child.pid!;
  if (cpus !== null) pin(pid, cpus);
  const insp = inspect ? await connectInspector(inspectPort) : null;
  return {
    node: { pid, rpcUrl: `http://127.0.0.1:${port}` },
    insp,
    async stop() {
      insp?.close();
      await terminate(proc);
    },
  };
}

/** `taskset -a -pc <cpus> <pid>`: every thread of the process (and threads it starts later) on those CPUs. */
export function pin(pid: number, cpus: string): void {
  execFileSync("taskset", ["-a", "-pc", cpus, String(pid)], { stdio: "ignore" });
}

/**
 * CPU sets for pinning: the server gets CPU 0 (its event loop is one thread), the generators the
 * others. Null (no pinning) on a one-CPU machine or without taskset.
 */
export interface PinPlan {
  server: string;
  generators: string;
  generatorCpus: number;
}

export function pinPlan(): PinPlan | null {
  const n = os.cpus().length;
  if (n < 2) return null;
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
  } catch {
    return null;
  }
  return { server: "0", generators: n === 2 ? "1" : `1-${n - 1}`, generatorCpus: n - 1 };
}
