/**
 * Builds what `npm start` and the `presence` bin run, into dist/:
 *
 * - `dist/main.js`: the server (src/main.ts), one ESM bundle with the generated code (gen/)
 *   included; npm packages stay external (resolved from node_modules at run time, so native ones
 *   such as uWebSockets.js load as installed), with a source map for stack traces;
 * - `dist/cli.js`: the admin CLI (src/cli/main.ts), run by bin/presence.mjs;
 * - `dist/pglite-worker.js`: the embedded history's PGlite thread (src/history/sql/pglite-worker.ts);
 * - `dist/lua/`: the Redis store's Lua scripts, read at run time next to the bundle
 *   (`new URL("./lua/", import.meta.url)` in src/store/redis/scripts.ts);
 * - `dist/demo/`: the demo page (scripts/build-demo.ts).
 *
 *   npm run build            (npm start runs it first)
 *   npm run build -- --no-demo
 *
 * Nothing runs TypeScript at run time: tsx is a development dependency only.
 */
import { build } from "esbuild";
import { cp, mkdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { buildDemo } from "./build-demo.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DIST = join(ROOT, "dist");

/** The oldest Node we run on (package.json `engines`), as an esbuild target. */
async function nodeTarget(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { engines?: { node?: string } };
  const major = /(\d+)/.exec(pkg.engines?.node ?? "")?.[1] ?? "20";
  return `node${major}`;
}

export async function buildServer(options: { outDir?: string; demo?: boolean } = {}): Promise<{ outDir: string; bytes: number; ms: number }> {
  const t0 = performance.now();
  const outDir = resolve(options.outDir ?? DIST);
  await mkdir(outDir, { recursive: true });
  const result = await build({
    // pglite-worker: the embedded history's thread, loaded by the server as ./pglite-worker.js next to main.js.
    entryPoints: { main: join(ROOT, "src", "main.ts"), cli: join(ROOT, "src", "cli", "main.ts"), "pglite-worker": join(ROOT, "src", "history", "sql", "pglite-worker.ts") },
    outdir: outDir,
    bundle: true,
    // No code splitting: each entry is one file, so `import.meta.url` inside it is dist/main.js or
    // dist/cli.js, and the paths read relative to it (lua/, demo/) stay where they are.
    format: "esm",
    platform: "node",
    target: await nodeTarget(),
    packages: "external",
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
  });
  await rm(join(outDir, "lua"), { recursive: true, force: true });
  await cp(join(ROOT, "src", "store", "redis", "lua"), join(outDir, "lua"), { recursive: true });
  if (options.demo ?? true) await buildDemo({ outDir: join(outDir, "demo") });
  const bytes = Object.entries(result.metafile.outputs).reduce((n, [f, o]) => n + (f.endsWith(".map") ? 0 : o.bytes), 0);
  return { outDir, bytes, ms: performance.now() - t0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { out: { type: "string" }, "no-demo": { type: "boolean" } } });
  const r = await buildServer({ outDir: values.out, demo: !values["no-demo"] });
  process.stdout.write(`built ${r.outDir}: server and CLI ${(r.bytes / 1024).toFixed(0)} KiB of JS${values["no-demo"] ? "" : ", demo page"} in ${(r.ms / 1000).toFixed(1)} s\n`);
}
