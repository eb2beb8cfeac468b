#!/usr/bin/env node
// The `presence` admin CLI (src/cli/main.ts), run through tsx's loader so no build step is needed:
// `npx presence --help` inside this package, or `npm run -s presence -- --help`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2), process.env);
