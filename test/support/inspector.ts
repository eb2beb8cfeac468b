import WebSocket from "ws";
import type { NodeProcess } from "./node-process.js";

/**
 * The V8 inspector of a server node started with `INSPECT` (node's `--inspect` on a free loopback
 * port): a test evaluates an expression on the node's main thread, with no hook in the product.
 * `blockEventLoop` is the F-N5 injector: the node's JavaScript thread (its event loop: timers,
 * sockets, uWS) stops for `ms`, like a long synchronous call. It waits with `Atomics.wait`, so it
 * does not burn a CPU of the shared test machine while blocked; for the event loop a CPU-bound
 * stall is the same.
 */

/** Launch option for startNode: the inspector on a free port of 127.0.0.1 (printed on stderr). */
export const INSPECT = { nodeOptions: ["--inspect=127.0.0.1:0"] };

/** The inspector's WebSocket URL from the node's stderr. */
export function inspectorUrl(node: NodeProcess): string {
  const m = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+)/.exec(node.logs());
  if (!m) throw new Error(`no inspector URL in the node's output (was it started with INSPECT?):\n${node.logs()}`);
  return m[1]!;
}

/** Evaluates `expression` on the node's main thread; resolves with its result value. */
export async function evaluate(node: NodeProcess, expression: string, timeoutMs = 60_000): Promise<unknown> {
  const ws = new WebSocket(inspectorUrl(node));
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector: no answer to ${expression} in ${timeoutMs} ms`)), timeoutMs);
      ws.on("message", (data) => {
        const msg = JSON.parse(String(data)) as { id?: number; result?: { result?: { value?: unknown }; exceptionDetails?: unknown }; error?: unknown };
        if (msg.id !== 1) return;
        clearTimeout(timer);
        if (msg.error || msg.result?.exceptionDetails) reject(new Error(`inspector: ${JSON.stringify(msg.error ?? msg.result?.exceptionDetails)}`));
        else resolve(msg.result?.result?.value);
      });
      ws.send(JSON.stringify({ id: 1, method: "Runtime.evaluate", params: { expression, returnByValue: true } }));
    });
  } finally {
    ws.close();
  }
}

/**
 * Blocks the node's event loop for `ms`. Resolves when the block is over, with when it started and
 * ended (test clock): the node did nothing in between.
 */
export async function blockEventLoop(node: NodeProcess, ms: number): Promise<{ startedAt: number; endedAt: number }> {
  const startedAt = Date.now();
  const r = await evaluate(node, `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms})`, ms + 30_000);
  if (r !== "timed-out") throw new Error(`inspector: Atomics.wait answered ${String(r)}`);
  return { startedAt, endedAt: Date.now() };
}
