import { appendFileSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, expect } from "vitest";

/**
 * Per-file cost, recorded when PRESENCE_TEST_TIMES names a file (vitest setupFiles; see
 * docs/testing.md "Where the time goes"): one JSON line per test file with its wall time (from the
 * first hook to the last) and the CPU seconds of its worker process plus the children it reaped
 * (servers, Redis, PostgreSQL, the CLI started by the test). `scripts/test-times.ts` prints the
 * table. Linux only (/proc/self/stat); elsewhere nothing is written.
 */
const out = process.env.PRESENCE_TEST_TIMES;

/** utime, stime, cutime, cstime of this process, in seconds. */
function cpu(): { self: number; children: number } | undefined {
  try {
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    const hz = 100; // USER_HZ is 100 on every Linux ABI Node supports
    return { self: (f[11]! + f[12]!) / hz, children: (f[13]! + f[14]!) / hz };
  } catch {
    return undefined;
  }
}

if (out) {
  let start: { wall: number; cpu: ReturnType<typeof cpu> } | undefined;
  beforeAll(() => {
    start = { wall: performance.now(), cpu: cpu() };
  });
  afterAll(() => {
    const end = cpu();
    const file = expect.getState().testPath ?? "";
    if (!start?.cpu || !end) return;
    const line = {
      file: file.startsWith(process.cwd()) ? file.slice(process.cwd().length + 1) : file,
      wallS: (performance.now() - start.wall) / 1000,
      importS: start.wall / 1000,
      cpuS: end.self + end.children,
      childCpuS: end.children - start.cpu.children,
      pid: process.pid,
    };
    appendFileSync(out, JSON.stringify(line) + "\n");
  });
}
