/**
 * History on vs off (issue 13): `npm run bench:history`. Starts a PostgreSQL (the test harness:
 * initdb on a free port), then runs the peer benchmark's churn scenario (`bench/run.ts --only churn
 * --servers presence`) twice on our server: once with PRESENCE_HISTORY=off, once recording to that
 * PostgreSQL. Prints deliveries/s and join latency of both runs, and the rows/s the server wrote to
 * PostgreSQL while churn ran (rows recorded / time between the first and last commit recorded).
 * Writes bench/results/history-<date>.json. `--scale F` is passed on to bench/run.ts.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startPostgres } from "../test/support/postgres-harness.js";
import { isoStamp } from "./lib/format.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const extra = process.argv.slice(2);
const pg = await startPostgres();
try {
  const url = await pg.createDatabase();
  const run = (label: string, env: Record<string, string>) => {
    const out = `/tmp/presence-history-bench-${label}.json`;
    execFileSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--only", "churn", "--servers", "presence", "--no-grpc", "--out", out, ...extra], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const r = JSON.parse(readFileSync(out, "utf8"));
    const fig = r.scenarios?.churn?.presence;
    if (!fig || fig.error) throw new Error(`churn (${label}) failed: ${fig?.error ?? "no result"}`);
    return fig as { metrics: Record<string, number>; detail: Record<string, number> };
  };
  const off = run("off", { PRESENCE_HISTORY: "off" });
  const on = run("on", { PRESENCE_HISTORY: "postgres", PRESENCE_POSTGRES_URL: url });
  const pool = pg.pool(url);
  const w = (await pool.query("SELECT count(*)::int AS n, (max(recorded_ms) - min(recorded_ms))::float8 AS span_ms, min(at_ms)::float8 AS first, max(at_ms)::float8 AS last FROM presence.activity")).rows[0];
  const rowsPerS = w.n / Math.max(1, (w.last - w.first) / 1000);
  const result = {
    date: new Date().toISOString(),
    churn: {
      off: { deliveriesPerSecond: off.metrics.deliveriesPerSecond, latencyP50Ms: off.metrics.latencyP50Ms, latencyP99Ms: off.metrics.latencyP99Ms, serverCpuPercent: off.metrics.serverCpuPercent },
      on: { deliveriesPerSecond: on.metrics.deliveriesPerSecond, latencyP50Ms: on.metrics.latencyP50Ms, latencyP99Ms: on.metrics.latencyP99Ms, serverCpuPercent: on.metrics.serverCpuPercent },
    },
    postgres: { rowsRecorded: w.n, rowsPerSecondWhileChurning: rowsPerS, rowsDropped: on.detail.presence_history_rows_dropped_total ?? 0, rowsWrittenCounter: on.detail.presence_history_rows_written_total ?? 0 },
  };
  const file = fileURLToPath(new URL(`results/history-${isoStamp(new Date())}.json`, import.meta.url));
  writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
  console.log(
    `churn deliveries/s: history off ${Math.round(off.metrics.deliveriesPerSecond!)}, on ${Math.round(on.metrics.deliveriesPerSecond!)} ` +
      `(${(100 * (on.metrics.deliveriesPerSecond! / off.metrics.deliveriesPerSecond! - 1)).toFixed(1)}%); join p99 ${off.metrics.latencyP99Ms!.toFixed(1)} / ${on.metrics.latencyP99Ms!.toFixed(1)} ms; ` +
      `rows written to PostgreSQL while churning: ${Math.round(rowsPerS)}/s (${w.n} rows, ${result.postgres.rowsDropped} dropped); ${file}`,
  );
} finally {
  await pg.stop();
}
