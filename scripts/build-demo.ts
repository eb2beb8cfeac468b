/**
 * Builds the demo page served by the WebSocket bridge (`GET /`, `GET /app.js`):
 * `demo/app.tsx` bundled with esbuild (React included, minified, no external resources) into
 * `dist/demo/app.js`, next to a copy of `demo/index.html`.
 *
 *   npm run build:demo            (also run by `npm start` through `prestart`)
 *   npm run build:demo -- --out some/dir
 */
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DEFAULT_DEMO_OUT = join(ROOT, "dist", "demo");

export async function buildDemo(options: { outDir?: string; minify?: boolean } = {}): Promise<{ outDir: string; bytes: number }> {
  const outDir = resolve(options.outDir ?? DEFAULT_DEMO_OUT);
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(ROOT, "demo", "app.tsx")],
    outfile: join(outDir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: "none",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
    metafile: true,
  });
  await copyFile(join(ROOT, "demo", "index.html"), join(outDir, "index.html"));
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { outDir, bytes };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const { outDir, bytes } = await buildDemo({ outDir: values.out });
  process.stdout.write(`demo built: ${outDir} (app.js ${(bytes / 1024).toFixed(0)} KiB)\n`);
}
