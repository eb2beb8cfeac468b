#!/usr/bin/env node
// The presence server: the built JavaScript of src/main.ts (dist/main.js, made by `npm run build`,
// which `npm start` and `npm pack` run first). Configured by PRESENCE_* environment variables
// (docs/configuration.md); `npx presence-server` where this package is installed.
import { existsSync } from "node:fs";

const built = new URL("../dist/main.js", import.meta.url);
if (!existsSync(built)) {
  process.stderr.write("presence-server: the server is not built (dist/main.js is missing): run `npm run build` first\n");
  process.exit(2);
}
await import(built.href);
