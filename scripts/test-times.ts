/**
 * Prints where the suite's time goes, from the lines test/support/file-times.ts wrote:
 *
 *   PRESENCE_TEST_TIMES=/tmp/times.jsonl npx vitest run
 *   npx tsx scripts/test-times.ts /tmp/times.jsonl [top N, default 30]
 *
 * One row per test file, slowest wall time first: wall (first hook to last), import (worker start
 * to the first hook: transform and module loading), CPU of the worker and of the children it
 * reaped (servers, Redis, PostgreSQL, CLI processes), and how busy the file kept the machine
 * (CPU / wall: a file near 0 mostly waits). Totals at the end.
 */
import { readFileSync } from "node:fs";

interface Line {
  file: string;
  wallS: number;
  importS: number;
  cpuS: number;
  childCpuS: number;
}

const [path, topArg] = process.argv.slice(2);
if (!path) {
  console.error("usage: tsx scripts/test-times.ts <PRESENCE_TEST_TIMES file> [top N]");
  process.exit(2);
}
const lines: Line[] = readFileSync(path, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as Line)
  .sort((a, b) => b.wallS - a.wallS);
const top = Number(topArg ?? 30);
const f = (n: number, w = 7) => n.toFixed(1).padStart(w);
console.log(`${"wall s".padStart(7)} ${"import".padStart(7)} ${"cpu s".padStart(7)} ${"child".padStart(7)} ${"busy".padStart(5)}  file`);
for (const l of lines.slice(0, top)) {
  const busy = l.wallS + l.importS > 0 ? l.cpuS / (l.wallS + l.importS) : 0;
  console.log(`${f(l.wallS)} ${f(l.importS)} ${f(l.cpuS)} ${f(l.childCpuS)} ${busy.toFixed(2).padStart(5)}  ${l.file}`);
}
const sum = (k: keyof Omit<Line, "file">) => lines.reduce((a, l) => a + l[k], 0);
console.log(
  `${lines.length} files: wall ${sum("wallS").toFixed(0)} s, import ${sum("importS").toFixed(0)} s, ` +
    `CPU ${sum("cpuS").toFixed(0)} s (children ${sum("childCpuS").toFixed(0)} s)` +
    (lines.length > top ? `; ${lines.length - top} faster files not shown` : ""),
);
