// Scratch (not committed): Redis calls per reclaim after a restart, by command/script.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { startNode } from "../test/support/node-process.js";
import { startRedis } from "../test/support/redis-harness.js";
import { signTestToken, TEST_SECRET } from "../test/support/tokens.js";
import { PeerClient } from "./lib/peer-client.js";
import { Histogram } from "./lib/histogram.js";
import { UNLIMITED_QUOTAS_ENV } from "./lib/unlimited-quotas.js";

const N = Number(process.argv[2] ?? 200);
// sha → script name, as scripts.ts computes it
const dir = new URL("../src/store/redis/lua/", import.meta.url);
const prelude = readFileSync(new URL("_prelude.lua", dir), "utf8");
const shas = new Map<string, string>();
for (const f of readdirSync(dir)) {
  const m = /^([a-zA-Z]+)-\d+\.lua$/.exec(f);
  if (!m) continue;
  const lua = `${prelude}\n${readFileSync(new URL(f, dir), "utf8").replace(/^--@include ([a-zA-Z]+)$/gm, (_l, n: string) => readFileSync(new URL(`lib/${n}.lua`, dir), "utf8"))}`;
  shas.set(createHash("sha1").update(lua).digest("hex"), m[1]!);
}
const redis = await startRedis();
let node = await startNode({ PRESENCE_LOG_LEVEL: "warn", PRESENCE_WS_ENGINE: "uws", PRESENCE_REDIS_URL: redis.url, ...UNLIMITED_QUOTAS_ENV });
const port = Number(new URL(node.wsUrl).port);
const clients: PeerClient[] = [];
for (let i = 0; i < N; i++) {
  const user = `u${i}`;
  const pc = new PeerClient({ kind: "presence", port, localAddress: "127.0.0.1", user, token: await signTestToken(TEST_SECRET, { sub: user, name: user }, 3600), probe: false, latency: new Histogram(), countOnly: false });
  await pc.connect();
  await pc.join(`room-${Math.floor(i / 10)}`);
  clients.push(pc);
}
console.log("joined", N);
await node.stop();
node = await startNode({ ...node.env });
const mon = await new Redis(redis.url).monitor();
const counts = new Map<string, number>();
mon.on("monitor", (_t: string, args: string[], source: string) => {
  if (source.includes("lua")) return;
  const name = args[0]!.toLowerCase() === "evalsha" ? `script ${shas.get(args[1]!) ?? args[1]}` : args[0]!.toLowerCase() === "eval" ? `eval ${args[1]!.slice(prelude.length + 1, prelude.length + 60).replace(/\s+/g, " ")}` : `${args[0]!.toLowerCase()} ${String(args[1] ?? "").replace(/\{[a-z]:[^}]*\}/g, "{*}").replace(/[A-Za-z0-9_-]{16,}/g, "*")}`;
  counts.set(name, (counts.get(name) ?? 0) + 1);
});
await new Promise((r) => setTimeout(r, 500));
counts.clear();
const t0 = performance.now();
await Promise.all(clients.map(async (c) => {
  await c.connect();
  await c.join(c.room, true);
}));
console.log("rejoined in", ((performance.now() - t0) / 1000).toFixed(2), "s");
await new Promise((r) => setTimeout(r, 300));
const list = [...counts].sort((a, b) => b[1] - a[1]);
let total = 0;
for (const [k, v] of list) { total += v; console.log(`${(v / N).toFixed(2)}  ${k}`); }
console.log(`${(total / N).toFixed(2)}  TOTAL per reclaim`);
mon.disconnect();
await node.stop();
await redis.stop();
process.exit(0);
