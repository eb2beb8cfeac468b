/**
 * The three servers of the peer benchmark, started the same way: each in its own Node process on
 * 127.0.0.1 and a free port, with the inspector on a free loopback port (so that the benchmark can
 * force a GC before reading RSS, alike for all), optionally pinned to a CPU with `taskset`, and
 * restartable on the same port (reconnect storm).
 *
 * - `presence`, `presence-ws`: our built dist/main.js through test/support/node-process.ts (memory
 *   store, or the Redis store with `redisUrl`) on the uWS engine and on the ws engine
 *   (PRESENCE_WS_ENGINE=uws / ws: `presence` fails to start where uWS does not load).
 * - `soketi`: bench/peers/soketi/start.mjs (Soketi 1.6.1; Redis adapter with `redisUrl`).
 * - `socketio`: bench/peers/socketio/server.mjs (our Socket.IO baseline; Redis adapter with `redisUrl`).
 *
 * Peer folders are installed on first use with `npm install --prefix bench/peers/<peer>` (their own
 * package.json and lock file; the npm registry only). Not `npm ci`: the registry here lacks some
 * platforms' optional binaries (msgpackr-extract for macOS/Windows/arm), so the lock files miss
 * them and `npm ci` refuses ("Missing: … from lock file"); `npm install` keeps to the lock file and
 * tolerates them.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as http from "node:http";
import { fileURLToPath } from "node:url";
import { startNode, type NodeProcess } from "../../test/support/node-process.js";
import { freePort, isRunning, sleep, spawnTracked, terminate } from "../../test/support/processes.js";
import { connectInspector, type Inspector } from "./inspector.js";
import { protocolOf, type ServerKind } from "./peer-client.js";
import { UNLIMITED_QUOTAS_ENV } from "./unlimited-quotas.js";

const PEERS = fileURLToPath(new URL("../peers/", import.meta.url));

export interface BenchServer {
  readonly kind: ServerKind;
  pid: number;
  readonly port: number;
  insp: Inspector | null;
  /** Our server's Prometheus endpoint (admin port); peers have none here. */
  readonly metricsUrl?: string;
  /** SIGTERM (graceful), wait for the exit. */
  stop(): Promise<void>;
  /** Stops (SIGTERM) and starts again on the same port; resolves when ready. Returns the time the old process exited. */
  restart(): Promise<{ exitedAt: number }>;
}

export interface ServerOptions {
  redisUrl?: string;
  inspect: boolean;
  /** `taskset` CPU list for the server (all its threads), e.g. "0". */
  cpus?: string;
}

/** Installs a peer folder on first use (npm install, from its lock file). Throws when that fails. */
export function ensurePeerInstalled(peer: "soketi" | "socketio", log: (s: string) => void): void {
  const dir = PEERS + peer;
  const marker = `${dir}/node_modules/.package-lock.json`;
  if (existsSync(marker)) return;
  log(`  installing bench/peers/${peer} (npm install --prefix bench/peers/${peer}) …`);
  execFileSync("npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel", "error"], { stdio: "inherit" });
  if (!existsSync(marker)) throw new Error(`npm install --prefix bench/peers/${peer} installed nothing; see its output above`);
}

/** Pins every thread of `pid` to `cpus` (taskset -a -pc). */
export function pin(pid: number, cpus: string | undefined): void {
  if (!cpus) return;
  try {
    execFileSync("taskset", ["-a", "-pc", cpus, String(pid)], { stdio: "ignore" });
  } catch {
    /* taskset missing or the process is gone: unpinned */
  }
}

function statusOf(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

export async function startBenchServer(kind: ServerKind, o: ServerOptions): Promise<BenchServer> {
  const inspectPort = o.inspect ? await freePort() : 0;
  const nodeOptions = o.inspect ? `${process.env.NODE_OPTIONS ?? ""} --inspect=127.0.0.1:${inspectPort}`.trim() : (process.env.NODE_OPTIONS ?? "");
  const attachInspector = async () => (o.inspect ? connectInspector(inspectPort) : null);

  if (protocolOf(kind) === "presence") {
    const env: Record<string, string> = { PRESENCE_LOG_LEVEL: "warn", PRESENCE_WS_ENGINE: kind === "presence-ws" ? "ws" : "uws", NODE_OPTIONS: nodeOptions, ...UNLIMITED_QUOTAS_ENV };
    if (o.redisUrl) env.PRESENCE_REDIS_URL = o.redisUrl;
    // History is off in the harness unless asked for: bench/history.ts runs churn with and without it.
    for (const k of ["PRESENCE_HISTORY", "PRESENCE_POSTGRES_URL", "PRESENCE_HISTORY_DIR"]) if (process.env[k]) env[k] = process.env[k]!;
    let node: NodeProcess = await startNode(env);
    pin(node.pid, o.cpus);
    const s: BenchServer = {
      kind,
      pid: node.pid,
      port: Number(new URL(node.wsUrl).port),
      metricsUrl: `${node.adminUrl}/metrics`,
      insp: await attachInspector(),
      async stop() {
        s.insp?.close();
        await node.stop();
      },
      async restart() {
        s.insp?.close();
        await node.stop();
        const exitedAt = performance.timeOrigin + performance.now();
        node = await startNode({ ...node.env, NODE_OPTIONS: nodeOptions });
        s.pid = node.pid;
        pin(node.pid, o.cpus);
        s.insp = await attachInspector();
        return { exitedAt };
      },
    };
    return s;
  }

  if (kind !== "soketi" && kind !== "socketio") throw new Error(`unreachable: ${kind}`); // ours are handled above
  ensurePeerInstalled(kind, console.log);
  const port = await freePort();
  const script = kind === "soketi" ? `${PEERS}soketi/start.mjs` : `${PEERS}socketio/server.mjs`;
  const args = [script, "--port", String(port)];
  if (kind === "soketi") args.push("--metrics-port", String(await freePort()));
  if (o.redisUrl) args.push("--redis", o.redisUrl);
  const readyUrl = kind === "soketi" ? `http://127.0.0.1:${port}/ready` : `http://127.0.0.1:${port}/healthz`;
  const launch = async () => {
    const proc = spawnTracked(process.execPath, args, { env: { ...process.env, NODE_OPTIONS: nodeOptions } });
    const deadline = Date.now() + 20_000;
    while ((await statusOf(readyUrl)) !== 200) {
      if (!isRunning(proc.child) || Date.now() > deadline) {
        await terminate(proc, "SIGKILL");
        throw new Error(`${kind} did not start:\n${proc.output()}`);
      }
      await sleep(50);
    }
    pin(proc.child.pid!, o.cpus);
    return proc;
  };
  let proc = await launch();
  const s: BenchServer = {
    kind,
    pid: proc.child.pid!,
    port,
    insp: await attachInspector(),
    async stop() {
      s.insp?.close();
      await terminate(proc, "SIGTERM", 5_000);
    },
    async restart() {
      s.insp?.close();
      await terminate(proc, "SIGTERM", 5_000);
      const exitedAt = performance.timeOrigin + performance.now();
      proc = await launch();
      s.pid = proc.child.pid!;
      s.insp = await attachInspector();
      return { exitedAt };
    },
  };
  return s;
}
