/**
 * A minimal Chrome DevTools Protocol client for a server started with `--inspect`: lets a benchmark
 * force a GC before reading RSS, read the JS heap and take CPU profiles of any Node server (ours
 * or a peer) the same way.
 */
import WebSocket from "ws";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Inspector {
  call<T = unknown>(method: string, params?: object): Promise<T>;
  close(): void;
}

export async function connectInspector(port: number): Promise<Inspector> {
  let url: string | undefined;
  for (let i = 0; i < 50 && !url; i++) {
    try {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl?: string }[];
      url = list[0]?.webSocketDebuggerUrl;
    } catch {
      await sleep(100);
    }
  }
  if (!url) throw new Error(`server inspector on port ${port} not reachable`);
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  ws.on("message", (data) => {
    const m = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return;
    pending.delete(m.id!);
    if (m.error) p.reject(new Error(m.error.message));
    else p.resolve(m.result);
  });
  ws.on("close", () => {
    for (const p of pending.values()) p.reject(new Error("inspector connection closed"));
    pending.clear();
  });
  return {
    call<T>(method: string, params?: object) {
      // Bounded: a benchmark must report, never hang on a server that stopped answering.
      return new Promise<T>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`inspector: ${method} not answered in 60 s`));
        }, 60_000);
        const done = (f: () => void) => (clearTimeout(timer), f());
        pending.set(id, { resolve: (v) => done(() => resolve(v as T)), reject: (e) => done(() => reject(e)) });
        if (ws.readyState !== WebSocket.OPEN) {
          pending.delete(id);
          return done(() => reject(new Error(`inspector: ${method} on a closed connection`)));
        }
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => ws.close(),
  };
}

export async function serverHeapUsed(insp: Inspector): Promise<number> {
  const r = await insp.call<{ result: { value: string } }>("Runtime.evaluate", {
    expression: "JSON.stringify(process.memoryUsage())",
    returnByValue: true,
  });
  return (JSON.parse(r.result.value) as { heapUsed: number }).heapUsed;
}

export async function serverGc(insp: Inspector): Promise<void> {
  for (let i = 0; i < 2; i++) await insp.call("HeapProfiler.collectGarbage");
}

/** Sum of every sample of each metric family named in `names` (labels summed), from GET /metrics. */

/** A V8 CPU profile as returned by `Profiler.stop`. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Starts the sampling profiler (200 µs interval). */
export async function startProfile(insp: Inspector): Promise<void> {
  await insp.call("Profiler.enable");
  await insp.call("Profiler.setSamplingInterval", { interval: 200 });
  await insp.call("Profiler.start");
}

/** Stops the profiler and returns the profile. */
export async function stopProfile(insp: Inspector): Promise<CpuProfile> {
  const { profile } = await insp.call<{ profile: CpuProfile }>("Profiler.stop");
  return profile;
}

/** The `n` functions with the most self time, in % of all samples. */
export function topFunctions(p: CpuProfile, n: number): { fn: string; selfPercent: number }[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    // The first delta is the time from Profiler.start to the first sample (the profiler's own
    // start-up), charged to whatever ran then: it is not a sample of the load.
    const dt = i === 0 ? 0 : (p.timeDeltas[i] ?? 0);
    const cf = byId.get(id)?.callFrame;
    // tsx-compiled sources report line 0: show the file only.
    const where = cf?.url ? `${cf.url.replace(/^.*\/(src|node_modules)\//, "$1/")}${cf.lineNumber > 0 ? `:${cf.lineNumber + 1}` : ""}` : "";
    const key = `${cf?.functionName || "(anonymous)"} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, t]) => ({ fn, selfPercent: (100 * t) / total }));
}
