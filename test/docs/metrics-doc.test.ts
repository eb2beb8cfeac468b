import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics/registry.js";
import { ALERT_RULES, ROOT } from "../support/monitoring-assets.js";

/*
 * docs/metrics.md is the metric catalogue: every presence_ metric family the registry exposes has a
 * row there, every presence_ metric the document names exists, every Node default metric is listed
 * in its group, and every alert of prometheus/alerts.yml has a runbook section.
 */

const doc = readFileSync(path.join(ROOT, "docs/metrics.md"), "utf8");

describe("docs/metrics.md", () => {
  it("documents every metric family of the registry, and only those", async () => {
    const families = (await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name);
    const own = families.filter((n) => n.startsWith("presence_"));
    const rows = new Set([...doc.matchAll(/^\| `(presence_\w+)` \|/gm)].map((m) => m[1]!));
    expect(own.filter((n) => !rows.has(n))).toEqual([]);
    const named = new Set([...doc.matchAll(/\bpresence_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, "")));
    expect([...named].filter((n) => !own.includes(n))).toEqual([]);
    // Node defaults are listed as a group, each by name.
    const defaults = families.filter((n) => !n.startsWith("presence_"));
    const listed = (n: string) => doc.includes(`\`${n}\``);
    expect(defaults.filter((n) => !listed(n))).toEqual([]);
  });

  it("has a runbook section for every alert", () => {
    const alerts = [...readFileSync(ALERT_RULES, "utf8").matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      expect(doc, a).toContain(`#### ${a}\n`);
      expect(readFileSync(ALERT_RULES, "utf8"), a).toContain(`docs/metrics.md#${a.toLowerCase()}`);
    }
  });
});
