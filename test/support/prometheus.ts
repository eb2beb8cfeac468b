/**
 * A real Prometheus (Debian `prometheus`, installed by scripts/ensure-system-deps.sh) for tests:
 * started on a free loopback port with a temporary config and TSDB directory, scraping the given
 * targets every second under job `presence` and loading the given rule files. `stop()` terminates
 * it by pid and removes the directory.
 */
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { freePort, makeTempDir, removeTempDir, sleep, spawnTracked, terminate } from "./processes.js";

/** One series of an instant query's answer. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromQueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: PromSample[] };
}

/** A rule as `/api/v1/rules` lists it. */
export interface PromRule {
  name: string;
  query: string;
  type: "alerting" | "recording";
  health: string;
  lastError?: string;
}

export interface PrometheusInstance {
  readonly url: string;
  /** An instant query through the HTTP API (`/api/v1/query`); never throws on a PromQL error. */
  query(expr: string): Promise<PromQueryResult>;
  /** Every loaded rule. */
  rules(): Promise<PromRule[]>;
  /** The server's output so far. */
  logs(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(opts: { targets: string[]; ruleFiles?: string[] }): Promise<PrometheusInstance> {
  const dir = await makeTempDir("presence-prometheus-");
  const port = await freePort();
  const config = [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "  evaluation_interval: 1s",
    `rule_files: ${JSON.stringify(opts.ruleFiles ?? [])}`,
    "scrape_configs:",
    "  - job_name: presence",
    `    static_configs: [{ targets: ${JSON.stringify(opts.targets)} }]`,
    "",
  ].join("\n");
  const configFile = path.join(dir, "prometheus.yml");
  await writeFile(configFile, config);
  const proc = spawnTracked("prometheus", [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${path.join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await terminate(proc);
    await removeTempDir(dir);
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${proc.child.exitCode}:\n${proc.output()}`);
    }
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 20 s:\n${proc.output()}`);
    }
    await sleep(100);
  }
  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query`, { method: "POST", body: new URLSearchParams({ query: expr }) });
      return (await res.json()) as PromQueryResult;
    },
    async rules() {
      const body = (await (await fetch(`${url}/api/v1/rules`)).json()) as { data: { groups: { rules: PromRule[] }[] } };
      return body.data.groups.flatMap((g) => g.rules);
    },
    logs: () => proc.output(),
    stop,
  };
}
