/**
 * Where a server's live memory comes from: V8's sampling heap profiler through the inspector
 * (HeapProfiler.startSampling / getSamplingProfile). Objects the GC has collected leave the
 * profile, so after a forced GC it holds the allocations still alive, each charged to the stack that
 * allocated it. `summarizeHeap` turns the tree into the few figures a person reads: bytes per
 * allocating function and per source module (of our bundle, dist/main.js, mapped back to src/ by
 * esbuild's `// src/…` module comments), divided by the number of connections held.
 */
import { readFileSync } from "node:fs";
import type { Inspector } from "./inspector.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}
export interface SamplingHeapProfile {
  head: HeapNode;
}

/** One row of a summary: bytes live per connection charged to `site`. */
export interface HeapRow {
  site: string;
  bytesPerConnection: number;
}

export interface HeapSummary {
  /** Sampled live bytes per connection (the sampling estimate, not RSS). */
  totalPerConnection: number;
  /** By the allocating function (the innermost frame). */
  byFunction: HeapRow[];
  /** By the innermost frame in our own code (src/), library frames charged to their caller there. */
  byOwnSite: HeapRow[];
  /** By source module of that innermost own frame (or the library that allocated). */
  byModule: HeapRow[];
}

/** Starts sampling (one sample per `intervalBytes` allocated on average). */
export async function startHeapSampling(insp: Inspector, intervalBytes = 1024): Promise<void> {
  await insp.call("HeapProfiler.enable");
  await insp.call("HeapProfiler.startSampling", { samplingInterval: intervalBytes });
}

/** Forces a GC, reads the profile of what is still alive, stops sampling. */
export async function stopHeapSampling(insp: Inspector): Promise<SamplingHeapProfile> {
  for (let i = 0; i < 2; i++) await insp.call("HeapProfiler.collectGarbage");
  const { profile } = await insp.call<{ profile: SamplingHeapProfile }>("HeapProfiler.getSamplingProfile");
  await insp.call("HeapProfiler.stopSampling");
  return profile;
}

/** Maps a line of a bundle built by esbuild to the module it came from (its `// path` comments). */
function bundleModules(file: string): (line: number) => string | undefined {
  let lines: string[];
  try {
    lines = readFileSync(file, "utf8").split("\n");
  } catch {
    return () => undefined;
  }
  const starts: { line: number; module: string }[] = [];
  lines.forEach((l, i) => {
    const m = /^\/\/ ((?:src|gen|node_modules)\/\S+\.[jt]s)$/.exec(l);
    if (m) starts.push({ line: i, module: m[1]! });
  });
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found: string | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]!.line <= line) ((found = starts[mid]!.module), (lo = mid + 1));
      else hi = mid - 1;
    }
    return found;
  };
}

/** Summarizes a sampling profile taken while `connections` connections were held. */
export function summarizeHeap(p: SamplingHeapProfile, connections: number, top = 25): HeapSummary {
  const moduleOfBundle = new Map<string, (line: number) => string | undefined>();
  const where = (cf: CallFrame): { module: string; own: boolean } => {
    if (!cf.url) return { module: `(${cf.functionName || "native"})`, own: false };
    const path = cf.url.replace(/^file:\/\//, "");
    if (/\/dist\/main\.js$/.test(path)) {
      let f = moduleOfBundle.get(path);
      if (!f) moduleOfBundle.set(path, (f = bundleModules(path)));
      const m = f(cf.lineNumber) ?? "dist/main.js";
      return { module: m, own: m.startsWith("src/") };
    }
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    if (nm) return { module: `node_modules/${nm[1]}`, own: false };
    const src = /\/(src\/.*)$/.exec(path);
    if (src) return { module: src[1]!, own: true };
    return { module: path.replace(/^.*\//, ""), own: false };
  };
  const fn = new Map<string, number>();
  const own = new Map<string, number>();
  const mod = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  let total = 0;
  const walk = (n: HeapNode, ownSite: string | undefined, ownModule: string | undefined) => {
    const w = where(n.callFrame);
    const name = `${n.callFrame.functionName || "(anonymous)"} ${w.module}:${n.callFrame.lineNumber + 1}`;
    if (w.own) ((ownSite = name), (ownModule = w.module));
    if (n.selfSize > 0) {
      total += n.selfSize;
      add(fn, name, n.selfSize);
      add(own, ownSite ?? `(no own frame) ${name}`, n.selfSize);
      add(mod, ownModule ?? w.module, n.selfSize);
    }
    for (const c of n.children) walk(c, ownSite, ownModule);
  };
  walk(p.head, undefined, undefined);
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([site, bytes]) => ({ site, bytesPerConnection: Math.round(bytes / connections) }));
  return { totalPerConnection: Math.round(total / connections), byFunction: rows(fn), byOwnSite: rows(own), byModule: rows(mod) };
}
