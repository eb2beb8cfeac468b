import { runtimeLabel, uwsAvailable } from "../../src/transport/ws/select-engine.js";
import type { WsEngineName } from "../../src/transport/ws/ws-engine.js";

/**
 * The WebSocket engines the bridge suites run on, like the store contract suite runs on memory
 * and Redis: `uws` where uWebSockets.js loads on this Node (Node 20 here), and `ws` everywhere.
 * PRESENCE_TEST_WS_ENGINES=ws (or uws) narrows the list for a quick local run. Where uWS does not
 * load, its suites are not silently dropped: one line says so.
 */
const wanted = (process.env.PRESENCE_TEST_WS_ENGINES ?? "uws,ws").split(",").map((e) => e.trim());

export const WS_ENGINES: WsEngineName[] = (["uws", "ws"] as const).filter((e) => wanted.includes(e) && (e !== "uws" || uwsAvailable()));

if (wanted.includes("uws") && !uwsAvailable()) {
  process.stderr.write(`[ws-engines] uWebSockets.js does not load on ${runtimeLabel()}: the WebSocket suites run on the ws engine only\n`);
}

/** The env that selects an engine for a test server or node. */
export const engineEnv = (engine: WsEngineName): Record<string, string> => ({ PRESENCE_WS_ENGINE: engine });
