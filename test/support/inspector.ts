import { connectInspector } from "../../bench/lib/inspector.js";
import type { NodeProcess } from "./node-process.js";

/**
 * The F-N5 injector, through the V8 inspector of a node started with `INSPECT` (node's `--inspect`
 * on a free loopback port): no hook in the product. `blockEventLoop` stops the node's JavaScript
 * thread (its event loop: timers, sockets, uWS) for `ms`, like a long synchronous call. It waits
 * with `Atomics.wait`, so it does not burn a CPU of the shared test machine while blocked; for the
 * event loop a CPU-bound stall is the same.
 */

/** Env for startNode: the inspector on a free port of 127.0.0.1 (its address is printed on stderr). */
export const INSPECT = { NODE_OPTIONS: "--inspect=127.0.0.1:0" };

/** Blocks the node's event loop for `ms`; resolves when it is over, with when it started and ended (test clock). */
export async function blockEventLoop(node: NodeProcess, ms: number): Promise<{ startedAt: number; endedAt: number }> {
  const port = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(node.logs())?.[1];
  if (!port) throw new Error(`node ${node.pid} printed no inspector address (started with INSPECT?):\n${node.logs()}`);
  const insp = await connectInspector(Number(port));
  try {
    const startedAt = Date.now();
    const r = await insp.call<{ result: { value?: unknown } }>("Runtime.evaluate", {
      expression: `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms})`,
      returnByValue: true,
    });
    if (r.result.value !== "timed-out") throw new Error(`inspector: Atomics.wait answered ${JSON.stringify(r.result)}`);
    return { startedAt, endedAt: Date.now() };
  } finally {
    insp.close();
  }
}
