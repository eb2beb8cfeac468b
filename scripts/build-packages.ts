/**
 * Builds the SDK packages (npm workspaces under packages/) into their `dist/`:
 *
 * - `dist/index.js`: one ESM bundle of the package's sources (esbuild), with the pure core modules
 *   and generated protobuf code the client shares with the server (src/core, gen/) bundled in, so
 *   the SDK depends on no server package; the package's own dependencies and peer dependencies
 *   stay external (the React bindings import `@presence-platform/client` and `react`); the React
 *   bindings' files begin with the `"use client"` directive;
 * - `dist/index.d.ts` and the declarations it imports: emitted by the TypeScript compiler with
 *   packages/tsconfig.json (strict, exactOptionalPropertyTypes, no Node types); declarations of the
 *   shared core and generated code move to `dist/internal/` with their import paths rewritten;
 * - `LICENSE`: a copy of the repository's, for the tarball.
 *
 *   npm run build:packages            (both; `npm pack -w <package>` runs it through `prepack`)
 *   npm run build:packages -- client
 */
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export const PACKAGES = ["client", "react"] as const;
export type PackageName = (typeof PACKAGES)[number];

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/**
 * Where the declarations of files outside a package's own src/ go inside its dist/ (repository
 * path prefix → dist path prefix): the client bundles the shared core and generated code; the
 * React bindings reach them only through `@presence-platform/client`.
 */
const SHARED_DECLARATIONS: Record<PackageName, [from: string, to: string][]> = {
  client: [
    ["src/core/", "internal/core/"],
    ["gen/", "internal/gen/"],
  ],
  react: [],
};

/** Entry points (src/<name>.ts → dist/<name>.js), one per `exports` path of the package. */
const ENTRIES: Record<PackageName, string[]> = {
  client: ["index", "proto"],
  react: ["index"],
};

export function packageDir(name: PackageName): string {
  return join(ROOT, "packages", name);
}

async function manifest(name: PackageName): Promise<Manifest> {
  return JSON.parse(await readFile(join(packageDir(name), "package.json"), "utf8")) as Manifest;
}

/**
 * The JavaScript bundles: the package's sources and the shared core/gen modules, its dependencies
 * external; code that several entry points share goes to `dist/chunks/` once.
 */
async function bundle(name: PackageName, m: Manifest): Promise<number> {
  const deps = Object.keys({ ...m.dependencies, ...m.peerDependencies });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES[name].map((e) => join(packageDir(name), "src", `${e}.ts`)),
    outdir: join(packageDir(name), "dist"),
    bundle: true,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    format: "esm",
    // Browsers and Node alike: no Node built-ins (the import-boundary test holds the sources to it).
    platform: "neutral",
    target: "es2022",
    external: deps.flatMap((d) => [d, `${d}/*`]),
    sourcemap: "linked",
    legalComments: "none",
    // The React bindings are hooks and components with state: React Server Components frameworks
    // (Next.js' app router) render them on the client only when the module says so.
    ...(name === "react" ? { banner: { js: '"use client";' } } : {}),
    logLevel: "warning",
    metafile: true,
  });
  return Object.entries(result.metafile.outputs).reduce((n, [f, o]) => n + (f.endsWith(".map") ? 0 : o.bytes), 0);
}

/** Where a declaration emitted for repository path `repoPath` goes in the package's dist/, or null when it is not shipped. */
function shippedPath(name: PackageName, repoPath: string): string | null {
  const own = `packages/${name}/src/`;
  if (repoPath.startsWith(own)) return repoPath.slice(own.length);
  for (const [from, to] of SHARED_DECLARATIONS[name]) if (repoPath.startsWith(from)) return to + repoPath.slice(from.length);
  return null;
}

/** Rewrites relative module specifiers of a declaration file moved from `fromRepo` to `toDist`. */
export function rewriteSpecifiers(text: string, fromRepo: string, toDist: string, place: (repoPath: string) => string | null): string {
  const rewrite = (spec: string): string => {
    if (!spec.startsWith(".")) return spec;
    const target = posix.normalize(posix.join(posix.dirname(fromRepo), spec.replace(/\.js$/, ".d.ts")));
    const placed = place(target);
    if (placed === null) throw new Error(`${fromRepo} imports ${spec} (${target}), which the package does not ship`);
    let rel = posix.relative(posix.dirname(toDist), placed).replace(/\.d\.ts$/, ".js");
    if (!rel.startsWith(".")) rel = `./${rel}`;
    return rel;
  };
  return text
    .replace(/(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])([^"']+)\2/g, (_all, pre: string, q: string, spec: string) => `${pre}${q}${rewrite(spec)}${q}`)
    .replace(/\/\/# sourceMappingURL=.*$/gm, "");
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Declarations: emitted, then the package's own and the shared ones placed under dist/ with rewritten imports. */
async function declarations(name: PackageName): Promise<number> {
  const tmp = await mkdtemp(join(tmpdir(), `presence-dts-${name}-`));
  try {
    const config = {
      extends: join(ROOT, "packages", "tsconfig.json"),
      compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir: join(tmp, "out"), rootDir: ROOT },
      files: ENTRIES[name].map((e) => join(packageDir(name), "src", `${e}.ts`)),
    };
    await writeFile(join(tmp, "tsconfig.json"), JSON.stringify(config));
    try {
      execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(tmp, "tsconfig.json")], { cwd: ROOT, encoding: "utf8" });
    } catch (e) {
      const out = e as { stdout?: string; stderr?: string };
      throw new Error(`declarations of @presence-platform/${name} failed:\n${out.stdout ?? ""}${out.stderr ?? ""}`);
    }
    const emitted = (await walk(join(tmp, "out"))).filter((f) => f.endsWith(".d.ts"));
    const place = (p: string) => shippedPath(name, p);
    let count = 0;
    for (const file of emitted) {
      const repoPath = relative(join(tmp, "out"), file).split(sep).join("/");
      const to = place(repoPath);
      if (to === null) continue; // another package's sources (the React bindings see the client's through tsconfig paths)
      const text = rewriteSpecifiers(await readFile(file, "utf8"), repoPath, to, place);
      const dest = join(packageDir(name), "dist", to);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, text);
      count++;
    }
    return count;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export async function buildPackage(name: PackageName): Promise<{ name: string; bytes: number; declarations: number; ms: number }> {
  const t0 = performance.now();
  const m = await manifest(name);
  await rm(join(packageDir(name), "dist"), { recursive: true, force: true });
  const bytes = await bundle(name, m);
  const count = await declarations(name);
  await copyFile(join(ROOT, "LICENSE"), join(packageDir(name), "LICENSE"));
  return { name: m.name, bytes, declarations: count, ms: performance.now() - t0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const asked = process.argv.slice(2);
  for (const a of asked) if (!(PACKAGES as readonly string[]).includes(a)) throw new Error(`unknown package "${a}" (one of ${PACKAGES.join(", ")})`);
  for (const name of asked.length > 0 ? (asked as PackageName[]) : PACKAGES) {
    const r = await buildPackage(name);
    process.stdout.write(`built ${r.name}: ${(r.bytes / 1024).toFixed(0)} KiB of JS, ${r.declarations} declaration files, in ${(r.ms / 1000).toFixed(1)} s\n`);
  }
}
