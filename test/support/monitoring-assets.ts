/**
 * The monitoring files of the repository as tests see them: the Grafana dashboards
 * (`grafana/dashboards/*.json`) with every PromQL expression of every panel, ready to send to
 * Prometheus (Grafana's variables replaced: `$node` by `.+`, the interval variables by `1m`), and
 * the paths of the Prometheus rule files.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DASHBOARD_DIR = path.join(ROOT, "grafana/dashboards");
export const ALERT_RULES = path.join(ROOT, "prometheus/alerts.yml");
export const ALERT_TESTS = path.join(ROOT, "prometheus/alerts.test.yml");

/** The parts of a Grafana dashboard the tests look at. */
export interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query?: unknown; multi?: boolean; includeAll?: boolean }[] };
  panels: Panel[];
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: { refId: string; expr?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

/** Every dashboard file, parsed (throws with the file name when one is not valid JSON). */
export function loadDashboards(): { file: string; dashboard: Dashboard }[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => {
      const text = readFileSync(path.join(DASHBOARD_DIR, file), "utf8");
      try {
        return { file, dashboard: JSON.parse(text) as Dashboard };
      } catch (e) {
        throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
      }
    });
}

/** Panels of a dashboard, including those nested in collapsed rows; row panels themselves excluded. */
export function panelsOf(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => (p.type === "row" ? (p.panels ?? []) : [p]));
}

/** Replaces Grafana's variables with values Prometheus accepts: every node, a 1-minute window. */
export function toPromQL(expr: string): string {
  return expr
    .replace(/\$\{node(?::[a-z]+)?\}|\[\[node\]\]|\$node\b/g, ".+")
    .replace(/\$\{?__(rate_interval|interval|range)\}?/g, "1m");
}

/** One query of one panel, labelled for failure messages. */
export interface PanelQuery {
  where: string;
  expr: string;
}

/** Every panel target's expression (converted by {@link toPromQL}), plus each `label_values(metric, label)` variable's metric. */
export function dashboardQueries(): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const { file, dashboard } of loadDashboards()) {
    for (const p of panelsOf(dashboard)) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `${file} › "${p.title}" › ${t.refId}`, expr: toPromQL(t.expr) });
    }
    for (const v of dashboard.templating.list) {
      const q = typeof v.query === "string" ? v.query : (v.query as { query?: string } | undefined)?.query;
      const m = q?.match(/^label_values\((.+),\s*(\w+)\)$/);
      if (m) out.push({ where: `${file} › variable ${v.name}`, expr: toPromQL(m[1]!) });
    }
  }
  return out;
}

/**
 * An alert expression without its trailing threshold (`expr > 0.5` → `expr`): alert expressions are
 * empty while healthy, so the test checks the full expression for validity and this one for data.
 */
export function withoutThreshold(expr: string): string {
  return expr.replace(/\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/, "").trim();
}
