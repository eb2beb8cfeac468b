import { buildServer } from "../../scripts/build.js";

/**
 * Vitest global setup: builds dist/ (server, CLI, Lua scripts, demo page) once before any test
 * file runs, so the tests that start the server or the CLI as child processes run the built
 * JavaScript users run (`node dist/main.js`, bin/presence.mjs), built from the sources under test.
 */
export default async function setup(): Promise<void> {
  const r = await buildServer();
  process.stdout.write(`[build-once] dist/ built in ${(r.ms / 1000).toFixed(1)} s\n`);
}
