import { beforeAll, describe, expect, it } from "vitest";
import { importGraph, type ImportEdge } from "../../scripts/import-graph.js";

/*
 * The dependency rules of the design's layout (design §8, house style §3.1), checked on the import
 * graph that the TypeScript compiler and esbuild report (scripts/import-graph.ts), type-only
 * imports included. Tests, benchmarks and scripts may import anything; production files under src/,
 * packages/client/src and packages/react/src may not break these rules. A failure lists each offending import as
 * `importer → imported ("specifier as written")` with the rule it breaks.
 */

/** Which part of the layout a path belongs to. */
function layer(path: string): string {
  if (path.startsWith("node:")) return "node";
  if (path.startsWith("package:")) return "package";
  if (path.startsWith("gen/")) return "gen";
  if (path.startsWith("packages/client/src/")) return "client";
  if (path.startsWith("packages/react/src/")) return "react";
  if (path.startsWith("src/core/")) return "core";
  if (/^src\/store\/(memory|redis)\//.test(path)) return "store-impl";
  if (path.startsWith("src/store/")) return "store-port";
  if (path === "src/history/history-store.ts") return "history-port";
  if (path.startsWith("src/fanout/")) return "fanout";
  if (path.startsWith("src/service/")) return "service";
  // The HTTP layer (one-port server, CORS, client address, connection limits) serves both families.
  if (path.startsWith("src/transport/http/")) return "transport-shared";
  const t = /^src\/transport\/(\w+)\//.exec(path);
  if (t) return `transport:${t[1]}`;
  if (path.startsWith("src/transport/")) return "transport-shared";
  return path === "src/app.ts" ? "app" : "other";
}

interface Rule {
  name: string;
  /** True when the edge breaks the rule. */
  breaks: (from: string, to: string, edge: ImportEdge) => boolean;
}

/** The client SDK's public entry point: the React bindings import `@presence-platform/client`, nothing deeper. */
const CLIENT_ENTRY = "packages/client/src/index.ts";

const isTransport = (l: string) => l.startsWith("transport:") || l === "transport-shared";
const storeImplOf = (p: string) => /^src\/store\/(memory|redis)\//.exec(p)?.[1];

const RULES: Rule[] = [
  { name: "core imports nothing but core", breaks: (f, t) => f === "core" && t !== "core" },
  { name: "the store ports import only core", breaks: (f, t) => f === "store-port" && !["core", "store-port"].includes(t) },
  {
    name: "a store implementation imports core, the ports, its own files and packages",
    breaks: (f, t, e) => f === "store-impl" && !(["core", "store-port", "package", "node"].includes(t) || (t === "store-impl" && storeImplOf(e.from) === storeImplOf(e.to))),
  },
  { name: "fan-out imports core, the store ports and packages", breaks: (f, t) => f === "fanout" && !["core", "store-port", "fanout", "package", "node"].includes(t) },
  {
    name: "the service imports core, the store and history ports, fan-out and packages",
    breaks: (f, t) => f === "service" && !["core", "store-port", "history-port", "fanout", "service", "package", "node"].includes(t),
  },
  { name: "transports never import a store (port types live in core)", breaks: (f, t) => isTransport(f) && t.startsWith("store") },
  { name: "transports never import each other", breaks: (f, t) => f.startsWith("transport:") && t.startsWith("transport:") && f !== t },
  { name: "shared transport code (src/transport/*.ts, src/transport/http/) imports no transport family", breaks: (f, t) => f === "transport-shared" && t.startsWith("transport:") },
  { name: "only app.ts knows the store implementations", breaks: (f, t) => t === "store-impl" && f !== "store-impl" && f !== "app" },
  { name: "the client SDK imports only its own files, core, gen and packages", breaks: (f, t) => f === "client" && !["client", "core", "gen", "package"].includes(t) },
  {
    name: "the React bindings import only their own files, the client SDK's entry point and packages",
    breaks: (f, t, e) => f === "react" && !(["react", "package"].includes(t) || e.to === CLIENT_ENTRY),
  },
  { name: "generated code imports only generated code and packages", breaks: (f, t) => f === "gen" && !["gen", "package"].includes(t) },
];

const isProduction = (p: string) => /^(src|packages\/\w+\/src|gen)\//.test(p) && !/\.test\.tsx?$/.test(p);

function violations(graph: ImportEdge[]): string[] {
  const out: string[] = [];
  for (const e of graph) {
    if (!isProduction(e.from)) continue;
    for (const r of RULES) {
      if (r.breaks(layer(e.from), layer(e.to), e)) out.push(`${e.from} → ${e.to} ("${e.specifier}"): ${r.name}`);
    }
  }
  return [...new Set(out)].sort();
}

describe("import boundaries (design §8)", () => {
  let graph: ImportEdge[];
  beforeAll(async () => {
    graph = await importGraph(["src", "packages/client/src", "packages/react/src"]);
  }, 180_000);

  it("sees the whole program, type-only imports and Node built-ins included", () => {
    const has = (from: string, to: string) => graph.some((e) => e.from === from && e.to === to);
    expect(graph.length).toBeGreaterThan(300);
    expect(has("src/app.ts", "src/store/memory/memory-store.ts")).toBe(true);
    expect(has("src/app.ts", "node:crypto")).toBe(true);
    expect(has("packages/client/src/errors.ts", "src/core/error-policy.ts")).toBe(true);
    // `import type` only (erased before esbuild sees it): the compiler's graph has it.
    expect(has("src/transport/ws/ws-bridge-options.ts", "src/service/presence-service.ts")).toBe(true);
  });

  it("no production import breaks a rule", () => {
    expect(violations(graph)).toEqual([]);
  });

  it("reports a breaking import with the rule it breaks", () => {
    const edge = (from: string, to: string): ImportEdge => ({ from, to, specifier: "x" });
    expect(
      violations([
        edge("src/core/clock.ts", "node:timers"),
        edge("src/transport/ws/close-codes.ts", "src/transport/connect/to-connect-error.ts"),
        edge("src/transport/wire.ts", "src/store/presence-store.ts"),
        edge("src/fanout/fanout-hub.ts", "src/store/redis/keys.ts"),
        edge("packages/client/src/errors.ts", "src/config.ts"),
        edge("packages/react/src/status-dot.ts", "packages/client/src/last-seen.ts"),
        edge("packages/react/src/status-dot.ts", "packages/client/src/index.ts"),
        edge("src/store/redis/redis-store.ts", "src/store/memory/memory-store.ts"),
        edge("test/support/server.ts", "src/store/redis/keys.ts"),
        edge("src/app.ts", "src/store/redis/create-redis-store.ts"),
      ]),
    ).toEqual([
      'packages/client/src/errors.ts → src/config.ts ("x"): the client SDK imports only its own files, core, gen and packages',
      'packages/react/src/status-dot.ts → packages/client/src/last-seen.ts ("x"): the React bindings import only their own files, the client SDK\'s entry point and packages',
      'src/core/clock.ts → node:timers ("x"): core imports nothing but core',
      'src/fanout/fanout-hub.ts → src/store/redis/keys.ts ("x"): fan-out imports core, the store ports and packages',
      'src/fanout/fanout-hub.ts → src/store/redis/keys.ts ("x"): only app.ts knows the store implementations',
      'src/store/redis/redis-store.ts → src/store/memory/memory-store.ts ("x"): a store implementation imports core, the ports, its own files and packages',
      'src/transport/wire.ts → src/store/presence-store.ts ("x"): transports never import a store (port types live in core)',
      'src/transport/ws/close-codes.ts → src/transport/connect/to-connect-error.ts ("x"): transports never import each other',
    ]);
  });
});
