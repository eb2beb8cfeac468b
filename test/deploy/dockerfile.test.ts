import { chmod, cp, mkdtemp, rm } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
 * - its steps, run outside Docker: the `deps` stage's install command in an empty directory with
 *   package.json and the lock, dist/ (the build stage's `npm run build`: vitest's global setup ran
 *   it), then the image's CMD with the image's ENV, as an unprivileged user (nobody, when the
 *   tests run as root, as CI does): the server becomes ready and the HEALTHCHECK command passes,
 *   then fails once it stopped.
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
    for (const needed of ["src", "gen", "scripts", "demo", "client", "package.json", "tsconfig.json"]) expect(ignored).not.toContain(needed);
    const nodeArg = /^ARG NODE_VERSION=(\S+)$/m.exec(text)?.[1];
    const ciNode24 = /NODE24_VERSION:-([\d.]+)/.exec(readFileSync(join(ROOT, ".ci/run"), "utf8"))?.[1];
    expect(nodeArg).toBe(ciNode24);
  });

  describe("its steps, run without Docker", () => {
    let dir = "";
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("installs production dependencies as the deps stage does, and the image's CMD serves and passes the HEALTHCHECK", async () => {
      dir = await mkdtemp(join(tmpdir(), "presence-image-"));
      for (const f of ["package.json", "package-lock.json"]) await cp(join(ROOT, f), join(dir, f));
      const install = of(s.get("deps")!, "RUN").map(args);
      expect(install).toHaveLength(1);
      const t0 = Date.now();
      const npm = spawnTracked("sh", ["-c", install[0]!], { cwd: dir, env: { ...process.env, npm_config_loglevel: "error" } });
      const done = await npm.exited;
      expect(done.code, npm.output()).toBe(0);
      const installMs = Date.now() - t0;
      expect(existsSync(join(dir, "node_modules", "tsx")), "no dev dependency in the image").toBe(false);
      expect(existsSync(join(dir, "node_modules", "esbuild")), "no dev dependency in the image").toBe(false);
      await cp(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });

      const env: Record<string, string> = {};
      for (const e of of(final, "ENV")) for (const p of (e as unknown as { getProperties(): { getName(): string; getValue(): string }[] }).getProperties()) env[p.getName()] = p.getValue();
      expect(env.NODE_ENV).toBe("production");
      const ports = { PRESENCE_RPC_PORT: String(await freePort()), PRESENCE_ADMIN_PORT: String(await freePort()), PRESENCE_WS_PORT: String(await freePort()) };
      const base = { PATH: process.env.PATH ?? "", HOME: dir, ...env, PRESENCE_HOST: "127.0.0.1", PRESENCE_ADMIN_HOST: "127.0.0.1", ...ports };
      // As the image's USER would: not root (nobody here, when the tests run as root).
      await chmod(dir, 0o755);
      const unprivileged = (argv: string[]): [string, string[]] =>
        process.getuid?.() === 0 ? ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", ...argv]] : [argv[0]!, argv.slice(1)];
      const node = (argv: string[]) => argv.map((a, i) => (i === 0 && a === "node" ? process.execPath : a));
      const server = spawnTracked(...unprivileged(node(execForm(args(of(final, "CMD")[0]!)))), { cwd: dir, env: base });
      const healthcheck = node(execForm(/CMD\s+(\[.*\])\s*$/s.exec(args(of(final, "HEALTHCHECK")[0]!))![1]!));
      const check = async () => (await spawnTracked(...unprivileged(healthcheck), { cwd: dir, env: base }).exited).code;
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
      console.log(`image steps without Docker: ${install[0]} took ${(installMs / 1000).toFixed(1)} s`);
    }, 180_000);
  });
});
