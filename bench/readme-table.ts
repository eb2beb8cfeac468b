/**
 * Puts the tables of a peer-benchmark results file into bench/README.md, between the markers
 * `<!-- peers:begin -->` and `<!-- peers:end -->`, its headline figures into the README's summary
 * (bench/lib/readme-summary.ts), and re-renders the charts of that file into bench/results/charts/.
 *
 *   node --import tsx bench/readme-table.ts bench/results/peers-<date>.json
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { renderCharts, renderTables, type BenchResults } from "./lib/peer-report.js";
import { renderSummary, withSummary } from "./lib/readme-summary.js";

const file = process.argv[2];
if (!file) {
  console.error("usage: node --import tsx bench/readme-table.ts <bench/results/peers-*.json>");
  process.exit(2);
}
const results = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
const readme = new URL("./README.md", import.meta.url);
const text = readFileSync(readme, "utf8");
const begin = "<!-- peers:begin -->";
const end = "<!-- peers:end -->";
const i = text.indexOf(begin);
const j = text.indexOf(end);
if (i < 0 || j < i) throw new Error(`bench/README.md has no ${begin} … ${end} section`);
const source = path.relative(path.dirname(new URL(readme).pathname), path.resolve(file));
writeFileSync(readme, `${text.slice(0, i + begin.length)}\n${renderTables(results, `bench/${source}`)}\n${text.slice(j)}`);
const topReadme = new URL("../README.md", import.meta.url);
writeFileSync(topReadme, withSummary(readFileSync(topReadme, "utf8"), renderSummary(results, `bench/${source}`)));
const charts = new URL("./results/charts/", import.meta.url);
mkdirSync(charts, { recursive: true });
for (const [name, svg] of Object.entries(renderCharts(results))) writeFileSync(new URL(`${name}.svg`, charts), svg);
console.log(`bench/README.md and the README's summary updated from ${file}; charts in bench/results/charts/`);
