import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { renderSummary, SUMMARY_BEGIN, SUMMARY_END } from "../../bench/lib/readme-summary.js";
import { ROOT } from "../support/node-process.js";
import { commandsOf, docBlock, docBlocks } from "../support/readme-blocks.js";

/**
 * The README by audience stays true: every relative link and anchor of the README and the docs
 * pages resolves; every docs page is reachable from the README; every code block of the quick
 * starts is marked and run by a test; the benchmark summary is the one the results file gives.
 */
const read = (f: string) => readFileSync(join(ROOT, f), "utf8");
const README = read("README.md");
const PAGES = ["README.md", "CHANGELOG.md", "packages/client/README.md", "packages/react/README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = markdown.replace(/^```[\s\S]*?^```/gm, "");
  for (const m of text.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]!
      .trim()
      .toLowerCase()
      .replace(/`/g, "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative links (and images) of a page, outside code blocks. */
function links(markdown: string): string[] {
  const text = markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/i.test(l));
}

describe("README and docs", () => {
  it.each(PAGES)("%s: every relative link and anchor resolves", (page) => {
    const broken: string[] = [];
    for (const link of links(read(page))) {
      const [path, anchor] = link.split("#") as [string, string | undefined];
      const target = path === "" ? page : normalize(join(dirname(page), path));
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${link}: ${target} does not exist`);
        continue;
      }
      if (anchor !== undefined && target.endsWith(".md") && !anchors(read(target)).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${target}`);
    }
    expect(broken).toEqual([]);
  });

  it("the README links every docs page, the SDK's README, the Python client's, the licence and the changelog", () => {
    const linked = new Set(links(README).map((l) => l.split("#")[0]));
    const expected = [...PAGES.filter((p) => p.startsWith("docs/")), "packages/client/README.md", "clients/python/README.md", "LICENSE", "CHANGELOG.md"];
    expect(expected.filter((p) => !linked.has(p))).toEqual([]);
  });

  it("reads top-down by audience: quick start, a diagram, then one section per audience", () => {
    const sections = [...README.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual(["Quick start", "Where to go", "Browser app (React)", "Backend", "Operator", "Benchmarks", "Reference", "License"]);
    const top = README.slice(0, README.indexOf("## Where to go"));
    expect(top).toContain("```mermaid\nflowchart");
    expect(top.split("\n").length, "the top (what, why, the two commands, the diagram) stays short").toBeLessThan(100);
  });

  it("marks every code block of the quick starts, and a test runs each marked block", () => {
    const quickStarts = ["## Quick start", "## Browser app (React)", "## Backend"].map((h) => {
      const start = README.indexOf(h);
      return README.slice(start, README.indexOf("\n## ", start + 1));
    });
    for (const part of quickStarts) {
      const fences = [...part.matchAll(/^```(\w+)\n/gm)].filter((m) => m[1] !== "mermaid").length;
      const marked = [...part.matchAll(/<!-- test: [\w-]+[^>]*-->\s*\n```/g)].length;
      expect(marked, `${part.split("\n")[0]}: every code block is marked <!-- test: name -->`).toBe(fences);
    }
    const tests = readdirSync(join(ROOT, "test"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => read(join("test", f)))
      .join("\n");
    for (const block of docBlocks()) expect(tests, `no test runs the README block "${block.name}"`).toContain(`docBlock("${block.name}")`);
  });

  it("the test command is CI's: .ci/run installs and runs npm test", () => {
    expect(commandsOf(docBlock("quickstart-test"))).toEqual(["npm install && npm test"]);
    const ci = read(".ci/run");
    expect(ci).toMatch(/^npm install\b/m);
    expect(ci).toMatch(/PATH="\$prefix\$PATH" npm test$/m);
  });

  it("the benchmark summary is the one bench/README.md's results file gives, and the charts exist", () => {
    const bench = read("bench/README.md");
    const source = /`(bench\/results\/peers-[^`]+\.json)`/.exec(bench.slice(bench.indexOf("<!-- peers:begin -->")))?.[1];
    expect(source, "bench/README.md names its results file").toBeDefined();
    const summary = README.slice(README.indexOf(SUMMARY_BEGIN) + SUMMARY_BEGIN.length, README.indexOf(SUMMARY_END)).trim();
    expect(summary, "run: node --import tsx bench/readme-table.ts <results file>").toBe(renderSummary(JSON.parse(read(source!)), source!));
    const charts = [...README.matchAll(/!\[[^\]]*\]\((bench\/results\/charts\/[\w-]+\.svg)\)/g)].map((m) => m[1]!);
    expect(charts).toHaveLength(5);
    for (const c of charts) expect(read(c)).toMatch(/^<svg/);
  });
});
