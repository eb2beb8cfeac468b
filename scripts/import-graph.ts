import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { isBuiltin } from "node:module";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/**
 * The import graph of the project as two real tools see it, for the boundary check
 * (test/architecture/import-boundaries.test.ts):
 *
 * - the TypeScript compiler itself (`tsc --explainFiles`): every import it resolves, type-only
 *   ones included, exactly as the build resolves them. TypeScript 7 is the native compiler and has
 *   no JavaScript API, and dependency-cruiser 18 (the tool that would do this) refuses both Node 20
 *   and TypeScript 7, so the compiler's own explanation of why each file is in the program is read;
 * - esbuild's metafile (already a dev dependency, for the demo bundle): every runtime import,
 *   including Node built-ins (`node:crypto`), which resolve to ambient declarations and so never
 *   appear in the compiler's file list.
 *
 * Edges are deduplicated; paths are relative to the repository root with `/` separators.
 */

export interface ImportEdge {
  /** The importing file. */
  from: string;
  /** The imported file, or `package:<name>` / `node:<module>` for what is not a project file. */
  to: string;
  /** The specifier as written. */
  specifier: string;
}

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Imports seen by the TypeScript compiler (`tsc --noEmit --explainFiles`). */
export function compilerImports(root = ROOT): ImportEdge[] {
  let out: string;
  try {
    out = execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit", "--explainFiles", "-p", "tsconfig.json"], { cwd: root, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  } catch (e) {
    // Type errors make tsc exit 1; its explanation is still complete (and `npm test` reports the errors).
    out = String((e as { stdout?: string }).stdout ?? "");
  }
  const edges: ImportEdge[] = [];
  let file = "";
  for (const line of out.split("\n")) {
    if (line !== "" && !line.startsWith(" ")) file = line.trim();
    const m = /^\s+Imported via (["'])(.*?)\1 from file '(.*?)'/.exec(line);
    if (m && file) edges.push({ from: m[3]!, to: classify(file), specifier: m[2]! });
  }
  if (edges.length === 0) throw new Error(`tsc --explainFiles reported no imports:\n${out.slice(0, 2_000)}`);
  return edges;
}

/** Imports seen by esbuild when it bundles every non-test file of `dirs`, with packages left external. */
export async function runtimeImports(dirs: string[], root = ROOT): Promise<ImportEdge[]> {
  const entryPoints = dirs.flatMap((d) =>
    readdirSync(`${root}/${d}`, { recursive: true, encoding: "utf8" })
      .filter((f) => /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f) && !f.endsWith(".d.ts"))
      .map((f) => `${d}/${f}`),
  );
  const r = await build({ absWorkingDir: root, entryPoints, bundle: true, metafile: true, write: false, platform: "node", format: "esm", packages: "external", outdir: "out", logLevel: "silent" });
  return Object.entries(r.metafile.inputs).flatMap(([from, input]) =>
    input.imports.map((i) => ({ from, to: i.external ? classify(i.path) : i.path, specifier: i.original ?? i.path })),
  );
}

/** Both graphs, deduplicated. */
export async function importGraph(dirs: string[], root = ROOT): Promise<ImportEdge[]> {
  const seen = new Map<string, ImportEdge>();
  for (const e of [...compilerImports(root), ...(await runtimeImports(dirs, root))]) seen.set(`${e.from}\0${e.to}`, e);
  return [...seen.values()];
}

/** A project file stays a path; `node_modules/<pkg>/…` becomes `package:<pkg>`, a built-in `node:<name>`. */
function classify(path: string): string {
  const p = path.startsWith("/") ? relative(ROOT, path) : path;
  if (isBuiltin(p)) return p.startsWith("node:") ? p : `node:${p}`;
  const nm = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(p);
  if (nm) return nm[1] === "@types/node" ? "node:*" : `package:${nm[1]}`;
  if (/^(src|packages|gen|test|bench|scripts|demo|vendor)\//.test(p)) return p;
  return `package:${p.split("/").slice(0, p.startsWith("@") ? 2 : 1).join("/")}`;
}
