import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { expect } from "vitest";
import { isRunning, type spawnTracked } from "../support/processes.js";

/**
 * Checks of `npm pack` tarballs, as an installer sees them (the contents of `package/`), for
 * test/packaging/consumer-app.test.ts.
 */
interface Manifest {
  name: string;
  version: string;
  type?: string;
  license?: string;
  sideEffects?: boolean;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** The files of a tarball, relative to its `package/` folder. */
export function listTarball(tgz: string): string[] {
  return execFileSync("tar", ["tzf", tgz], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ""));
}

/** Unpacks a tarball into a new temporary directory; returns its `package/` folder and a cleanup. */
function unpack(tgz: string): { dir: string; done: () => void } {
  const tmp = mkdtempSync(join(tmpdir(), "presence-tgz-"));
  execFileSync("tar", ["xzf", tgz, "-C", tmp]);
  return { dir: join(tmp, "package"), done: () => rmSync(tmp, { recursive: true, force: true }) };
}

/** Module specifiers a bundle imports statically or dynamically (esbuild's ESM output). */
export function importsOf(js: string): string[] {
  const found = new Set<string>();
  for (const m of js.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["'];?$/gm)) found.add(m[1]!);
  for (const m of js.matchAll(/^\s*import\s*["']([^"']+)["'];?$/gm)) found.add(m[1]!);
  for (const m of js.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.add(m[1]!);
  return [...found];
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`). */
const packageOf = (spec: string) => spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/");

/**
 * Specifiers a bundle names that are never loaded from it: the embedded history starts its worker
 * through tsx only when the server runs from TypeScript sources (src/history/sql/pglite-client.ts,
 * tests and `node --import tsx`), never from dist/.
 */
const SOURCE_ONLY = new Set(["tsx/esm/api"]);

/** Every import of `js` is relative, a Node built-in (only when `node` allows it), or one of `declared`. */
function expectImportsDeclared(file: string, js: string, declared: string[], node: boolean) {
  const undeclared = importsOf(js).filter((s) => !s.startsWith(".") && !SOURCE_ONLY.has(s) && !(node && isBuiltin(s)) && !declared.includes(packageOf(s)));
  expect(undeclared, `${file} imports packages its manifest does not declare`).toEqual([]);
}

/** An SDK package: ESM, declarations, exports with types first, no server code or dependency. */
export async function checkSdkTarball(tgz: string, want: { name: string; version: string }): Promise<void> {
  const files = listTarball(tgz);
  const { dir, done } = unpack(tgz);
  try {
    const m = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
    expect(m).toMatchObject({ name: want.name, version: want.version, type: "module", sideEffects: false, license: "Apache-2.0" });
    // Only the build, the readme and the licence: no TypeScript sources besides declarations.
    expect(files.filter((f) => !/^(dist\/.+|README\.md|LICENSE|package\.json)$/.test(f))).toEqual([]);
    expect(files.filter((f) => /\.tsx?$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(["README.md", "LICENSE", "dist/index.js", "dist/index.d.ts"]));
    // Every export: types first (TypeScript takes the first condition that matches), both files shipped.
    const entries = Object.entries(m.exports ?? {}).filter(([path]) => path !== "./package.json");
    expect(entries.map(([path]) => path)).toContain(".");
    for (const [path, target] of entries) {
      const conditions = target as Record<string, string>;
      expect(Object.keys(conditions), `exports["${path}"]`).toEqual(["types", "default"]);
      for (const file of Object.values(conditions)) expect(files, `exports["${path}"] → ${file}`).toContain(file.replace(/^\.\//, ""));
    }
    expect(m.types).toBe("./dist/index.d.ts");

    const deps = Object.keys({ ...m.dependencies, ...m.peerDependencies });
    expect(deps.filter((d) => d === "@presence-platform/server")).toEqual([]);
    if (want.name === "@presence-platform/react") {
      expect(m.peerDependencies?.react).toBe(">=18");
      expect(m.dependencies).toEqual({ "@presence-platform/client": want.version });
      // Hooks and components: React Server Components frameworks must render them on the client.
      for (const js of files.filter((f) => f.endsWith(".js"))) expect(readFileSync(join(dir, js), "utf8").startsWith('"use client";\n'), `${js} begins with "use client"`).toBe(true);
    }
    // The bundles import only what the manifest declares, and no Node built-in (browsers).
    for (const js of files.filter((f) => f.endsWith(".js"))) expectImportsDeclared(`${want.name}/${js}`, readFileSync(join(dir, js), "utf8"), deps, false);
    // Declarations: every relative import resolves inside the package; bare ones are declared.
    for (const f of files.filter((x) => x.endsWith(".d.ts"))) {
      const text = readFileSync(join(dir, f), "utf8");
      const specs = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']/gm), ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)];
      for (const spec of specs.map((x) => x[1]!)) {
        if (spec.startsWith(".")) {
          const target = posix.normalize(posix.join(posix.dirname(f), spec.replace(/\.js$/, ".d.ts")));
          expect(files, `${f} imports ${spec}`).toContain(target);
        } else expect([...deps, "react"], `${f} imports ${spec}`).toContain(packageOf(spec));
      }
    }
  } finally {
    done();
  }
}

/** The server package: every file of the build inside, its bins, every import of its bundles declared. */
export async function checkServerTarball(tgz: string, distDir: string): Promise<void> {
  const files = listTarball(tgz);
  const { dir, done } = unpack(tgz);
  try {
    const m = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
    expect(m).toMatchObject({ name: "@presence-platform/server", type: "module", license: "Apache-2.0" });
    expect(m.bin).toEqual({ presence: "bin/presence.mjs", "presence-server": "bin/presence-server.mjs" });
    for (const bin of Object.values(m.bin!)) expect(files).toContain(bin);
    const dist = readdirSync(distDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => posix.join("dist", posix.relative(distDir.split("\\").join("/"), `${e.parentPath}/${e.name}`)));
    expect(files).toEqual(expect.arrayContaining(dist));
    expect(files.filter((f) => /^(src|test|packages|bench|scripts)\//.test(f))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(["LICENSE", "CHANGELOG.md", "README.md"]));
    const declared = Object.keys({ ...m.dependencies, ...m.optionalDependencies });
    for (const entry of ["main.js", "cli.js", "pglite-worker.js"]) {
      expect(existsSync(join(dir, "dist", entry)), entry).toBe(true);
      expectImportsDeclared(`dist/${entry}`, readFileSync(join(dir, "dist", entry), "utf8"), declared, true);
    }
  } finally {
    done();
  }
}

/** Polls `url` until it answers 200; fails at once when one of `procs` has exited, with its output. */
export async function waitForHttp(url: string, procs: ReturnType<typeof spawnTracked>[], timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => !isRunning(p.child));
    if (dead) throw new Error(`a process exited while waiting for ${url}:\n${dead.output()}`);
    const status = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${procs.map((p) => p.output()).join("\n---\n")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
