import { createRequire } from "node:module";
import type * as UWS from "uWebSockets.js";
import { ConfigError } from "../../config.js";
import { createUwsEngine } from "./engine-uws.js";
import { createWsEngine } from "./engine-ws.js";
import type { WsEngineChoice, WsEngineFactory, WsEngineName } from "./ws-engine.js";

/**
 * Picks the WebSocket engine (PRESENCE_WS_ENGINE):
 *
 * - `auto` (default): uWebSockets.js when its native binary loads for this Node, else `ws`, with
 *   one warning line saying why (the Node version, platform and the loader's own reason);
 * - `uws`: uWebSockets.js, or a start-up error saying why it does not load;
 * - `ws`: the `ws` package, whatever uWS would do (uWS is then not even loaded).
 *
 * The registry build we depend on (`@trufflesuite/uws-js-unofficial`, aliased as `uWebSockets.js`)
 * has binaries for Node 16/18/20 only and, on other versions, prints two lines and falls back to a
 * JavaScript shim that cannot publish; the official builds throw instead. Both cases are "does not
 * load" here: the package's own lines are kept out of the log, and the shim is never used. A user
 * can install another build under the `uWebSockets.js` name (e.g. the official one from GitHub,
 * for a Node and glibc it supports) and `auto` picks it up.
 */
export type UwsLoad = { ok: true; uWS: typeof UWS } | { ok: false; reason: string };

let cached: UwsLoad | undefined;

/** Where this Node is, for messages: "Node v24.1.0 (linux-x64, ABI 137)". */
export const runtimeLabel = (): string => `Node ${process.version} (${process.platform}-${process.arch}, ABI ${process.versions.modules})`;

/** Loads uWebSockets.js once, quietly; `ok` only when its native addon is really there. */
export function loadUws(): UwsLoad {
  if (cached) return cached;
  const said: string[] = [];
  const { warn, log } = console;
  console.warn = (...args: unknown[]) => void said.push(args.map(String).join(" "));
  console.log = console.warn;
  try {
    const uWS = createRequire(import.meta.url)("uWebSockets.js") as typeof UWS;
    // The registry build's JavaScript fallback has no SSLApp and cannot publish: not uWS.
    if (typeof uWS.SSLApp === "function" && typeof uWS.App === "function") cached = { ok: true, uWS };
    else if (said.some((l) => l.includes("UWS_USE_FALLBACK"))) cached = { ok: false, reason: "UWS_USE_FALLBACK is set, so the package loads only its JavaScript fallback" };
    else cached = { ok: false, reason: firstReason(said.join("\n")) || "only its JavaScript fallback loaded" };
  } catch (err) {
    cached = { ok: false, reason: firstReason(err instanceof Error ? err.message : String(err)) };
  } finally {
    console.warn = warn;
    console.log = log;
  }
  return cached;
}

/** The line of a loader message that says what failed (e.g. "Cannot find module '…/uws_linux_x64_137.node'"). */
function firstReason(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const pick = (re: RegExp) => lines.find((l) => re.test(l));
  const line = pick(/^Error: /) ?? pick(/Cannot find|compiled against|GLIBC|invalid ELF/i) ?? pick(/not compatible/i) ?? lines[0] ?? "";
  return line.replace(/^Error: /, "").replace(/[.:]$/, "");
}

export interface SelectedEngine {
  name: WsEngineName;
  create: WsEngineFactory;
  /** Set when `auto` fell back to ws: the one line to log at warn. */
  warning?: string;
}

/** The engine for a choice; throws a ConfigError (naming PRESENCE_WS_ENGINE) when `uws` is asked for and does not load. */
export function selectWsEngine(choice: WsEngineChoice): SelectedEngine {
  const ws: SelectedEngine = { name: "ws", create: createWsEngine };
  if (choice === "ws") return ws;
  const uws = loadUws();
  if (uws.ok) return { name: "uws", create: (settings, handlers) => createUwsEngine(uws.uWS, settings, handlers) };
  if (choice === "uws") {
    throw new ConfigError(`PRESENCE_WS_ENGINE=uws: uWebSockets.js does not load on ${runtimeLabel()}: ${uws.reason}. Use PRESENCE_WS_ENGINE=auto or ws, or install a uWebSockets.js build for this Node.`);
  }
  return {
    ...ws,
    warning: `WebSocket engine: ws (pure JavaScript), because uWebSockets.js has no working native build for ${runtimeLabel()}: ${uws.reason}. Set PRESENCE_WS_ENGINE=ws to choose it explicitly, or install a uWebSockets.js build for this Node to get the faster engine.`,
  };
}

/** Whether the uWS engine can run here (tests run it only where it can). */
export const uwsAvailable = (): boolean => loadUws().ok;
