import * as http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, isRunning, sleep, spawnTracked, terminate } from "../support/processes.js";
import { ROOT, SERVER_ARGS } from "../support/node-process.js";
import { TEST_SECRET, signTestToken } from "../support/tokens.js";
import { connectWs } from "../support/ws-client.js";
import { commandsOf, docBlock } from "../support/readme-blocks.js";

/**
 * The built server, as users run it (issue 15 item 2):
 *
 * - `node dist/main.js` start-to-ready time (process spawn until GET /readyz answers 200), next
 *   to the same server run from TypeScript through tsx (what `npm start` did before the build).
 *   The times are printed as figures; the only assertion is readiness.
 * - `npm start` (the README's one command after `npm install`): builds dist/ and then serves the
 *   demo page and the WebSocket bridge on one port and the RPC API on another.
 *
 * vitest's global setup has built dist/ already; `npm start` builds it again, as a user's does.
 */
type Proc = ReturnType<typeof spawnTracked>;
const procs: Proc[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => terminate(p, "SIGTERM", 5_000)));
});

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

async function ports() {
  return { PRESENCE_RPC_PORT: String(await freePort()), PRESENCE_ADMIN_PORT: String(await freePort()), PRESENCE_WS_PORT: String(await freePort()) };
}

const baseEnv = () => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PRESENCE_") && !k.startsWith("npm_"))),
  PRESENCE_HOST: "127.0.0.1",
  PRESENCE_LOG_LEVEL: "warn",
  PRESENCE_JWT_SECRET: TEST_SECRET,
});

/**
 * Spawns `command args` with free ports, in its own process group (so a signal can reach the whole
 * group, as Ctrl-C does in a terminal); resolves with the milliseconds until /readyz answered 200.
 */
async function startAndTime(command: string, args: string[], timeoutMs = 30_000, env: Record<string, string> = {}) {
  const p = await ports();
  const t0 = performance.now();
  const proc = spawnTracked(command, args, { cwd: ROOT, env: { ...baseEnv(), ...env, ...p }, detached: true });
  procs.push(proc);
  while ((await statusOf(`http://127.0.0.1:${p.PRESENCE_ADMIN_PORT}/readyz`)) !== 200) {
    if (!isRunning(proc.child)) throw new Error(`${command} ${args.join(" ")} exited before it was ready:\n${proc.output()}`);
    if (performance.now() - t0 > timeoutMs) throw new Error(`${command} ${args.join(" ")} not ready after ${timeoutMs} ms:\n${proc.output()}`);
    await sleep(5);
  }
  return { ms: performance.now() - t0, proc, ports: p };
}

describe("the built server", () => {
  it("node dist/main.js becomes ready (start-to-ready time printed, next to the tsx run)", async () => {
    const runs = { dist: [] as number[], tsx: [] as number[], tsxCold: [] as number[] };
    const variants = [
      ["dist", SERVER_ARGS, {}],
      ["tsx", ["--import", "tsx", "src/main.ts"], {}], // tsx's transform cache warm
      ["tsxCold", ["--import", "tsx", "src/main.ts"], { TSX_DISABLE_CACHE: "1" }], // every file compiled, as on a fresh machine
    ] as const;
    for (let i = 0; i < 2; i++) {
      for (const [kind, args, env] of variants) {
        const r = await startAndTime(process.execPath, [...args], 30_000, env);
        expect(await statusOf(`http://127.0.0.1:${r.ports.PRESENCE_ADMIN_PORT}/healthz`)).toBe(200);
        runs[kind].push(Math.round(r.ms));
        await terminate(r.proc, "SIGTERM", 5_000);
      }
    }
    const best = (xs: number[]) => Math.min(...xs);
    console.log(
      `start-to-ready on ${process.version}: node dist/main.js ${runs.dist.join(", ")} ms (best ${best(runs.dist)}); ` +
        `node --import tsx src/main.ts ${runs.tsx.join(", ")} ms (best ${best(runs.tsx)}), without tsx's cache ${runs.tsxCold.join(", ")} ms (best ${best(runs.tsxCold)})`,
    );
  }, 120_000);

  it("npm start builds, then serves the demo page, the WebSocket bridge and the RPC API", async () => {
    // The README's quick start; `npm install` is what made this checkout's node_modules.
    expect(commandsOf(docBlock("quickstart-start"))).toEqual(["npm install && npm start"]);
    const r = await startAndTime("npm", ["start"], 60_000);
    const { PRESENCE_RPC_PORT: rpc, PRESENCE_WS_PORT: wsPort } = r.ports;
    console.log(`npm start (build + start) ready in ${Math.round(r.ms)} ms`);

    const page = await fetch(`http://127.0.0.1:${wsPort}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<script");
    expect((await fetch(`http://127.0.0.1:${wsPort}/app.js`)).status).toBe(200);

    const token = await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" });
    const c = await connectWs(`ws://127.0.0.1:${wsPort}/ws`, { token });
    try {
      expect((await c.request({ case: "join", value: { room: "/npm-start" } })).frame.case).toBe("join");
      const res = await fetch(`http://127.0.0.1:${rpc}/presence.v1.PresenceService/GetPresence`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ room: "/npm-start" }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { view?: { counts?: { users?: number } } };
      expect(body.view?.counts?.users).toBe(1);
    } finally {
      c.terminate();
    }
    // Ctrl-C in a terminal signals the whole process group: the server drains and exits, npm too.
    process.kill(-r.proc.child.pid!, "SIGINT");
    const exit = await Promise.race([r.proc.exited, sleep(15_000).then(() => null)]);
    expect(exit).not.toBeNull();
    expect(await statusOf(`http://127.0.0.1:${r.ports.PRESENCE_ADMIN_PORT}/healthz`)).toBe(0);
  }, 120_000);
});
