import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/node-process.js";
import { freePort, makeTempDir, removeTempDir, sleep, spawnTracked } from "../support/processes.js";
import { commandsOf, docBlock } from "../support/readme-blocks.js";
import { TEST_SECRET } from "../support/tokens.js";
import { checkSdkTarball, checkServerTarball, waitForHttp } from "./tarballs.js";

/**
 * The installable packages, as a user meets them (issue 15 item 3):
 *
 * - the README's browser quick start, run as written: `npm run pack:sdk` in this repository, a
 *   fresh Vite + React app (`npm create vite`), the two SDK tarballs installed into it, its
 *   `src/App.tsx` replaced by the README's; the app's tsconfig is made stricter than Vite's
 *   template (`strict`, `exactOptionalPropertyTypes`, and `skipLibCheck: false`, so the packages'
 *   declarations are checked too), then `npm run build` (tsc -b and vite build), `npm run preview`
 *   and `npm run dev`;
 * - the server's tarball (`npm pack`) installed into an empty directory and started with its
 *   `presence-server` bin; the README's token commands mint Ana's and Bob's tokens;
 * - Chromium (Debian's, through playwright-core) opens the dev server as Ana and the production
 *   build as Bob: both pages show both people, live, and Bob leaving shows on Ana's page;
 * - the README's TypeScript backend quick start (a directory with the client tarball, Connect's
 *   Node transport and tsx; `index.ts` as written) reads the room and Ana's and Bob's status, and
 *   so does its Python quick start (clients/python pip-installed into a virtual environment);
 * - the tarballs' contents and manifests (./tarballs.ts): built ESM, declarations, an exports
 *   map with types, no server dependency, every import of the bundles declared.
 *
 * npm installs from the registry through the machine's cache (`--prefer-offline`). Slow by nature
 * (three installs, two builds): about a minute on a quiet machine.
 */
const CHROMIUM = "/usr/bin/chromium";
/** The Python with Debian's python3-grpcio, python3-protobuf and python3-jwt (scripts/test-python.sh uses it too). */
const DEBIAN_PYTHON = process.env.PYTHON ?? "/usr/bin/python3";
// The flags test/browser/ uses (this machine has no network beyond the registries).
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const NPM_ENV = { npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false", npm_config_yes: "true" };
/** The environment of a user's shell: without vitest's NODE_ENV=test (Vite would bundle React's development build) and VITEST* variables; no PYTHONPATH. */
const USER_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_ENV" && k !== "PYTHONPATH" && !k.startsWith("VITEST") && !k.startsWith("PRESENCE_")));

let work = "";
let app = "";
let serverDir = "";
let browser: Browser | undefined;
const procs: ReturnType<typeof spawnTracked>[] = [];
const ports = { rpc: 0, ws: 0, admin: 0, dev: 0, preview: 0 };
const built = { typecheckAndBuild: "" };

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  try {
    return execFileSync(command, args, { cwd, env: { ...USER_ENV, ...NPM_ENV, ...env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const out = e as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed:\n${out.stdout ?? ""}\n${out.stderr ?? ""}`);
  }
}

/**
 * Starts a long-running command (a dev or preview server, the server's bin) in a process group of
 * its own: npm and npx run it as a grandchild, which keeps the pipes open after npm is gone, so
 * the whole group is stopped.
 */
function start(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const p = spawnTracked(command, args, { cwd, env: { ...USER_ENV, ...NPM_ENV, ...env }, detached: true });
  procs.push(p);
  // Should the worker die before afterAll, its groups die with it.
  process.once("exit", () => killGroup(p, "SIGKILL"));
  return p;
}

function killGroup(p: ReturnType<typeof spawnTracked>, signal: NodeJS.Signals) {
  try {
    process.kill(-p.child.pid!, signal);
  } catch {
    // the group is gone already
  }
}

async function stopGroup(p: ReturnType<typeof spawnTracked>) {
  killGroup(p, "SIGTERM");
  const late = await Promise.race([p.exited.then(() => false), sleep(5_000).then(() => true)]);
  killGroup(p, "SIGKILL");
  if (late) await p.exited;
}

/** The app's tsconfig, stricter than the template's (its JSON has comments: dropped). */
function tightenTsconfig(dir: string) {
  const path = join(dir, "tsconfig.app.json");
  const config = JSON.parse(readFileSync(path, "utf8").replace(/\/\*[\s\S]*?\*\//g, "")) as { compilerOptions: Record<string, unknown> };
  Object.assign(config.compilerOptions, { strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false });
  writeFileSync(path, JSON.stringify(config, null, 2));
}

beforeAll(async () => {
  work = await makeTempDir("presence-consumer-");
  // The README's commands start in the repository's parent: `presence` is this repository.
  symlinkSync(ROOT, join(work, "presence"));
  Object.assign(ports, { rpc: await freePort(), ws: await freePort(), admin: await freePort(), dev: await freePort(), preview: await freePort() });

  // 1. The README's setup, verbatim, as one shell script.
  run("bash", ["-euo", "pipefail", "-c", docBlock("browser-setup").code], work);
  app = join(work, "my-app");
  writeFileSync(join(app, "src", "App.tsx"), docBlock("browser-app").code + "\n");
  tightenTsconfig(app);

  // 2. The server package: packed (without its prepack build: vitest's global setup built dist/,
  // and other test files run it now), installed into an empty directory, started by its bin.
  run("npm", ["pack", "--ignore-scripts", "--pack-destination", work], ROOT);
  serverDir = join(work, "server");
  run("bash", ["-c", `mkdir -p server && cd server && npm init -y >/dev/null && npm install ../presence-platform-server-${VERSION}.tgz`], work);
  start("npx", ["presence-server"], serverDir, {
    PRESENCE_HOST: "127.0.0.1",
    PRESENCE_RPC_PORT: String(ports.rpc),
    PRESENCE_WS_PORT: String(ports.ws),
    PRESENCE_ADMIN_PORT: String(ports.admin),
    PRESENCE_JWT_SECRET: TEST_SECRET,
    PRESENCE_HISTORY: "off",
    PRESENCE_LOG_LEVEL: "warn",
  });

  // 3. The README's run block: build, then the preview and dev servers on free ports.
  const env = { VITE_PRESENCE_URL: `ws://127.0.0.1:${ports.ws}/ws` };
  for (const command of commandsOf(docBlock("browser-run"))) {
    const script = /^npm run (\w+)$/.exec(command)?.[1];
    if (script === "build") built.typecheckAndBuild = run("npm", ["run", "build"], app, env);
    else if (script === "dev" || script === "preview") start("npm", ["run", script, "--", "--host", "127.0.0.1", "--port", String(ports[script]), "--strictPort"], app, env);
    else throw new Error(`the README's browser-run block has a command this test does not know how to run: ${command}`);
  }
  await Promise.all([
    waitForHttp(`http://127.0.0.1:${ports.admin}/readyz`, procs),
    waitForHttp(`http://127.0.0.1:${ports.dev}/`, procs),
    waitForHttp(`http://127.0.0.1:${ports.preview}/`, procs),
  ]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(procs.splice(0).map(stopGroup));
  if (work) await removeTempDir(work);
}, 60_000);

describe("the packed SDK in a fresh Vite + React app", () => {
  it("the tarballs hold built ESM, declarations and an exports map with types, and no server code", async () => {
    // `npm run pack:sdk` makes packs/ (a fresh clone has none) and leaves exactly this run's tarballs there.
    expect(readdirSync(join(ROOT, "packs")).sort()).toEqual([`presence-platform-client-${VERSION}.tgz`, `presence-platform-react-${VERSION}.tgz`]);
    await checkSdkTarball(join(ROOT, "packs", `presence-platform-client-${VERSION}.tgz`), { name: "@presence-platform/client", version: VERSION });
    await checkSdkTarball(join(ROOT, "packs", `presence-platform-react-${VERSION}.tgz`), { name: "@presence-platform/react", version: VERSION });
    const installed = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(Object.keys(installed.dependencies).sort()).toEqual(["@presence-platform/client", "@presence-platform/react", "react", "react-dom"]);
  });

  it("type-checks under strict + exactOptionalPropertyTypes with the declarations checked, and builds", () => {
    const config = JSON.parse(readFileSync(join(app, "tsconfig.app.json"), "utf8")) as { compilerOptions: Record<string, unknown> };
    expect(config.compilerOptions).toMatchObject({ strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false });
    expect(built.typecheckAndBuild).toMatch(/tsc -b && vite build/);
    expect(built.typecheckAndBuild).toMatch(/built in/);
    // The page's bundle has the SDK and nothing of the server (no Node built-ins, no store code).
    const assets = join(app, "dist", "assets");
    const js = readdirSync(assets).filter((f) => f.endsWith(".js")).map((f) => readFileSync(join(assets, f), "utf8")).join("\n");
    expect(readFileSync(join(app, "dist", "index.html"), "utf8")).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);
    expect(js).toContain("no WebSocket available");
    expect(js).not.toMatch(/["'`]node:[a-z]/);
    for (const server of ["ioredis", "redis.call(", "PRESENCE_JWT_SECRET", "uWebSockets", "react-stack-top-frame"]) expect(js.includes(server), server).toBe(false);
  });

  it("renders on the server (SSR) from the installed packages without touching the network or browser globals", () => {
    // What a server-rendering framework does with the bindings: import them in Node and render a
    // tree once (effects never run there, so nothing may connect or read window/document).
    const script = [
      'import { createElement as h } from "react";',
      'import { renderToString } from "react-dom/server";',
      'import { createPresenceClient } from "@presence-platform/client";',
      'import { PagePresence, PagePresenceAvatars, PresenceProvider, StatusDot, useUserStatus, usePagePresence } from "@presence-platform/react";',
      'const client = createPresenceClient({ url: "ws://127.0.0.1:9/ws" });',
      "function Viewers() {",
      '  const presence = usePagePresence(client, { room: "quick-start" });',
      '  const [ana] = useUserStatus(["ana"]);',
      '  return h("main", null, h(PagePresence, { presence }), h(PagePresenceAvatars, { presence }), h(StatusDot, { status: ana }), h("p", null, `status: ${presence.status}, ${presence.users.length} users`));',
      "}",
      "console.log(renderToString(h(PresenceProvider, { client }, h(Viewers))));",
    ].join("\n");
    writeFileSync(join(app, "ssr-check.mjs"), script + "\n");
    const html = run("node", ["ssr-check.mjs"], app).trim();
    // Rendered with the status dot, and the client never started connecting ("idle").
    expect(html).toMatch(/^<main>.*presence-status-dot--offline.*<p>status: idle, 0 users<\/p><\/main>$/);
  });

  it("the server's tarball installs and runs from its bin, with everything its bundles import declared", async () => {
    await checkServerTarball(join(work, `presence-platform-server-${VERSION}.tgz`), join(ROOT, "dist"));
    const res = await fetch(`http://127.0.0.1:${ports.admin}/readyz`);
    expect(res.status).toBe(200);
  });

  it("shows live presence in Chromium: the dev server as Ana, the production build as Bob", async () => {
    const [ana, bob] = commandsOf(docBlock("browser-tokens")).map((command) => {
      const args = command.replace(/^npm /, "").split(/\s+/);
      expect(command.startsWith("npm run -s token -- ")).toBe(true);
      return run("npm", args, ROOT, { PRESENCE_JWT_SECRET: TEST_SECRET }).trim();
    });
    expect(ana).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const contexts: BrowserContext[] = [];
    const open = async (port: number, token: string): Promise<Page> => {
      const context = await browser!.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${port}/?token=${token}`);
      return page;
    };
    // Ana's page stays open for the backend quick start below (the browser closes in afterAll).
    const anaPage = await open(ports.dev, ana!);
    const bobPage = await open(ports.preview, bob!);
    for (const page of [anaPage, bobPage]) {
      await page.getByText("2 people viewing").waitFor({ timeout: 15_000 });
      await page.locator("main li", { hasText: "Ana" }).waitFor();
      await page.locator("main li", { hasText: "Bob" }).waitFor();
      expect(await page.locator("main li").allTextContents()).toEqual(["Ana", "Bob"]);
    }
    await contexts[1]!.close();
    await anaPage.getByText("You're the only one here").waitFor({ timeout: 15_000 });
    expect(await anaPage.locator("main li").allTextContents()).toEqual(["Ana"]);
  });

  it("the README's TypeScript backend reads the room and the users' status through @presence-platform/client/proto", async () => {
    run("bash", ["-euo", "pipefail", "-c", docBlock("backend-setup").code], work);
    const backend = join(work, "my-backend");
    writeFileSync(join(backend, "index.ts"), docBlock("backend-code").code + "\n");
    const env = { PRESENCE_JWT_SECRET: TEST_SECRET, RPC_URL: `http://127.0.0.1:${ports.rpc}` };
    // Bob's user status turns offline once his socket's session ends (it closed with the page).
    const deadline = Date.now() + 20_000;
    let printed = "";
    for (;;) {
      printed = run("bash", ["-euo", "pipefail", "-c", docBlock("backend-run").code], backend, env);
      if (printed.includes("bob: OFFLINE") || Date.now() > deadline) break;
      await sleep(500);
    }
    expect(printed.trim().split("\n")).toEqual(["quick-start: Ana", "ana: ONLINE", "bob: OFFLINE"]);
  });

  it("the README's Python backend installs clients/python into a virtual environment and reads the same", async () => {
    // `python3` is Debian's (its python3-grpcio, -protobuf and -jwt are what --system-site-packages
    // finds); this machine has no PyPI, so pip builds with the venv's setuptools and never asks an index.
    const bin = join(work, "debian-python");
    mkdirSync(bin);
    symlinkSync(DEBIAN_PYTHON, join(bin, "python3"));
    const env = { PATH: `${bin}:${process.env.PATH ?? ""}`, PIP_NO_INDEX: "1", PIP_NO_BUILD_ISOLATION: "0", PIP_DISABLE_PIP_VERSION_CHECK: "1" };
    run("bash", ["-euo", "pipefail", "-c", docBlock("python-setup").code], work, env);
    const backend = join(work, "my-python-backend");
    writeFileSync(join(backend, "report.py"), docBlock("python-code").code + "\n");
    const runEnv = { ...env, PRESENCE_JWT_SECRET: TEST_SECRET, RPC_TARGET: `127.0.0.1:${ports.rpc}` };
    // As above: Bob's status is offline once his closed page's session has ended.
    const deadline = Date.now() + 20_000;
    let printed = "";
    for (;;) {
      printed = run("bash", ["-euo", "pipefail", "-c", docBlock("python-run").code], backend, runEnv);
      if (printed.includes("bob: offline") || Date.now() > deadline) break;
      await sleep(500);
    }
    expect(printed.trim().split("\n")).toEqual(["quick-start: Ana", "ana: online", "bob: offline"]);
  }, 300_000);
});
