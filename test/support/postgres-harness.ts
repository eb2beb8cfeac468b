import { execFile, execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { chown } from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import pg from "pg";
import { freePort, isRunning, makeTempDir, removeTempDir, sleep, spawnTracked, terminate } from "./processes.js";

/**
 * Real PostgreSQL servers for history tests, like redis-harness.ts: Debian's PostgreSQL (the
 * newest `/usr/lib/postgresql/<version>/bin`, override with PRESENCE_TEST_PG_BIN; CI installs it
 * through scripts/ensure-system-deps.sh) initialised with `initdb` in
 * a temp dir and started on a free port of 127.0.0.1, never a shared server. Each instance is
 * stopped by `stop()` (or at the latest when the test process exits: processes.ts kills every
 * tracked child by pid and removes the temp dirs).
 *
 * PostgreSQL refuses to run as root. When the tests run as root (CI does), initdb and postgres run
 * as the `postgres` system user that Debian's package creates, through `setpriv --reuid`; the
 * parent-death signal is set after the uid change (a uid change clears it, prctl(2)).
 *
 * Tuned for tests, not for durability: `fsync=off`, `synchronous_commit=off`,
 * `full_page_writes=off` (tests never crash the server itself: they stop it).
 */
export interface PostgresInstance {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  readonly url: string;
  /** Pid of the postmaster (changes on restart). */
  readonly pid: number;
  readonly dir: string;
  /** Fast shutdown (SIGINT), wait for the exit; closes the clients and removes the dir. Idempotent. */
  stop(): Promise<void>;
  /** Fast shutdown, keeping the data: the server is unreachable until `start()`. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port with its data. */
  start(): Promise<void>;
  /** A new database on this server (a random name unless given); returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** A new pg.Pool on `url` (default the `postgres` database), closed by `stop()`. */
  pool(url?: string): pg.Pool;
  /** The server's log so far. */
  logs(): string;
}

const PG_BIN = process.env.PRESENCE_TEST_PG_BIN ?? newestPgBin();

/** The newest Debian PostgreSQL installed (/usr/lib/postgresql/<version>/bin). */
function newestPgBin(): string {
  let versions: string[] = [];
  try {
    versions = readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v));
  } catch {
    // not installed: startPostgres fails with the path it tried
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0] ?? "15";
  return `/usr/lib/postgresql/${newest}/bin`;
}
const live = new Set<PostgresInstance>();

/** Stops every instance started by this module and not stopped yet (an `afterAll` helper). */
export async function stopAllPostgres(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Runs `argv` as the postgres user when we are root; else as ourselves. */
function asPostgresUser(argv: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [argv[0]!, argv.slice(1)];
  return ["setpriv", ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", "setpriv", "--pdeathsig", "SIGKILL", "--", ...argv]];
}

/** Initialises a cluster in a temp dir and starts it; resolves once it accepts connections. */
export async function startPostgres(opts: { extraArgs?: string[] } = {}): Promise<PostgresInstance> {
  const dir = await makeTempDir("presence-pg-");
  const data = path.join(dir, "data");
  if (process.getuid?.() === 0) await chown(dir, uidOf("postgres"), gidOf("postgres"));
  const pools = new Set<pg.Pool>();
  let port = 0;
  let proc: ReturnType<typeof spawnTracked> | undefined;
  let stopped = false;

  try {
    const [cmd, args] = asPostgresUser([path.join(PG_BIN, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]);
    await run(cmd, args);
  } catch (e) {
    await removeTempDir(dir);
    throw e;
  }

  const launch = async (pickPort: boolean) => {
    for (let attempt = 1; ; attempt++) {
      if (pickPort) port = await freePort();
      const [cmd, args] = asPostgresUser([
        path.join(PG_BIN, "postgres"), "-D", data, "-p", String(port), "-k", dir,
        "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "max_connections=100", "-c", "shared_buffers=32MB",
        ...(opts.extraArgs ?? []),
      ]);
      proc = spawnTracked(cmd, args);
      try {
        return await waitForConnections(port, proc);
      } catch (e) {
        await terminate(proc, "SIGKILL");
        if (pickPort && attempt < 3 && /could not bind|Address already in use/.test(proc.output())) continue;
        throw e;
      }
    }
  };
  try {
    await launch(true);
  } catch (e) {
    await removeTempDir(dir);
    throw e;
  }

  const closePools = async () => {
    await Promise.all([...pools].map((p) => p.end().catch(() => {})));
    pools.clear();
  };
  const instance: PostgresInstance = {
    get port() {
      return port;
    },
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    },
    get pid() {
      return proc!.child.pid!;
    },
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(instance);
      await closePools();
      await terminate(proc!, "SIGINT");
      await removeTempDir(dir);
    },
    halt: () => terminate(proc!, "SIGINT"),
    async start() {
      if (stopped) throw new Error("start after stop()");
      if (isRunning(proc!.child)) return;
      await launch(false);
    },
    async createDatabase(name) {
      const db = name ?? `t_${Math.random().toString(36).slice(2, 10)}`;
      const c = new pg.Client({ connectionString: instance.url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${db}`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    pool(url) {
      const p = new pg.Pool({ connectionString: url ?? instance.url, max: 4 });
      p.on("error", () => {}); // restarts are expected in fault tests
      pools.add(p);
      return p;
    },
    logs: () => proc!.output(),
  };
  live.add(instance);
  return instance;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${args.join(" ")}: ${stdout}${stderr}`.trim(), { cause: err })) : resolve(stdout),
    ),
  );
}

const uidOf = (name: string) => Number(execFileSync("id", ["-u", name]).toString().trim());
const gidOf = (name: string) => Number(execFileSync("id", ["-g", name]).toString().trim());

/** Waits (15 s) until the server accepts a real query; fails at once with the log if it exits. */
async function waitForConnections(port: number, proc: ReturnType<typeof spawnTracked>): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!isRunning(proc.child)) throw new Error(`postgres on port ${port} exited before accepting connections:\n${proc.output()}`);
    if (await portOpen(port)) {
      const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 1_000 });
      c.on("error", () => {});
      try {
        await c.connect();
        await c.query("SELECT 1");
        await c.end();
        return;
      } catch {
        await c.end().catch(() => {}); // "the database system is starting up"
      }
    }
    if (Date.now() > deadline) throw new Error(`postgres on port ${port} not ready in 15 s:\n${proc.output()}`);
    await sleep(25);
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.setTimeout(500, () => (s.destroy(), resolve(false)));
    s.on("error", () => resolve(false));
    s.on("connect", () => (s.destroy(), resolve(true)));
  });
}
