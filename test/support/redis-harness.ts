import { execFile } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import { Cluster, Redis } from "ioredis";
import { freePort, isRunning, makeTempDir, removeTempDir, sleep, spawnTracked, terminate } from "./processes.js";

/**
 * Real `redis-server` processes for store and fault tests (reliability.md §5, injectors): a
 * standalone server or a Redis Cluster of N masters, each on free ports of 127.0.0.1 with its own
 * temp dir, never the default port. Faults: `stop`, `kill9`, `restart` (empty or with its data),
 * `pause` (CLIENT PAUSE), `freeze`/`thaw` (SIGSTOP/SIGCONT: unreachable but connected).
 *
 * Every process is stopped by pid: by `stop()`, else at the latest when the test process exits
 * (see processes.ts: parent-death signal and an exit hook). `stopAllRedis()` suits an `afterEach`.
 * ioredis clients from `client()` speak RESP2 (`protocol: 2`) and are closed by `stop()`.
 */

export interface RedisOptions {
  /** `--appendonly yes` (AOF in the temp dir, kept by `restart({ keepData: true })`). Default false. */
  appendonly?: boolean;
  /** A fixed port (default: a free one, retried if another process takes it first). */
  port?: number;
  /** More `redis-server` arguments, e.g. `["--maxmemory", "2mb"]`. */
  extraArgs?: string[];
  /** Cluster mode (used by `startRedisCluster`): cluster flags and a free `--cluster-port`. */
  cluster?: boolean;
  /**
   * The default user's password (`--requirepass`, and `--masterauth` for a replica): the harness's
   * own connections (its PING, `cli`, `client`) authenticate with it.
   */
  password?: string;
}

export interface RedisInstance {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Pid of the running redis-server (changes on restart). */
  readonly pid: number;
  /** Its temp dir (`--dir`). */
  readonly dir: string;
  /** SIGTERM, wait for the exit; closes the clients and removes the dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, wait for the exit (the instance can be restarted). */
  kill9(): Promise<void>;
  /** SIGTERM (an AOF is flushed), wait for the exit; the data stays for `restart({ keepData: true })`. */
  halt(): Promise<void>;
  /**
   * Stops the server if it runs and starts it on the same port: empty unless `keepData` (for a
   * cluster node, empty includes nodes.conf: it forgets the cluster). Clients reconnect.
   */
  restart(opts?: { keepData?: boolean }): Promise<void>;
  /** Runs `redis-cli -e -p <port> …args`; resolves with stdout (trimmed), rejects on an error reply. */
  cli(...args: string[]): Promise<string>;
  /** A new ioredis client (RESP2, connecting at once), closed by `stop()`. */
  client(): Redis;
  /** `CLIENT PAUSE <ms> ALL`: every client blocks for `ms`. */
  pause(ms: number): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers until `thaw()`. */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  /** The server's log so far (stdout and stderr). */
  logs(): string;
}

const live = new Set<RedisInstance | RedisClusterInstance>();

/** Stops every instance and cluster started by this module and not stopped yet. */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...live].map((r) => r.stop()));
}

/** Starts a `redis-server` and resolves once it answers PING. */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisInstance> {
  const dir = await makeTempDir("presence-redis-");
  const clients = new Set<Redis>();
  let port = opts.port ?? 0;
  let busPort = 0;
  let proc: ReturnType<typeof spawnTracked> | undefined;
  let stopped = false;

  const args = () => [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", opts.appendonly ? "yes" : "no",
    "--dir", dir, "--protected-mode", "no", "--daemonize", "no",
    ...(opts.cluster ? ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000", "--cluster-port", String(busPort)] : []),
    ...(opts.password !== undefined ? ["--requirepass", opts.password, "--masterauth", opts.password] : []),
    ...(opts.extraArgs ?? []),
  ];
  const auth = opts.password === undefined ? [] : ["-a", opts.password, "--no-auth-warning"];
  const launch = async (pickPorts: boolean) => {
    for (let attempt = 1; ; attempt++) {
      if (pickPorts) [port, busPort] = [opts.port ?? (await freePort()), opts.cluster ? await freePort() : 0];
      proc = spawnTracked("redis-server", args());
      try {
        return await waitForPong(port, proc, opts.password);
      } catch (e) {
        await terminate(proc, "SIGKILL");
        // Another process took a port between our probe and redis' bind: pick new ones.
        if (pickPorts && opts.port === undefined && attempt < 3 && /Address already in use/.test(proc.output())) continue;
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

  const instance: RedisInstance = {
    get port() {
      return port;
    },
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return proc!.child.pid!;
    },
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(instance);
      for (const c of clients) c.disconnect();
      clients.clear();
      await terminate(proc!);
      await removeTempDir(dir);
    },
    kill9: () => terminate(proc!, "SIGKILL"),
    halt: () => terminate(proc!, "SIGTERM"),
    async restart({ keepData = false } = {}) {
      if (stopped) throw new Error("restart after stop()");
      await terminate(proc!);
      if (!keepData) for (const f of await readdir(dir)) await rm(path.join(dir, f), { recursive: true, force: true });
      await launch(false);
    },
    cli: (...a) => redisCli(["-p", String(port), ...auth, ...a]),
    client() {
      const c = new Redis({ host: "127.0.0.1", port, protocol: 2, lazyConnect: false, ...(opts.password !== undefined ? { password: opts.password } : {}) });
      c.on("error", () => {}); // reconnects are expected in fault tests; callers add their own listener
      clients.add(c);
      return c;
    },
    pause: async (ms) => void (await instance.cli("CLIENT", "PAUSE", String(ms), "ALL")),
    freeze: () => void proc!.child.kill("SIGSTOP"),
    thaw: () => void proc!.child.kill("SIGCONT"),
    logs: () => proc!.output(),
  };
  live.add(instance);
  return instance;
}

export interface RedisClusterInstance {
  /** The masters (0 replicas), in start order. */
  readonly nodes: RedisInstance[];
  /** `127.0.0.1:P1,127.0.0.1:P2,…`, the PRESENCE_REDIS_CLUSTER form. */
  readonly seeds: string;
  /** A new ioredis Cluster client (RESP2), closed by `stop()`. */
  client(): Cluster;
  /** The hash slot of `key` (CRC16 of the key or of its `{hash tag}`, mod 16384). */
  slotOf(key: string): number;
  /** Closes the clients and stops every node. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `masters` (default 3, at least 3) cluster-enabled servers, joins them with
 * `redis-cli --cluster create … --cluster-replicas 0` and waits for `cluster_state:ok` on every node.
 * The create step itself takes about 2 s (redis-cli waits for the nodes to agree).
 */
export async function startRedisCluster(opts: { masters?: number } = {}): Promise<RedisClusterInstance> {
  const masters = opts.masters ?? 3;
  if (masters < 3) throw new Error("redis-cli --cluster create needs at least 3 masters");
  const nodes: RedisInstance[] = [];
  const clients = new Set<Cluster>();
  let stopped = false;
  const cluster: RedisClusterInstance = {
    nodes,
    get seeds() {
      return nodes.map((n) => `127.0.0.1:${n.port}`).join(",");
    },
    client() {
      const c = new Cluster(nodes.map((n) => ({ host: "127.0.0.1", port: n.port })), { redisOptions: { protocol: 2 } });
      c.on("error", () => {});
      clients.add(c);
      return c;
    },
    slotOf: (key) => keySlot(key),
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(cluster);
      for (const c of clients) c.disconnect();
      clients.clear();
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  live.add(cluster);
  try {
    nodes.push(...(await Promise.all(Array.from({ length: masters }, () => startRedis({ cluster: true })))));
    await redisCli(["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"]);
    const deadline = Date.now() + 10_000;
    for (const n of nodes) {
      while (!(await n.cli("CLUSTER", "INFO")).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error(`cluster node ${n.port} not ok after 10 s:\n${await n.cli("CLUSTER", "INFO")}`);
        await sleep(20);
      }
    }
    return cluster;
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

/** Runs redis-cli with `-e` (a non-zero exit on an error reply); rejects with its output. */
function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("redis-cli", ["-e", ...args], { timeout: 15_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`redis-cli ${args.join(" ")}: ${stdout}${stderr}`.trim(), { cause: err })) : resolve(stdout.trim()),
    ),
  );
}

/** Polls with a raw RESP PING until `+PONG` (10 s); fails at once with the log if the process exits. */
async function waitForPong(port: number, proc: ReturnType<typeof spawnTracked>, password?: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await pingOnce(port, password))) {
    if (!isRunning(proc.child)) throw new Error(`redis-server on port ${port} exited before answering PING:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING in 10 s:\n${proc.output()}`);
    await sleep(10);
  }
}

function pingOnce(port: number, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    let got = "";
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.on("error", () => done(false));
    // With a password: AUTH first (its +OK line), then PING.
    const skip = password === undefined ? 0 : 1;
    s.on("connect", () => s.write(password === undefined ? "PING\r\n" : `AUTH ${password}\r\nPING\r\n`));
    s.on("data", (d) => {
      got += d.toString();
      const lines = got.split("\r\n");
      if (lines.length > skip + 1) done(lines[skip]!.startsWith("+PONG")); // "-LOADING …" while reading the AOF
    });
  });
}

/** Redis Cluster's key slot: CRC16/XMODEM of the key's bytes (or of a non-empty `{tag}`) mod 16384. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key, "utf8");
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
