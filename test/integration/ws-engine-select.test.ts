import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { runtimeLabel, selectWsEngine, uwsAvailable } from "../../src/transport/ws/select-engine.js";
import { ROOT, SERVER_ARGS, startNode, stopAllNodes } from "../support/node-process.js";
import { spawnTracked } from "../support/processes.js";
import { TEST_SECRET, signTestToken } from "../support/tokens.js";
import { connectWs } from "../support/ws-client.js";

/**
 * Choosing the WebSocket engine (PRESENCE_WS_ENGINE): `auto` takes uWS where its native build
 * loads and otherwise falls back to ws with exactly one warning line saying why (the package's
 * own console lines never reach the output); `ws` never loads uWS; `uws` where it does not load
 * stops start-up with exit code 2 and a message naming the variable. A uWS that "does not load"
 * is made real here with the registry build's UWS_USE_FALLBACK switch (its JavaScript shim, which
 * the server refuses to use), and is real on Node 24, where no binary exists.
 */
afterEach(() => stopAllNodes());

describe("WebSocket engine selection", () => {
  it("PRESENCE_WS_ENGINE accepts auto, uws and ws, and nothing else", () => {
    for (const v of ["auto", "uws", "ws", "WS"]) expect(loadConfig({ PRESENCE_WS_ENGINE: v }).ws.engine).toBe(v.toLowerCase());
    expect(loadConfig({}).ws.engine).toBe("auto");
    expect(() => loadConfig({ PRESENCE_WS_ENGINE: "fast" })).toThrow(ConfigError);
    expect(() => loadConfig({ PRESENCE_WS_ENGINE: "fast" })).toThrow(/PRESENCE_WS_ENGINE="fast": must be one of auto, uws, ws/);
  });

  it("ws is chosen without a warning; auto takes uWS where it loads, else ws with a reason", () => {
    const ws = selectWsEngine("ws");
    expect([ws.name, ws.warning]).toEqual(["ws", undefined]);
    const auto = selectWsEngine("auto");
    if (uwsAvailable()) {
      expect([auto.name, auto.warning]).toEqual(["uws", undefined]);
      expect(selectWsEngine("uws").name).toBe("uws");
    } else {
      expect(auto.name).toBe("ws");
      expect(auto.warning).toContain(`uWebSockets.js has no working native build for ${runtimeLabel()}`);
      expect(() => selectWsEngine("uws")).toThrow(/^PRESENCE_WS_ENGINE=uws: uWebSockets.js does not load on Node v/);
    }
  });

  it("auto without a loadable uWS: one warning line, and the bridge serves on ws", async () => {
    const node = await startNode({ UWS_USE_FALLBACK: "1", PRESENCE_LOG_LEVEL: "info" });
    const lines = node.logs().split("\n").filter((l) => /µWS|uWebSockets|engine/i.test(l));
    expect(lines).toHaveLength(2); // the warning and the "listening" line naming the engine
    const warning = JSON.parse(lines.find((l) => l.includes('"level":"warn"')) ?? "{}") as { msg?: string };
    expect(warning.msg).toMatch(/^WebSocket engine: ws \(pure JavaScript\), because uWebSockets.js has no working native build for Node v\S+ \(linux-x64, ABI \d+\): .+\. Set PRESENCE_WS_ENGINE=ws/);
    expect(node.logs()).toMatch(/"msg":"presence server listening"/);
    expect(node.logs()).toMatch(/"wsEngine":"ws"/);

    const c = await connectWs(node.wsUrl, { token: await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" }) });
    try {
      const j = await c.request({ case: "join", value: { room: "/engine" } });
      expect(j.frame.case).toBe("join");
    } finally {
      c.terminate();
    }
  });

  it("PRESENCE_WS_ENGINE=uws where uWS does not load: exit code 2 and a message naming the variable", async () => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PRESENCE_")));
    const env = { ...inherited, UWS_USE_FALLBACK: "1", PRESENCE_WS_ENGINE: "uws", PRESENCE_HOST: "127.0.0.1", PRESENCE_RPC_PORT: "0", PRESENCE_ADMIN_PORT: "0", PRESENCE_WS_PORT: "0", PRESENCE_LOG_LEVEL: "warn" };
    const proc = spawnTracked(process.execPath, SERVER_ARGS, { cwd: ROOT, env });
    const exit = await proc.exited;
    expect(exit.code).toBe(2);
    expect(proc.output()).toMatch(/^PRESENCE_WS_ENGINE=uws: uWebSockets.js does not load on Node v\S+ \(linux-x64, ABI \d+\): .+\. Use PRESENCE_WS_ENGINE=auto or ws/m);
    expect(proc.output()).not.toMatch(/µWS/);
  }, 20_000);
});
