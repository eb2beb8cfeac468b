/**
 * Sets the one version of the three packages (docs/versioning.md, "Cutting a release"): the root
 * package (the server), packages/client and packages/react, and the bindings' dependency on the
 * client, which is always exactly the client of the same release. Run `npm install` after it (the
 * lock records the workspaces' versions).
 *
 *   npm run -s version:set -- 0.2.0
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const MANIFESTS = ["package.json", "packages/client/package.json", "packages/react/package.json"] as const;
const CLIENT = "@presence-platform/client";

interface Manifest {
  version: string;
  dependencies?: Record<string, string>;
}

/** A version npm accepts and semver orders: x.y.z with an optional pre-release (`0.2.0-rc.1`). */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$/;

/** The manifests with `version` set, and the bindings' client dependency pinned to it. */
export function withVersion<M extends Manifest>(manifests: M[], version: string): M[] {
  if (!SEMVER.test(version)) throw new Error(`version "${version}" is not x.y.z (optionally -prerelease)`);
  return manifests.map((m) => {
    const out: M = { ...m, version };
    if (m.dependencies?.[CLIENT] !== undefined) out.dependencies = { ...m.dependencies, [CLIENT]: version };
    return out;
  });
}

export function setVersion(version: string, root = ROOT): void {
  const read = MANIFESTS.map((f) => JSON.parse(readFileSync(join(root, f), "utf8")) as Manifest);
  withVersion(read, version).forEach((m, i) => writeFileSync(join(root, MANIFESTS[i]!), `${JSON.stringify(m, null, 2)}\n`));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const version = process.argv[2];
  if (!version) {
    process.stderr.write("usage: npm run -s version:set -- x.y.z\n");
    process.exit(2);
  }
  setVersion(version);
  process.stdout.write(`version ${version} set in ${MANIFESTS.join(", ")}; now run npm install\n`);
}
