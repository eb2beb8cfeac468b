import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MANIFESTS, withVersion } from "../../scripts/set-version.js";
import { ROOT } from "../support/node-process.js";
import { makeTempDir, removeTempDir } from "../support/processes.js";

/**
 * The version policy of docs/versioning.md: one version for the three packages (the bindings pin
 * the client of their release), the changelog's last release is that version with "Unreleased"
 * above it, and the wire contract is checked against the last release's image, which catches a
 * breaking change (shown here on a copy of the contract with a field removed).
 */
interface Manifest {
  name: string;
  version: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
}
const manifest = (f: string) => JSON.parse(readFileSync(join(ROOT, f), "utf8")) as Manifest;
const BASELINE = "proto/baseline/presence-v1.binpb";
const buf = (args: string[], cwd: string) => execFileSync(join(ROOT, "node_modules", ".bin", "buf"), args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const temps: string[] = [];
afterAll(async () => {
  for (const d of temps) await removeTempDir(d);
});

describe("version policy", () => {
  it("the server, the client and the React bindings have one version; the bindings pin that client", () => {
    const [root, client, react] = MANIFESTS.map(manifest);
    expect([root!.name, client!.name, react!.name]).toEqual(["@presence-platform/server", "@presence-platform/client", "@presence-platform/react"]);
    expect(new Set([root!.version, client!.version, react!.version]).size).toBe(1);
    expect(react!.dependencies?.["@presence-platform/client"]).toBe(root!.version);
    expect(root!.workspaces).toEqual(["packages/client", "packages/react"]);
  });

  it("version:set moves all three and the pinned client together, and refuses what is not x.y.z", () => {
    const next = withVersion(MANIFESTS.map(manifest), "0.2.0-rc.1");
    expect(next.map((m) => m.version)).toEqual(["0.2.0-rc.1", "0.2.0-rc.1", "0.2.0-rc.1"]);
    expect(next[2]!.dependencies?.["@presence-platform/client"]).toBe("0.2.0-rc.1");
    expect(next[0]!.dependencies).toEqual(manifest("package.json").dependencies);
    expect(() => withVersion(MANIFESTS.map(manifest), "v0.2")).toThrow('version "v0.2" is not x.y.z (optionally -prerelease)');
  });

  it("the changelog keeps Unreleased on top, then releases newest first; the newest is the packages' version", () => {
    const changelog = readFileSync(join(ROOT, "CHANGELOG.md"), "utf8");
    const headings = [...changelog.matchAll(/^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$/gm)].map((m) => ({ version: m[1]!, date: m[2] }));
    expect(headings[0]).toEqual({ version: "Unreleased", date: undefined });
    const released = headings.slice(1);
    expect(released.length).toBeGreaterThan(0);
    for (const r of released) expect(r.date, `## [${r.version}] needs " - YYYY-MM-DD"`).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const dates = released.map((r) => r.date!);
    expect([...dates].sort().reverse()).toEqual(dates);
    expect(released[0]!.version).toBe(manifest("package.json").version);
    // Each section sorts its entries under Keep a Changelog's headings only.
    for (const h of changelog.matchAll(/^### (.+)$/gm)) expect(["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"]).toContain(h[1]);
  });

  it("@presence-platform/client/proto exports every file of the generated contract", () => {
    const entry = readFileSync(join(ROOT, "packages", "client", "src", "proto.ts"), "utf8");
    const exported = [...entry.matchAll(/^export \* from "\.\.\/\.\.\/\.\.\/gen\/presence\/v1\/(\w+)\.js";$/gm)].map((m) => m[1]!);
    const generated = readdirSync(join(ROOT, "gen", "presence", "v1")).filter((f) => f.endsWith("_pb.ts")).map((f) => f.replace(/\.ts$/, ""));
    expect(exported.sort()).toEqual(generated.sort());
  });

  it("the contract passes buf breaking against the last release's image, and CI runs that check", () => {
    expect(() => buf(["breaking", "proto", "--against", BASELINE], ROOT)).not.toThrow();
    expect(readFileSync(join(ROOT, ".ci", "run"), "utf8")).toContain(`npx buf breaking proto --against ${BASELINE}`);
  });

  it("a field removed from the contract is a breaking change the check reports", async () => {
    const dir = await makeTempDir("presence-breaking-");
    temps.push(dir);
    for (const p of ["buf.yaml", "proto", "vendor/proto"]) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
    const file = join(dir, "proto", "presence", "v1", "presence.proto");
    const text = readFileSync(file, "utf8");
    // JoinRequest's room field, the first field of the first request message.
    const removed = text.replace(/(message JoinRequest \{[\s\S]*?)\n\s*string room = 1;[^\n]*/, "$1");
    expect(removed).not.toBe(text);
    writeFileSync(file, removed);
    let report = "";
    try {
      buf(["breaking", "proto", "--against", join(ROOT, BASELINE)], dir);
    } catch (e) {
      report = String((e as { stdout?: string }).stdout ?? "");
    }
    expect(report).toMatch(/Previously present field "1" with name "room" on message "JoinRequest" was deleted/);
  });
});
