import { execFileSync } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/node-process.js";
import { freePort, isRunning, sleep, spawnTracked, terminate } from "../support/processes.js";

/**
 * The Dockerfile, checked without a Docker engine (none runs on our CI machines; docs/deployment.md
 * lists what that leaves unverified):
 *
 * - lint: dockerfile-utils' validator (the checks of the VS Code Docker language service) finds nothing;
 * - structure: multi-stage; the image runs as a non-root user, has a HEALTHCHECK, and its CMD is
 *   what `npm start` runs after its build; the build stage runs `npm run build`; every file copied
 *   from the context exists and is not excluded by .dockerignore; the Node version is the one CI
 *   tests (.ci/run's NODE24_VERSION);
 * - its steps, run outside Docker: each stage's COPY and RUN instructions in a directory of its
 *   own (the build context is git's files minus .dockerignore): the build stage's `npm ci` and
 *   `npm run build`, the deps stage's production install, the image's three COPY --from; then
 *   the image's CMD with the image's ENV, as an unprivileged user (nobody, when the tests run as
 *   root, as CI does): the server becomes ready and the HEALTHCHECK command passes, then fails once
 *   it stopped. Only the base image (node:<version>-bookworm-slim) is not what runs here.
 */
const text = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const dockerfile = DockerfileParser.parse(text);
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };

/** Instructions by stage (the name given with AS, or "final" for the last unnamed one). */
function stages(): Map<string, Instruction[]> {
  const out = new Map<string, Instruction[]>();
  let current: Instruction[] | null = null;
  for (const i of dockerfile.getInstructions()) {
    if (i.getKeyword() === "FROM") {
      const name = /\bAS\s+(\S+)/i.exec(i.getArgumentsContent() ?? "")?.[1] ?? "final";
      current = [];
      out.set(name, current);
    } else current?.push(i);
  }
  return out;
}

const args = (i: Instruction) => i.getArgumentsContent() ?? "";
const of = (stage: Instruction[], keyword: string) => stage.filter((i) => i.getKeyword() === keyword);
const execForm = (s: string): string[] => JSON.parse(s.replace(/^CMD\s+/, "")) as string[];

describe("Dockerfile", () => {
  const s = stages();
  const final = s.get("final")!;

  it("passes the Dockerfile linter", () => {
    expect(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it("is multi-stage; the image is non-root, has a health check and runs what npm start runs", () => {
    expect([...s.keys()]).toEqual(["build", "deps", "final"]);
    const user = of(final, "USER").map(args);
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(of(final, "HEALTHCHECK")).toHaveLength(1);
    const cmd = execForm(args(of(final, "CMD")[0]!));
    expect(cmd).toEqual(["node", "dist/main.js"]);
    expect(pkg.scripts.start).toBe(cmd.join(" "));
    // The build stage builds with the package's own script, which makes dist/main.js.
    expect(of(s.get("build")!, "RUN").map(args)).toContain("npm run build");
    expect(pkg.scripts.build).toBe("tsx scripts/build.ts");
    // The image takes only production dependencies, the package manifest and dist/ from the others.
    const copies = of(final, "COPY").map((i) => args(i).split(/\s+/)[0]);
    expect(copies.sort()).toEqual(["/app/dist", "/app/node_modules", "/app/package.json"]);
  });

  it("copies only files that exist and are not excluded by .dockerignore; uses the Node version CI tests", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const [, stage] of s) {
      for (const copy of of(stage, "COPY")) {
        if (/--from=/.test(copy.getTextContent())) continue;
        const sources = args(copy).split(/\s+/).slice(0, -1);
        for (const src of sources) {
          expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
          expect(ignored, `COPY ${src} is in .dockerignore`).not.toContain(src);
        }
      }
    }
    for (const needed of ["src", "gen", "scripts", "demo", "packages", "package.json", "tsconfig.json"]) expect(ignored).not.toContain(needed);
    const nodeArg = /^ARG NODE_VERSION=(\S+)$/m.exec(text)?.[1];
    const ciNode24 = /NODE24_VERSION:-([\d.]+)/.exec(readFileSync(join(ROOT, ".ci/run"), "utf8"))?.[1];
    expect(nodeArg).toBe(ciNode24);
  });

  describe("its steps, run without Docker", () => {
    const dirs: string[] = [];
    afterAll(async () => {
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    });
    const tempDir = async (name: string) => {
      const d = await mkdtemp(join(tmpdir(), `presence-${name}-`));
      dirs.push(d);
      return d;
    };
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    /** Copies what a COPY instruction copies from the build context (git's files minus .dockerignore's top-level entries). */
    async function copyContext(sources: string[], to: string) {
      const files = execFileSync("git", ["ls-files", "-z", "--", ...sources], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
      for (const f of files) {
        if (ignored.some((i) => f === i || f.startsWith(`${i}/`))) continue;
        if (!existsSync(join(ROOT, f))) continue; // deleted in the work tree
        await mkdir(dirname(join(to, f)), { recursive: true });
        await cp(join(ROOT, f), join(to, f));
      }
    }
    /** Runs one stage's instructions in `dir`: COPY from the context (or from a finished stage's dir), RUN with sh. */
    async function runStage(name: string, dir: string, stageDirs: Record<string, string>) {
      const times: string[] = [];
      for (const i of s.get(name)!) {
        const k = i.getKeyword();
        if (k === "COPY") {
          const from = /--from=(\S+)/.exec(i.getTextContent())?.[1];
          const parts = args(i).split(/\s+/);
          const dest = parts.pop()!;
          if (from) {
            for (const src of parts) await cp(join(stageDirs[from]!, src.replace(/^\/app\/?/, "")), join(dir, dest), { recursive: true });
          } else await copyContext(parts, dir);
        } else if (k === "RUN") {
          const t0 = Date.now();
          const proc = spawnTracked("sh", ["-c", args(i)], { cwd: dir, env: { ...process.env, npm_config_loglevel: "error" } });
          expect((await proc.exited).code, `${name}: RUN ${args(i)}\n${proc.output()}`).toBe(0);
          times.push(`${args(i)} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        }
      }
      return times;
    }

    it("builds as the build stage does, installs as the deps stage does, and the image's CMD serves and passes the HEALTHCHECK", async () => {
      const build = await tempDir("build");
      const deps = await tempDir("deps");
      const image = await tempDir("image");
      const times = [...(await runStage("build", build, {})), ...(await runStage("deps", deps, {}))];
      for (const f of ["dist/main.js", "dist/cli.js", "dist/demo/index.html", "dist/demo/app.js"]) expect(existsSync(join(build, f)), f).toBe(true);
      expect(existsSync(join(deps, "node_modules", "tsx")), "no dev dependency in the image").toBe(false);
      expect(existsSync(join(deps, "node_modules", "esbuild")), "no dev dependency in the image").toBe(false);
      await runStage("final", image, { build, deps });
      expect(readdirSync(image).sort()).toEqual(["dist", "node_modules", "package.json"]);

      const env: Record<string, string> = {};
      for (const e of of(final, "ENV")) for (const p of (e as unknown as { getProperties(): { getName(): string; getValue(): string }[] }).getProperties()) env[p.getName()] = p.getValue();
      expect(env.NODE_ENV).toBe("production");
      const ports = { PRESENCE_RPC_PORT: String(await freePort()), PRESENCE_ADMIN_PORT: String(await freePort()), PRESENCE_WS_PORT: String(await freePort()) };
      const base = { PATH: process.env.PATH ?? "", HOME: image, ...env, PRESENCE_HOST: "127.0.0.1", PRESENCE_ADMIN_HOST: "127.0.0.1", ...ports };
      // As the image's USER would: not root (nobody here, when the tests run as root).
      await chmod(image, 0o755);
      const unprivileged = (argv: string[]): [string, string[]] =>
        process.getuid?.() === 0 ? ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", ...argv]] : [argv[0]!, argv.slice(1)];
      const node = (argv: string[]) => argv.map((a, i) => (i === 0 && a === "node" ? process.execPath : a));
      const server = spawnTracked(...unprivileged(node(execForm(args(of(final, "CMD")[0]!)))), { cwd: image, env: base });
      const healthcheck = node(execForm(/CMD\s+(\[.*\])\s*$/s.exec(args(of(final, "HEALTHCHECK")[0]!))![1]!));
      const check = async () => (await spawnTracked(...unprivileged(healthcheck), { cwd: image, env: base }).exited).code;
      try {
        const deadline = Date.now() + 20_000;
        while ((await check()) !== 0) {
          expect(isRunning(server.child), server.output()).toBe(true);
          expect(Date.now()).toBeLessThan(deadline);
          await sleep(100);
        }
        const ready = await fetch(`http://127.0.0.1:${ports.PRESENCE_ADMIN_PORT}/readyz`);
        expect(ready.status).toBe(200);
        expect((await fetch(`http://127.0.0.1:${ports.PRESENCE_WS_PORT}/`)).status).toBe(200); // the demo page from dist/demo
      } finally {
        await terminate(server, "SIGTERM", 10_000);
      }
      expect(server.child.exitCode).toBe(0);
      expect(await check()).toBe(1);
      console.log(`image steps without Docker: ${times.join("; ")}`);
    }, 240_000);
  });
});
