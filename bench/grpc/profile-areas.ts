/**
 * Where the server's busy CPU goes, by area, from a V8 CPU profile: each sample's self time is
 * charged to the area of its leaf frame (our src/ by top folder, connect, jose, pino, Node's http2
 * and streams, GC, …). Idle samples are left out, so the shares are of busy time and do not depend
 * on how much other jobs on a shared box starved the server.
 */
import type { CpuProfile } from "../lib/inspector.js";

const AREAS: [RegExp, string][] = [
  [/\/src\/([a-z-]+)\//, "src/$1"],
  [/@connectrpc\//, "connect"],
  [/\/jose\//, "jose (JWT)"],
  [/\/(pino|@pinojs)\//, "pino"],
  [/\/@bufbuild\//, "protobuf-es"],
  [/node:internal\/http2\//, "node http2"],
  [/node:internal\/(streams|stream_base)/, "node streams"],
  [/node:internal\/crypto\//, "node crypto"],
  [/node:internal\/(abort_controller|per_context\/domexception|event_target)/, "AbortSignal / DOMException"],
  [/node:internal\/deps\/undici/, "Headers (undici)"],
  [/^node:/, "node (other)"],
  [/^$/, "V8 builtins (microtasks, promises)"],
];

export function profileAreas(p: CpuProfile): { area: string; busyPercent: number }[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const t = new Map<string, number>();
  let busy = 0;
  p.samples.forEach((id, i) => {
    const cf = byId.get(id)?.callFrame;
    const name = cf?.functionName ?? "";
    if (name === "(idle)") return;
    // The first delta is the profiler's start-up, not a sample of the load (issue 16).
    const dt = i === 0 ? 0 : (p.timeDeltas[i] ?? 0);
    busy += dt;
    let area = name === "(garbage collector)" ? "GC" : name === "(program)" ? "(program: native, unattributed)" : "other";
    for (const [re, label] of area === "other" ? AREAS : []) {
      const m = re.exec(cf?.url ?? "");
      if (m) {
        area = label.replace("$1", m[1] ?? "");
        break;
      }
    }
    t.set(area, (t.get(area) ?? 0) + dt);
  });
  return [...t.entries()].sort((a, b) => b[1] - a[1]).map(([area, v]) => ({ area, busyPercent: (100 * v) / Math.max(1, busy) }));
}

/** `top` without the idle entry, rescaled to % of busy samples. */
export function busyOnly(top: { fn: string; selfPercent: number }[]): { fn: string; busyPercent: number }[] {
  const idle = top.find((x) => x.fn === "(idle)")?.selfPercent ?? 0;
  return top.filter((x) => x.fn !== "(idle)").map((x) => ({ fn: x.fn, busyPercent: (100 * x.selfPercent) / Math.max(1e-9, 100 - idle) }));
}
