/**
 * Packs the SDK packages (`@presence-platform/client`, `@presence-platform/react`) into `packs/`
 * at the repository root: `npm run pack:sdk`.
 *
 * `npm pack --pack-destination` does not create its destination (a fresh clone has no `packs/`:
 * npm fails with ENOENT opening the tarball), so this makes it; and it empties it first, so what
 * is there afterwards is exactly this run's tarballs, never one left from an earlier version or a
 * failed run (a leftover tarball once hid the missing directory from a local test run).
 * Each package is built by its `prepack` script (scripts/build-packages.ts).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PACK_DIR = join(ROOT, "packs");
const WORKSPACES = ["@presence-platform/client", "@presence-platform/react"];

rmSync(PACK_DIR, { recursive: true, force: true });
mkdirSync(PACK_DIR, { recursive: true });
execFileSync("npm", ["pack", ...WORKSPACES.flatMap((w) => ["-w", w]), "--pack-destination", PACK_DIR], { cwd: ROOT, stdio: "inherit" });
const packed = readdirSync(PACK_DIR).filter((f) => f.endsWith(".tgz"));
if (packed.length !== WORKSPACES.length) throw new Error(`npm pack wrote ${packed.length} tarballs to ${PACK_DIR}, expected ${WORKSPACES.length}: ${packed.join(", ")}`);
