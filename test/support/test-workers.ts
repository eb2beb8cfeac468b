import { availableParallelism } from "node:os";

/**
 * How many test files of the parallel group run at a time (vitest.config.ts):
 * PRESENCE_TEST_WORKERS, default the machine's cores (2 on the CI machine). The suite mostly waits
 * (a file keeps a core busy 10–30% of its wall time), so more files than cores would still find
 * idle CPU on a quiet machine; one file per core leaves the slack that the tests' timing bounds
 * (TTLs, leave deadlines, stall detection) need when the machine is shared.
 */
export function testWorkers(raw = process.env.PRESENCE_TEST_WORKERS): number {
  if (raw === undefined || raw === "") return Math.max(1, availableParallelism());
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`PRESENCE_TEST_WORKERS must be an integer from 1 to 64, got "${raw}"`);
  return n;
}
