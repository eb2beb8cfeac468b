import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { freePort, isRunning, makeTempDir, removeTempDir, sleep, spawnTracked, terminate } from "./processes.js";
import { startRedis, type RedisInstance } from "./redis-harness.js";

/**
 * A real Redis Sentinel topology for F-R4 (reliability.md §4.2): one master and its replicas
 * (`redis-server`, password-protected), and Sentinels (Debian's `redis-sentinel`, with their own
 * password) monitoring them under one master name, all on free ports of 127.0.0.1 in temp dirs,
 * stopped by pid. `failover()` is `SENTINEL FAILOVER`: a real promotion, the old master demoted and
 * its clients killed by Sentinel.
 */
export interface SentinelTopology {
  readonly masterName: string;
  /** The data nodes (the first was the master at start). */
  readonly nodes: RedisInstance[];
  readonly sentinelPorts: number[];
  /** The data nodes' password (the default user's `requirepass`). */
  readonly password: string;
  readonly sentinelPassword: string;
  /** The server's env for this topology (PRESENCE_REDIS_SENTINELS and credentials). */
  env(): Record<string, string>;
  /** The data node the Sentinels name as master now (asks the first Sentinel). */
  master(): Promise<RedisInstance>;
  /** `SENTINEL FAILOVER` and waits until every Sentinel names another master and it answers as one. */
  failover(): Promise<{ from: RedisInstance; to: RedisInstance; ms: number }>;
  /** `redis-cli` on a Sentinel. */
  sentinelCli(i: number, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startSentinelTopology(opts: { replicas?: number; sentinels?: number; masterName?: string } = {}): Promise<SentinelTopology> {
  const masterName = opts.masterName ?? "presence-main";
  const password = "data-node-pw";
  const sentinelPassword = "sentinel-pw";
  const master = await startRedis({ password });
  const replicas = await Promise.all(Array.from({ length: opts.replicas ?? 1 }, () => startRedis({ password, extraArgs: ["--replicaof", "127.0.0.1", String(master.port), "--replica-announce-ip", "127.0.0.1"] })));
  const nodes = [master, ...replicas];
  const sentinels: { port: number; dir: string; proc: ReturnType<typeof spawnTracked> }[] = [];
  const cli = (port: number, args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile("redis-cli", ["-e", "-p", String(port), "-a", sentinelPassword, "--no-auth-warning", ...args], { timeout: 10_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`redis-cli -p ${port} ${args.join(" ")}: ${stdout}${stderr}`.trim(), { cause: err })) : resolve(stdout.trim()),
      ),
    );
  const quorum = Math.floor((opts.sentinels ?? 3) / 2) + 1;
  const topology: SentinelTopology = {
    masterName,
    nodes,
    get sentinelPorts() {
      return sentinels.map((s) => s.port);
    },
    password,
    sentinelPassword,
    env: () => ({
      PRESENCE_REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(","),
      PRESENCE_REDIS_SENTINEL_MASTER: masterName,
      PRESENCE_REDIS_SENTINEL_PASSWORD: sentinelPassword,
      PRESENCE_REDIS_PASSWORD: password,
    }),
    async master() {
      const port = Number((await cli(sentinels[0]!.port, ["SENTINEL", "get-master-addr-by-name", masterName])).split("\n")[1]);
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`Sentinel names an unknown master on port ${port}`);
      return n;
    },
    async failover() {
      const from = await topology.master();
      const t0 = Date.now();
      await cli(sentinels[0]!.port, ["SENTINEL", "FAILOVER", masterName]);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ports = await Promise.all(sentinels.map(async (s) => Number((await cli(s.port, ["SENTINEL", "get-master-addr-by-name", masterName])).split("\n")[1])));
        const to = nodes.find((n) => n.port === ports[0] && n !== from);
        if (to && ports.every((p) => p === to.port) && (await to.cli("ROLE")).startsWith("master")) return { from, to, ms: Date.now() - t0 };
        if (Date.now() > deadline) throw new Error(`failover of ${masterName} not done in 20 s: sentinels name ports ${ports.join(",")}`);
        await sleep(50);
      }
    },
    sentinelCli: (i, ...args) => cli(sentinels[i]!.port, args),
    async stop() {
      await Promise.all(sentinels.splice(0).map(async (s) => {
        await terminate(s.proc);
        await removeTempDir(s.dir);
      }));
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  try {
    for (let i = 0; i < (opts.sentinels ?? 3); i++) {
      const port = await freePort();
      const dir = await makeTempDir("presence-sentinel-");
      const conf = path.join(dir, "sentinel.conf");
      await writeFile(
        conf,
        [
          `port ${port}`, "bind 127.0.0.1", "daemonize no", `dir ${dir}`, "protected-mode no",
          `requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} ${quorum}`,
          `sentinel auth-pass ${masterName} ${password}`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          "",
        ].join("\n"),
      );
      const proc = spawnTracked("redis-sentinel", [conf]);
      sentinels.push({ port, dir, proc });
    }
    // Ready when every Sentinel knows every replica and every other Sentinel.
    const deadline = Date.now() + 20_000;
    for (const s of sentinels) {
      for (;;) {
        if (!isRunning(s.proc.child)) throw new Error(`redis-sentinel on ${s.port} exited:\n${s.proc.output()}`);
        const known = await Promise.all([
          cli(s.port, ["SENTINEL", "replicas", masterName]).then((r) => r.split("\n").filter((l) => l === "name").length, () => -1),
          cli(s.port, ["SENTINEL", "sentinels", masterName]).then((r) => r.split("\n").filter((l) => l === "name").length, () => -1),
        ]);
        if (known[0] === replicas.length && known[1] === sentinels.length - 1) break;
        if (Date.now() > deadline) throw new Error(`Sentinel ${s.port} knows ${known[0]} replicas and ${known[1]} sentinels after 20 s:\n${s.proc.output()}`);
        await sleep(100);
      }
    }
    return topology;
  } catch (e) {
    await topology.stop();
    throw e;
  }
}
