import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ALERT_RULES, ALERT_TESTS, loadDashboards, panelsOf, ROOT } from "../support/monitoring-assets.js";

/*
 * Static checks of the monitoring files (no server): every dashboard is valid JSON with the
 * `datasource` and `node` template variables, a stable unique uid, and panels that each have the
 * `${datasource}` datasource, a unit, a description and node-filtered queries; the provisioning
 * files point Grafana at them; `promtool check rules` accepts the alert rules and `promtool test
 * rules` proves each alert fires and stays silent when it should (prometheus/alerts.test.yml).
 */

const run = promisify(execFile);
const UIDS = ["presence-fanout", "presence-node", "presence-overview", "presence-redis"];

describe("Grafana dashboards", () => {
  const dashboards = loadDashboards();

  it("are the four expected dashboards, with stable unique uids", () => {
    expect(dashboards.map((d) => d.dashboard.uid).sort()).toEqual(UIDS);
    expect(dashboards.map((d) => d.file).sort()).toEqual(UIDS.map((u) => `${u}.json`));
  });

  it.each(dashboards.map((d) => [d.file, d.dashboard] as const))("%s is templated by datasource and node", (_file, d) => {
    const ds = d.templating.list.find((v) => v.name === "datasource");
    expect(ds).toMatchObject({ type: "datasource", query: "prometheus" });
    const node = d.templating.list.find((v) => v.name === "node");
    expect(node).toMatchObject({ type: "query", multi: true, includeAll: true });
  });

  it.each(dashboards.map((d) => [d.file, d.dashboard] as const))("%s: every panel has the datasource variable, a unit, a description and node-filtered queries", (_file, d) => {
    const panels = panelsOf(d);
    expect(panels.length).toBeGreaterThan(5);
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    const problems: string[] = [];
    for (const p of panels) {
      if (p.datasource?.uid !== "${datasource}" || p.datasource.type !== "prometheus") problems.push(`${p.title}: datasource must be { type: prometheus, uid: \${datasource} }`);
      if (!p.fieldConfig?.defaults?.unit) problems.push(`${p.title}: no unit`);
      if (!p.description || p.description.length < 20) problems.push(`${p.title}: no description`);
      if (!p.targets?.length) problems.push(`${p.title}: no queries`);
      for (const t of p.targets ?? []) {
        if (t.datasource?.uid !== "${datasource}") problems.push(`${p.title} ${t.refId}: target datasource must be \${datasource}`);
        if (!t.expr?.includes('instance=~"$node"')) problems.push(`${p.title} ${t.refId}: query not filtered by $node`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("Grafana provisioning", () => {
  const dir = path.join(ROOT, "grafana/provisioning");

  it("declares a Prometheus datasource and a file provider for grafana/dashboards", () => {
    const datasources = readdirSync(path.join(dir, "datasources")).filter((f) => f.endsWith(".yaml"));
    expect(datasources.length).toBeGreaterThan(0);
    const ds = readFileSync(path.join(dir, "datasources", datasources[0]!), "utf8");
    expect(ds).toMatch(/^apiVersion: 1$/m);
    expect(ds).toMatch(/^\s+type: prometheus$/m);
    const providers = readdirSync(path.join(dir, "dashboards")).filter((f) => f.endsWith(".yaml"));
    expect(providers.length).toBeGreaterThan(0);
    const pr = readFileSync(path.join(dir, "dashboards", providers[0]!), "utf8");
    expect(pr).toMatch(/^apiVersion: 1$/m);
    expect(pr).toMatch(/^\s+type: file$/m);
    expect(pr).toMatch(/^\s+path: \/\S+$/m);
  });
});

describe("Prometheus alert rules", () => {
  it("pass promtool check rules", async () => {
    const { stdout } = await run("promtool", ["check", "rules", ALERT_RULES]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("pass their unit tests (promtool test rules): each alert fires, and stays silent, when it should", async () => {
    const { stdout } = await run("promtool", ["test", "rules", path.basename(ALERT_TESTS)], { cwd: path.dirname(ALERT_TESTS) });
    expect(stdout).toContain("SUCCESS");
  });

  it("give every alert a for:, a severity, a summary, a description and a runbook", () => {
    const text = readFileSync(ALERT_RULES, "utf8");
    const alerts = text.split(/^\s+- alert: /m).slice(1);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const a of alerts) {
      const name = a.split("\n", 1)[0];
      for (const key of ["for:", "severity:", "summary:", "description:", "runbook:", "runbook_url:"]) {
        expect(a, `${name} lacks ${key}`).toContain(key);
      }
      expect(a, `${name}: severity`).toMatch(/severity: (critical|warning)/);
    }
  });

  it("link each alert to its own runbook section of docs/metrics.md, which lists every alert in its table", () => {
    const text = readFileSync(ALERT_RULES, "utf8");
    const doc = readFileSync(path.join(ROOT, "docs", "metrics.md"), "utf8");
    const sections = new Set([...doc.matchAll(/^#### (\w+)$/gm)].map((m) => m[1]!.toLowerCase()));
    const alerts = text.split(/^\s+- alert: /m).slice(1);
    for (const a of alerts) {
      const name = a.split("\n", 1)[0]!.trim();
      expect(/runbook_url: "([^"]+)"/.exec(a)?.[1], `${name}: runbook_url`).toBe(`docs/metrics.md#${name.toLowerCase()}`);
      expect(sections.has(name.toLowerCase()), `docs/metrics.md has a "#### ${name}" runbook section`).toBe(true);
      expect(doc, `docs/metrics.md's alerts table lists ${name}`).toContain(`| ${name} |`);
    }
    expect(sections.size, "no runbook section without an alert").toBe(alerts.length);
  });
});
