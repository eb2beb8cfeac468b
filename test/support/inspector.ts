import { connectInspector, serverGc, type Inspector } from "../../bench/lib/inspector.js";
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

/** The inspector of a node started with `INSPECT` (close it when done). */
export async function inspectNode(node: NodeProcess): Promise<Inspector> {
  const port = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(node.logs())?.[1];
  if (!port) throw new Error(`node ${node.pid} printed no inspector address (started with INSPECT?):\n${node.logs()}`);
  return connectInspector(Number(port));
}

/** The node's `process.memoryUsage()` right after two full GCs: what it retains, without the garbage. */
export async function memoryAfterGc(insp: Inspector): Promise<NodeJS.MemoryUsage> {
  await serverGc(insp);
  const r = await insp.call<{ result: { value: string } }>("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())", returnByValue: true });
  return JSON.parse(r.result.value) as NodeJS.MemoryUsage;
}

/** Blocks the node's event loop for `ms`; resolves when it is over, with when it started and ended (test clock). */
export async function blockEventLoop(node: NodeProcess, ms: number): Promise<{ startedAt: number; endedAt: number }> {
  const insp = await inspectNode(node);
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
