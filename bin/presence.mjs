#!/usr/bin/env node
// The `presence` admin CLI: the built JavaScript of src/cli/main.ts (dist/cli.js, made by
// `npm run build`, which `npm start` runs first). `npx presence --help` inside this package, or
// `npm run -s presence -- --help`.
import { existsSync } from "node:fs";

const built = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(built)) {
  process.stderr.write("presence: the CLI is not built (dist/cli.js is missing): run `npm run build` first\n");
  process.exit(2);
}
const { main } = await import(built.href);
process.exitCode = await main(process.argv.slice(2), process.env);
