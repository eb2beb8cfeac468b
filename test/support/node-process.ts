import * as http from "node:http";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, isRunning, sleep, spawnTracked, terminate } from "./processes.js";
import { OPEN_ANONYMOUS_RIGHTS } from "./access.js";
import { TEST_SECRET } from "./tokens.js";

/**
 * Server nodes as child processes (reliability.md §5): the built server, `node dist/main.js`, as
 * users run it (vitest's global setup builds dist/ from the sources under test; one process, so the
 * pid is the server's), on free RPC, admin and WebSocket
 * ports of 127.0.0.1, with the test JWT secret. Faults: `kill(signal)` (SIGKILL, SIGSTOP/SIGCONT, …),
 * `stop()` (graceful), `restart()` on the same ports.
 *
 * PRESENCE_* variables of the test process are not inherited: only the harness defaults and the
 * `env` given (e.g. PRESENCE_REDIS_URL, shrunken timings) reach the child. Children are registered
 * in processes.ts and die with the test process; `stopAllNodes()` suits an `afterEach`.
 */

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** How a server node is run: node's arguments, in ROOT (what `npm start` runs after its build). */
export const SERVER_ARGS = ["dist/main.js"];
/**
 * How long a starting node may take to answer /readyz. Generous: nine nodes started at once on a
 * loaded 2-core machine (a fault test in a full parallel run) took 12–14 s to listen at all.
 */
const READY_TIMEOUT_MS = 45_000;

export interface NodeProcess {
  readonly pid: number;
  /** `http://127.0.0.1:<rpc port>` (gRPC, Connect, gRPC-Web). */
  readonly rpcUrl: string;
  /** `http://127.0.0.1:<admin port>` (/metrics, /healthz, /readyz). */
  readonly adminUrl: string;
  /** `ws://127.0.0.1:<ws port>/ws` (WebSocket bridge). */
  readonly wsUrl: string;
  /** Every PRESENCE_* variable the child was given (ports included). */
  readonly env: Readonly<Record<string, string>>;
  /** stdout and stderr so far. */
  logs(): string;
  /** Sends a signal (default SIGKILL) and returns at once. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<void>;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** SIGTERM (graceful drain), then SIGKILL after 5 s; resolves after the exit. */
  stop(): Promise<void>;
  /** Stops this process if it still runs and starts a new one with the same env and ports. */
  restart(): Promise<NodeProcess>;
}

const running = new Set<NodeProcess>();

/** Stops (SIGTERM, then SIGKILL) every node started by this module that still runs. */
export async function stopAllNodes(): Promise<void> {
  await Promise.all([...running].map((n) => n.stop()));
}

/**
 * Starts a node and resolves when GET /readyz answers 200; rejects after 15 s, or as soon as the
 * child exits, with its output. Free ports are picked unless `env` sets PRESENCE_RPC_PORT/ADMIN_PORT
 * (a port taken between the probe and the server's bind is retried with new ones).
 */
export async function startNode(env: Record<string, string> = {}, opts: LaunchOptions = {}): Promise<NodeProcess> {
  const fixedPorts = env.PRESENCE_RPC_PORT !== undefined || env.PRESENCE_ADMIN_PORT !== undefined || env.PRESENCE_WS_PORT !== undefined;
  for (let attempt = 1; ; attempt++) {
    const full: Record<string, string> = {
      PRESENCE_HOST: "127.0.0.1",
      PRESENCE_LOG_LEVEL: "warn",
      PRESENCE_JWT_SECRET: TEST_SECRET,
      PRESENCE_ANONYMOUS_RIGHTS: OPEN_ANONYMOUS_RIGHTS,
      // The embedded history (PGlite) costs seconds and hundreds of MB per node: opt in per test.
      PRESENCE_HISTORY: "off",
      PRESENCE_RPC_PORT: String(await freePort()),
      PRESENCE_ADMIN_PORT: String(await freePort()),
      PRESENCE_WS_PORT: String(await freePort()),
      ...env,
    };
    try {
      return await launch(full, opts);
    } catch (e) {
      if (fixedPorts || attempt >= 3 || !/EADDRINUSE/.test(String(e))) throw e;
    }
  }
}

/** How the child is started. */
export interface LaunchOptions {
  /** Soft and hard limit of open file descriptors (`ulimit -n`), e.g. to make accepts fail with EMFILE. */
  fdLimit?: number;
}

async function launch(env: Record<string, string>, opts: LaunchOptions = {}): Promise<NodeProcess> {
  if (!existsSync(join(ROOT, SERVER_ARGS[0]!))) throw new Error(`${SERVER_ARGS[0]} is missing: run \`npm run build\` first (vitest and the bench scripts build it)`);
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PRESENCE_")));
  const [command, args] = opts.fdLimit === undefined ? [process.execPath, SERVER_ARGS] : ["bash", ["-c", `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, process.execPath, ...SERVER_ARGS]];
  const proc = spawnTracked(command, args, { cwd: ROOT, env: { ...inherited, ...env } });
  const rpcUrl = `http://127.0.0.1:${env.PRESENCE_RPC_PORT}`;
  const adminUrl = `http://127.0.0.1:${env.PRESENCE_ADMIN_PORT}`;
  const node: NodeProcess = {
    pid: proc.child.pid!,
    rpcUrl,
    adminUrl,
    wsUrl: `ws://127.0.0.1:${env.PRESENCE_WS_PORT}/ws`,
    env: Object.freeze({ ...env }),
    logs: proc.output,
    kill: (signal = "SIGKILL") => void proc.child.kill(signal),
    kill9: () => terminate(proc, "SIGKILL"),
    exited: proc.exited,
    stop: () => terminate(proc, "SIGTERM", 5_000),
    async restart() {
      await node.stop();
      return launch(env, opts);
    },
  };
  running.add(node);
  void proc.exited.then(() => running.delete(node));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while ((await statusOf(`${adminUrl}/readyz`)) !== 200) {
    const failed = !isRunning(proc.child) ? "exited" : Date.now() > deadline ? `not ready after ${READY_TIMEOUT_MS} ms` : undefined;
    if (failed) {
      await terminate(proc, "SIGKILL");
      throw new Error(`server node (rpc ${rpcUrl}, admin ${adminUrl}) ${failed}:\n${proc.output()}`);
    }
    await sleep(25);
  }
  return node;
}

/** GET `url` on a fresh connection (no keep-alive, so a drain is never held up); 0 when unreachable. */
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
