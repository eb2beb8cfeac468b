import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CONFIG_SECTIONS, SERVER_SPEC, WS_SPEC } from "../../src/config.js";
import { ROOT } from "../support/node-process.js";

/**
 * compose.yaml, checked without a Docker engine (docs/deployment.md says what that leaves
 * unverified): it parses; Redis, the server (built from the Dockerfile), Prometheus and Grafana
 * are there; every bind-mounted path exists; the server's ports and variables are the server's own
 * (defaults from src/config.ts, variable names the server reads); Prometheus loads
 * prometheus/prometheus.yml (promtool accepts it) which scrapes the presence service's admin port
 * under job `presence` and loads prometheus/alerts.yml, the rules the monitoring tests evaluate;
 * Grafana is provisioned with grafana/provisioning/dashboards and grafana/dashboards (the files
 * the monitoring tests check) and a datasource identical to grafana/provisioning's but for its URL,
 * which names the prometheus service.
 */
type Service = {
  image?: string;
  build?: string | { context: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  command?: string[];
  depends_on?: string[] | Record<string, unknown>;
};
const compose = parse(readFileSync(join(ROOT, "compose.yaml"), "utf8")) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;

/** host path → container path of a service's bind mounts (named volumes left out). */
function binds(s: Service): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of s.volumes ?? []) {
    const [host, container] = v.split(":");
    if (host!.startsWith(".")) m.set(host!, container!);
  }
  return m;
}

describe("compose.yaml", () => {
  it("runs Redis, the server built from the Dockerfile, Prometheus and Grafana", () => {
    expect(Object.keys(services).sort()).toEqual(["grafana", "presence", "prometheus", "redis"]);
    expect(services.presence!.build).toBe(".");
    expect(existsSync(join(ROOT, "Dockerfile"))).toBe(true);
    for (const name of ["redis", "prometheus", "grafana"]) expect(services[name]!.image).toMatch(/^[\w./-]+:[\w.-]+$/); // pinned tags
  });

  it("mounts only paths that exist", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const host of binds(s).keys()) expect(existsSync(join(ROOT, host)), `${name}: ${host}`).toBe(true);
      for (const v of s.volumes ?? []) if (!v.split(":")[0]!.startsWith(".") && !v.startsWith("/")) expect(compose.volumes, `${name}: ${v}`).toHaveProperty(v.split(":")[0]!);
    }
  });

  it("gives the server its own ports and variables", () => {
    const p = services.presence!;
    const published = (p.ports ?? []).map((x) => x.split(":").map(Number));
    expect(published).toEqual([SERVER_SPEC.rpcPort.default, WS_SPEC.port.default, SERVER_SPEC.adminPort.default].map((n) => [n, n]));
    const known = new Set(CONFIG_SECTIONS.flatMap((s) => [...Object.values(s.ints ?? {}), ...Object.values(s.settings ?? {})]).map((s) => s.env));
    for (const key of Object.keys(p.environment ?? {})) {
      expect(key.startsWith("PRESENCE_")).toBe(true);
      // Every option is in a spec table (docs/configuration.md).
      expect(known.has(key) || key === "PRESENCE_ADMIN_HOST", key).toBe(true);
    }
    expect(p.environment?.PRESENCE_REDIS_URL).toMatch(/^redis:\/\/redis:6379$/);
  });

  it("provisions Prometheus from prometheus/: a valid config scraping the server's admin port, with the alert rules", async () => {
    const prom = services.prometheus!;
    const mounts = binds(prom);
    const target = mounts.get("./prometheus")!;
    expect(prom.command).toContain(`--config.file=${target}/prometheus.yml`);
    const { stdout } = await promisify(execFile)("promtool", ["check", "config", join(ROOT, "prometheus/prometheus.yml")]);
    expect(stdout).toMatch(/SUCCESS: 1 rule files found/);
    const config = parse(readFileSync(join(ROOT, "prometheus/prometheus.yml"), "utf8")) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(config.rule_files).toEqual(["alerts.yml"]); // relative to the config: prometheus/alerts.yml, tested by test/ops
    const job = config.scrape_configs.find((j) => j.job_name === "presence");
    expect(job?.static_configs[0]?.targets).toEqual([`presence:${SERVER_SPEC.adminPort.default}`]);
  });

  it("provisions Grafana from grafana/: the dashboards, their provider, and the datasource at the prometheus service", () => {
    const mounts = binds(services.grafana!);
    expect(mounts.get("./grafana/dashboards")).toBeDefined();
    expect(statSync(join(ROOT, "grafana/dashboards")).isDirectory()).toBe(true);
    // The provider reads the dashboards where compose mounts them.
    const provider = parse(readFileSync(join(ROOT, "grafana/provisioning/dashboards/presence.yaml"), "utf8")) as { providers: { options: { path: string } }[] };
    expect(mounts.get("./grafana/dashboards")).toBe(provider.providers[0]!.options.path);
    expect(mounts.get("./grafana/provisioning/dashboards")).toBe("/etc/grafana/provisioning/dashboards");
    expect(mounts.get("./deploy/grafana/datasources")).toBe("/etc/grafana/provisioning/datasources");
    // The datasource: the same as the one for other installs, at http://prometheus:9090.
    const body = (f: string) => readFileSync(join(ROOT, f), "utf8").split("\n").filter((l) => !l.startsWith("#"));
    const ours = body("grafana/provisioning/datasources/presence-prometheus.yaml");
    const theirs = body("deploy/grafana/datasources/presence-prometheus.yaml");
    const diff = ours.flatMap((l, i) => (l === theirs[i] ? [] : [[l.trim(), theirs[i]?.trim()]]));
    expect(diff).toEqual([["url: http://localhost:9090", "url: http://prometheus:9090"]]);
    expect(Object.keys(services)).toContain("prometheus");
  });
});
