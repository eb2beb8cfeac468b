// Scratch (not committed): reclaims after the grace: do views converge (old sessions reaped)?
import { startNode } from "../test/support/node-process.js";
import { startRedis } from "../test/support/redis-harness.js";
import { signTestToken, TEST_SECRET } from "../test/support/tokens.js";
import { PeerClient } from "./lib/peer-client.js";
import { Histogram } from "./lib/histogram.js";
import { UNLIMITED_QUOTAS_ENV } from "./lib/unlimited-quotas.js";

const N = Number(process.argv[2] ?? 100);
const redis = await startRedis();
let node = await startNode({ PRESENCE_LOG_LEVEL: "info", PRESENCE_WS_ENGINE: "uws", PRESENCE_REDIS_URL: redis.url, PRESENCE_RECONNECT_GRACE_MS: "1000", ...UNLIMITED_QUOTAS_ENV });
const port = Number(new URL(node.wsUrl).port);
const clients: PeerClient[] = [];
for (let i = 0; i < N; i++) {
  const user = `u${i}`;
  const pc = new PeerClient({ kind: "presence", port, localAddress: "127.0.0.1", user, token: await signTestToken(TEST_SECRET, { sub: user, name: user }, 3600), probe: false, latency: new Histogram(), countOnly: false });
  await pc.connect();
  await pc.join(`room-${Math.floor(i / 10)}`);
  clients.push(pc);
}
for (const c of clients) c.setTarget(10);
console.log("joined", N, "counts", clients.map((c) => c.count).join(","));
await node.stop();
await new Promise((r) => setTimeout(r, 2500)); // past the grace
node = await startNode({ ...node.env });
const t0 = performance.now();
await Promise.all(clients.map(async (c) => {
  await c.connect();
  await c.join(c.room, true);
}));
console.log("rejoined in", ((performance.now() - t0) / 1000).toFixed(2), "s");
for (let t = 0; t < 30; t++) {
  await new Promise((r) => setTimeout(r, 1000));
  const hist = new Map<number, number>();
  for (const c of clients) hist.set(c.count, (hist.get(c.count) ?? 0) + 1);
  console.log(`t+${t + 1}s counts`, JSON.stringify([...hist]), "leaves", clients.reduce((n, c) => n + c.stats.leavesSeen, 0), "joins", clients.reduce((n, c) => n + c.stats.joinsSeen, 0));
  if (clients.every((c) => c.count === 10)) break;
}
console.log(node.logs().split("\n").filter((l) => /reap|warn|error/i.test(l)).slice(-10).join("\n"));
await node.stop();
await redis.stop();
process.exit(0);
