/**
 * Report of the peer benchmark (bench/run.ts): the results file's shape, the headline metrics of
 * each scenario, Markdown tables with ratios us / peer (measured in the same run), and one SVG bar
 * chart per scenario, written by hand (no chart dependency). bench/readme-table.ts uses the same
 * functions to put the tables of a results file into bench/README.md.
 */
import type { ServerKind } from "./peer-client.js";

export const SCENARIOS = ["idle", "storm", "churn", "cursors", "reconnect"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ServerFigures {
  metrics: Record<string, number>;
  detail: Record<string, unknown>;
  generator: {
    cpuPercent: number;
    maxProcessPercent: number;
    share: number;
    processes: number;
    /** Whole machine busy (% of a core, 200 = both cores), and what other processes than server and generators used of it. */
    machineBusyPercent?: number;
    otherProcessesPercent?: number;
  };
}

export interface BenchResults {
  benchmark: "peers";
  startedAt: string;
  finishedAt?: string;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  sizes: Record<string, number>;
  pinning: { server: string; generatorsAndRedis: string } | null;
  scenarios: Partial<Record<ScenarioName, Partial<Record<ServerKind, ServerFigures | { error: string }>>>>;
  grpc: {
    rows: Array<{ metric: string; unit: string; grpc: number | null; connect: number | null }>;
    /** Ours against the bare frameworks measured in the same run (absent in results before issue 16). */
    ratios?: Array<{ metric: string; unit: string; ours: number; reference: number; referenceName: string; ratio: number; goal: number | null }>;
    notes: string[];
    generatorCpuShare: number | null;
  } | null;
  notes: string[];
}

interface MetricDef {
  key: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  digits: number;
}

export const TITLES: Record<ScenarioName, (s: Record<string, number>) => string> = {
  idle: (s) => `1. Idle connections: ${n(s.idle!)} clients joined to rooms of 10`,
  storm: (s) => `2. Join storm: ${n(s.storm!)} clients join one room within 1 s`,
  churn: (s) => `3. Churn: ${n(s.churnMembers!)} watching members, ${s.churnOpsPerS} joins/leaves per s + ${s.typers} typers at ${s.typingHz} Hz`,
  cursors: (s) => `4. Cursor storm: ${s.cursorClients} clients in one room at ${s.cursorHz} Hz`,
  reconnect: (s) => `5. Reconnect storm: ${n(s.reconnect!)} clients in rooms of 10, server restart (Redis-backed)`,
};

export const METRICS: Record<ScenarioName, MetricDef[]> = {
  idle: [
    { key: "memoryPerConnection", label: "memory / connection (RSS + ½ kernel socket objects)", unit: "B", better: "lower", digits: 0 },
    { key: "connectionsPerGiB", label: "connections / GiB", unit: "", better: "higher", digits: 0 },
    { key: "rssPerConnection", label: "server RSS / connection", unit: "B", better: "lower", digits: 0 },
    { key: "idleCpuPercent", label: "idle CPU", unit: "% of a core", better: "lower", digits: 2 },
  ],
  storm: [
    { key: "convergenceSeconds", label: "time until every view holds all members", unit: "s", better: "lower", digits: 2 },
    { key: "serverCpuSeconds", label: "server CPU", unit: "s", better: "lower", digits: 2 },
    { key: "messagesPerClient", label: "messages sent per client", unit: "", better: "lower", digits: 1 },
  ],
  churn: [
    { key: "mutationsPerSecond", label: "joins + leaves + typing changes sent / s", unit: "", better: "higher", digits: 0 },
    { key: "deliveriesPerSecond", label: "deliveries / s", unit: "", better: "higher", digits: 0 },
    { key: "latencyP50Ms", label: "join latency p50", unit: "ms", better: "lower", digits: 1 },
    { key: "latencyP99Ms", label: "join latency p99", unit: "ms", better: "lower", digits: 1 },
    { key: "latencyP999Ms", label: "join latency p999", unit: "ms", better: "lower", digits: 1 },
    { key: "serverCpuPercent", label: "server CPU", unit: "% of a core", better: "lower", digits: 0 },
  ],
  cursors: [
    { key: "deliveriesPerSecond", label: "cursor positions delivered / s", unit: "", better: "higher", digits: 0 },
    { key: "messagesPerSecond", label: "messages received / s", unit: "", better: "lower", digits: 0 },
    { key: "latencyP50Ms", label: "latency p50", unit: "ms", better: "lower", digits: 1 },
    { key: "latencyP99Ms", label: "latency p99", unit: "ms", better: "lower", digits: 1 },
    { key: "serverCpuPercent", label: "server CPU", unit: "% of a core", better: "lower", digits: 0 },
  ],
  reconnect: [
    { key: "convergenceAfterReadySeconds", label: "views equal the truth, after the new server is ready", unit: "s", better: "lower", digits: 2 },
    { key: "convergenceAfterSigtermSeconds", label: "same, after SIGTERM", unit: "s", better: "lower", digits: 2 },
    { key: "spuriousJoinsPerClient", label: "spurious join events / client", unit: "", better: "lower", digits: 2 },
    { key: "spuriousLeavesPerClient", label: "spurious leave events / client", unit: "", better: "lower", digits: 2 },
  ],
};

export const SERVER_LABELS: Record<ServerKind, string> = { presence: "us (uWS engine)", "presence-ws": "us (ws engine)", soketi: "Soketi 1.6.1", socketio: "Socket.IO baseline (ours)" };
const COLORS: Record<ServerKind, string> = { presence: "#2f6fdf", "presence-ws": "#8fb3f0", soketi: "#e07b39", socketio: "#6a9f58" };
/** Columns in this order; ratios are the first one (us on uWS) over each peer. Runs without a kind show "n/a". */
const KINDS: ServerKind[] = ["presence", "presence-ws", "soketi", "socketio"];

function n(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";
}

const figures = (r: BenchResults, s: ScenarioName, k: ServerKind): ServerFigures | undefined => {
  const f = r.scenarios[s]?.[k];
  return f && "metrics" in f ? f : undefined;
};

/** us / peer; for "lower is better" metrics a ratio < 1 means we are ahead. */
function ratio(us: number | undefined, peer: number | undefined): string {
  if (us === undefined || peer === undefined || !Number.isFinite(us) || !Number.isFinite(peer) || peer === 0) return "n/a";
  const x = us / peer;
  return x >= 10 ? `${n(x, 0)}×` : x >= 0.1 ? `${n(x, 2)}×` : `${n(x, 3)}×`;
}

/** Markdown: one table per scenario (value per server, ratios us / Soketi and us / Socket.IO), the generator's CPU, then the gRPC table. */
export function renderTables(r: BenchResults, source: string): string {
  const out: string[] = [];
  out.push(`Run of ${r.startedAt} (\`${source}\`), ${String(r.machine.cores)} cores, ${String(r.machine.node)}; ${r.pinning ? `server on CPU ${r.pinning.server}, generators and Redis on CPU ${r.pinning.generatorsAndRedis} (taskset)` : "no pinning"}. Ratios are us / peer from this run; "lower"/"higher" says which way is better.`);
  for (const s of SCENARIOS) {
    if (!r.scenarios[s]) continue;
    out.push("", `**${TITLES[s](r.sizes)}**`, "");
    out.push(`| metric | better | ${KINDS.map((k) => SERVER_LABELS[k]).join(" | ")} | us / Soketi | us / Socket.IO |`);
    out.push(`|---|---|${KINDS.map(() => "---:").join("|")}|---:|---:|`);
    for (const m of METRICS[s]) {
      const v = KINDS.map((k) => figures(r, s, k)?.metrics[m.key]);
      // A server that did not converge within the scenario's bound shows "> bound" (and ratios "< x").
      const bound = KINDS.map((k, i) => {
        const d = figures(r, s, k)?.detail;
        if (!d || !m.key.startsWith("convergence") || Number.isFinite(v[i] ?? NaN)) return undefined;
        const t = d.timedOutAfterSeconds;
        return typeof t === "number" ? t : typeof d.converged === "number" && typeof d.clients === "number" && d.converged < d.clients ? Infinity : undefined;
      });
      const bounded = (i: number) => (Number.isFinite(bound[i]!) ? `> ${n(bound[i]!)} s (did not converge)` : "did not converge");
      // "us" is the uWS engine where it ran, else the ws engine (Node versions without a uWS build).
      const u = figures(r, s, "presence") ? 0 : 1;
      const ratioCell = (i: number) =>
        bound[i] !== undefined && Number.isFinite(bound[i]!) && bound[u] === undefined && v[u] !== undefined && Number.isFinite(v[u]) ? `< ${n(v[u] / bound[i]!, 3)}×` : ratio(v[u], v[i]);
      const cells = KINDS.map((k, i) => {
        const f = r.scenarios[s]?.[k];
        if (f && "error" in f) return "failed";
        if (bound[i] !== undefined) return bounded(i);
        return v[i] === undefined ? "–" : `${n(v[i]!, m.digits)}${m.unit && m.unit !== "B" ? ` ${m.unit.startsWith("%") ? "%" : m.unit}` : m.unit === "B" ? " B" : ""}`;
      });
      out.push(`| ${m.label}${m.unit.startsWith("%") ? " (% of a core)" : ""} | ${m.better} | ${cells.join(" | ")} | ${ratioCell(KINDS.indexOf("soketi"))} | ${ratioCell(KINDS.indexOf("socketio"))} |`);
    }
    const gen = KINDS.map((k) => figures(r, s, k)?.generator).map((g) => (g && Number.isFinite(g.cpuPercent) ? `${n(g.cpuPercent)}% (max ${n(g.maxProcessPercent)}% per process)` : "–"));
    out.push(`| generator CPU (% of a core) | – | ${gen.join(" | ")} | | |`);
    const other = KINDS.map((k) => figures(r, s, k)?.generator).map((g) => (g && g.otherProcessesPercent !== undefined && Number.isFinite(g.otherProcessesPercent) ? `${n(g.otherProcessesPercent)}%` : "–"));
    if (other.some((x) => x !== "–")) out.push(`| other processes on the box (% of a core) | – | ${other.join(" | ")} | | |`);
  }
  if (r.grpc) {
    out.push("", "**6. gRPC side (us only: grpc-js and Connect clients against our server)**", "", "| metric | unit | gRPC (grpc-js) | Connect |", "|---|---|---:|---:|");
    for (const row of r.grpc.rows) out.push(`| ${row.metric} | ${row.unit} | ${row.grpc === null ? "–" : n(row.grpc, row.grpc < 10 ? 2 : 0)} | ${row.connect === null ? "–" : n(row.connect, row.connect < 10 ? 2 : 0)} |`);
    if (r.grpc.ratios?.length) {
      out.push("", "**6. gRPC side against the bare frameworks (bench/grpc/bare-server.ts, same run, same load)**", "", "| figure | unit | us | reference | reference is | us / reference | goal |", "|---|---|---:|---:|---|---:|---|");
      for (const x of r.grpc.ratios) out.push(`| ${x.metric} | ${x.unit} | ${n(x.ours)} | ${n(x.reference)} | ${x.referenceName} | ${n(x.ratio, 2)}× | ${x.goal === null ? "–" : `≤ ${x.goal}×: ${x.ratio <= x.goal ? "met" : "missed"}`} |`);
    }
    if (r.grpc.generatorCpuShare !== null) out.push("", `Generator CPU share: ${n(100 * r.grpc.generatorCpuShare)}%.`);
    for (const note of r.grpc.notes) out.push(`- ${note}`);
  }
  for (const note of r.notes) out.push("", `Note: ${note}`);
  return out.join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** One SVG per scenario: a panel per metric with one bar per server (each panel on its own scale). */
export function renderCharts(r: BenchResults): Record<string, string> {
  const charts: Record<string, string> = {};
  for (const s of SCENARIOS) {
    if (!r.scenarios[s]) continue;
    const metrics = METRICS[s];
    const pw = 220;
    const ph = 190;
    const top = 50;
    const width = pw * metrics.length + 20;
    const height = top + ph + 40;
    const parts: string[] = [];
    parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
    parts.push(`<rect width="100%" height="100%" fill="white"/>`);
    parts.push(`<text x="10" y="18" font-size="14" font-weight="bold">${esc(TITLES[s](r.sizes))}</text>`);
    KINDS.forEach((k, i) => {
      parts.push(`<rect x="${10 + i * 165}" y="28" width="10" height="10" fill="${COLORS[k]}"/><text x="${24 + i * 165}" y="37">${esc(SERVER_LABELS[k])}</text>`);
    });
    metrics.forEach((m, mi) => {
      const x0 = 10 + mi * pw;
      const vals = KINDS.map((k) => figures(r, s, k)?.metrics[m.key]);
      const max = Math.max(1e-12, ...vals.filter((v): v is number => v !== undefined && Number.isFinite(v)));
      const barW = 34;
      const base = top + ph - 30;
      parts.push(`<text x="${x0 + pw / 2 - 10}" y="${top + 8}" text-anchor="middle" font-weight="bold">${esc(m.label.length > 34 ? m.label.slice(0, 33) + "…" : m.label)}</text>`);
      parts.push(`<text x="${x0 + pw / 2 - 10}" y="${top + 21}" text-anchor="middle" fill="#555">${esc(`${m.unit ? m.unit + ", " : ""}${m.better} is better`)}</text>`);
      parts.push(`<line x1="${x0}" y1="${base}" x2="${x0 + pw - 20}" y2="${base}" stroke="#999"/>`);
      vals.forEach((v, i) => {
        const bx = x0 + 12 + i * (barW + 10);
        if (v === undefined || !Number.isFinite(v)) {
          parts.push(`<text x="${bx + barW / 2}" y="${base - 4}" text-anchor="middle" fill="#999">n/a</text>`);
          return;
        }
        const h = Math.max(1, ((base - top - 40) * v) / max);
        parts.push(`<rect x="${bx}" y="${base - h}" width="${barW}" height="${h}" fill="${COLORS[KINDS[i]!]}"/>`);
        parts.push(`<text x="${bx + barW / 2}" y="${base - h - 3}" text-anchor="middle">${esc(n(v, m.digits))}</text>`);
      });
    });
    parts.push(`<text x="10" y="${height - 8}" fill="#555">${esc(`bench/run.ts, ${r.startedAt}; ratios in bench/README.md`)}</text>`);
    parts.push(`</svg>`);
    charts[s] = parts.join("\n") + "\n";
  }
  return charts;
}
