import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeProcess } from "./node-process.js";
import { makeTempDir } from "./processes.js";
import { waitFor } from "./watch-recorder.js";

/**
 * Clock faults of a server node (reliability.md F-T1, F-T2) through a preload
 * (`clock-skew-preload.mjs`) that shifts the node's wall clock (`Date`) and leaves monotonic time
 * alone, like a host whose clock is off or stepped: no hook in the product. Debian's libfaketime
 * would do the same for the whole process; the preload needs no package.
 */
const PRELOAD = fileURLToPath(new URL("./clock-skew-preload.mjs", import.meta.url));

export interface SkewedClock {
  /** Env for startNode (NODE_OPTIONS and the preload's variables). */
  env: Record<string, string>;
  /** Steps the node's wall clock to `offsetMs` from real time; resolves once the node applied it. */
  step(node: NodeProcess, offsetMs: number): Promise<void>;
}

export async function skewedClock(offsetMs: number): Promise<SkewedClock> {
  const file = path.join(await makeTempDir("presence-clock-"), "offset");
  writeFileSync(file, String(offsetMs));
  return {
    env: { NODE_OPTIONS: `--import ${PRELOAD}`, FAULT_CLOCK_OFFSET_MS: String(offsetMs), FAULT_CLOCK_FILE: file },
    async step(node, to) {
      writeFileSync(file, String(to));
      const before = node.logs().split(`fault clock offset ${to}\n`).length;
      node.kill("SIGUSR2");
      await waitFor(() => node.logs().split(`fault clock offset ${to}\n`).length > before, 5_000, `node ${node.pid} applying clock offset ${to}`);
    },
  };
}
