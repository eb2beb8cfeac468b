/**
 * The README's benchmark summary: the headline figures of each scenario of one peer-benchmark run
 * (us, Soketi, the Socket.IO baseline), between `<!-- bench-summary:begin -->` and
 * `<!-- bench-summary:end -->` in README.md. bench/readme-table.ts writes it with bench/README.md's
 * full tables from the same results file; test/docs/readme.test.ts keeps the two in step.
 */
import { METRICS, SERVER_LABELS, TITLES, type BenchResults, type ScenarioName } from "./peer-report.js";
import type { ServerKind } from "./peer-client.js";

export const SUMMARY_BEGIN = "<!-- bench-summary:begin -->";
export const SUMMARY_END = "<!-- bench-summary:end -->";

/** The figures the summary shows, per scenario (keys of METRICS). */
const HEADLINES: Record<ScenarioName, string[]> = {
  idle: ["connectionsPerGiB"],
  storm: ["convergenceSeconds"],
  churn: ["deliveriesPerSecond", "latencyP99Ms"],
  cursors: ["messagesPerSecond", "latencyP99Ms"],
  reconnect: ["convergenceAfterReadySeconds", "spuriousJoinsPerClient"],
};

const PEERS: ServerKind[] = ["soketi", "socketio"];

function value(r: BenchResults, s: ScenarioName, k: ServerKind, key: string): number | undefined {
  const f = r.scenarios[s]?.[k];
  const v = f && "metrics" in f ? f.metrics[key] : undefined;
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}

function format(v: number | undefined, digits: number, unit: string): string {
  if (v === undefined) return "–";
  const text = v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return unit === "" ? text : unit === "B" ? `${text} B` : `${text} ${unit.startsWith("%") ? "%" : unit}`;
}

/** us ÷ Soketi, measured in the same run ("lower"/"higher" in the row says which way is better). */
function ratio(us: number | undefined, peer: number | undefined): string {
  if (us === undefined || peer === undefined || peer === 0) return "–";
  const x = us / peer;
  return `${x.toLocaleString("en-US", { maximumSignificantDigits: x < 1 ? 2 : 3 })}×`;
}

/** The summary table of a results file (`source`: its path, for the caption). */
export function renderSummary(r: BenchResults, source: string): string {
  const ours: ServerKind = Object.values(r.scenarios).some((x) => x?.presence) ? "presence" : "presence-ws";
  const out = [
    `From the run of ${r.startedAt.slice(0, 10)} (\`${source}\`, ${r.options.full ? "full size" : "CI size"}, ${String(r.machine.cores)} cores, Node ${String(r.machine.node).replace(/^v/, "")}); every figure and the method: [bench/README.md](bench/README.md).`,
    "",
    `| scenario | figure | better | ${SERVER_LABELS[ours]} | ${PEERS.map((k) => SERVER_LABELS[k]).join(" | ")} | us / Soketi |`,
    `|---|---|---|---:|${PEERS.map(() => "---:").join("|")}|---:|`,
  ];
  for (const [s, keys] of Object.entries(HEADLINES) as [ScenarioName, string[]][]) {
    if (!r.scenarios[s]) continue;
    const title = TITLES[s](r.sizes).replace(/^\d+\. /, "");
    for (const key of keys) {
      const m = METRICS[s].find((x) => x.key === key);
      if (!m) throw new Error(`no metric ${key} in scenario ${s}`);
      const cells = [ours, ...PEERS].map((k) => format(value(r, s, k, key), m.digits, m.unit));
      out.push(`| ${title} | ${m.label} | ${m.better} | ${cells.join(" | ")} | ${ratio(value(r, s, ours, key), value(r, s, "soketi", key))} |`);
    }
  }
  return out.join("\n");
}

/** `text` with the part between the summary markers replaced. */
export function withSummary(text: string, summary: string): string {
  const i = text.indexOf(SUMMARY_BEGIN);
  const j = text.indexOf(SUMMARY_END);
  if (i < 0 || j < i) throw new Error(`README.md has no ${SUMMARY_BEGIN} … ${SUMMARY_END} section`);
  return `${text.slice(0, i + SUMMARY_BEGIN.length)}\n${summary}\n${text.slice(j)}`;
}
