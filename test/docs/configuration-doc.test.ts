import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderConfigurationPage } from "../../scripts/docs/configuration-page.js";
import { CONFIG_SECTIONS, loadConfig, SETTING_SPEC } from "../../src/config.js";
import { ERROR_REASONS } from "../../src/core/error-policy.js";

/*
 * The option spec tables (src/config/) are the one source: docs/configuration.md must be what
 * `npm run docs` renders from them, the README's short table must agree with them, and every
 * PRESENCE_* variable that code, docs or the contract names must be an option (a renamed or removed
 * option leaves no stale reference behind).
 */

const ROOT = new URL("../../", import.meta.url);
const read = (p: string) => readFileSync(new URL(p, ROOT), "utf8");
const ints = CONFIG_SECTIONS.flatMap((s) => Object.values(s.ints ?? {}));
const settings = CONFIG_SECTIONS.flatMap((s) => Object.values(s.settings ?? {}));
const options = new Map([...ints, ...settings].map((o) => [o.env, o]));
/** Read by the admin CLI (src/cli/args.ts), not by the server. */
const CLI_VARIABLES = ["PRESENCE_URL", "PRESENCE_ADMIN_TOKEN"];
/** Read by the backend examples and quick starts (where the client finds the server), not by the server: variable → a file reading it. */
const CLIENT_VARIABLES: Record<string, string> = {
  PRESENCE_TARGET: "clients/python/examples/fastapi_messenger/app.py",
  PRESENCE_TOKEN: "docs/backends.md",
};
/**
 * Options a landed contract documents before the code that reads them lands, with their owner.
 * An entry goes when its option is in a spec table (it is then redundant here).
 */
const PLANNED: Record<string, string> = {};

function files(dir: string, ext: RegExp, withTests = false): string[] {
  return readdirSync(new URL(dir, ROOT), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && ext.test(e.name) && (withTests || !e.name.endsWith(".test.ts")))
    .map((e) => `${e.parentPath.slice(new URL(".", ROOT).pathname.length)}/${e.name}`.replace(/^\/+/, ""));
}

describe("configuration", () => {
  it("docs/configuration.md is current (npm run docs)", () => {
    expect(read("docs/configuration.md"), "docs/configuration.md differs from the spec tables: run npm run docs").toBe(renderConfigurationPage());
  });

  it("names every variable once, with a default inside its bounds, and loads every default", () => {
    expect(options.size).toBe(ints.length + settings.length);
    for (const s of ints) expect(s.default >= s.min && s.default <= s.max, s.env).toBe(true);
    for (const s of [...ints, ...settings]) expect(s.env, s.env).toMatch(/^PRESENCE_[A-Z0-9_]+$/);
    expect(() => loadConfig({})).not.toThrow();
  });

  it("refuses a value out of range, naming the variable and the range", () => {
    for (const s of ints) {
      expect(() => loadConfig({ [s.env]: String(s.max + 1) }), s.env).toThrow(`${s.env}="${s.max + 1}": must be an integer from ${s.min} to ${s.max}`);
    }
    expect(() => loadConfig({ [SETTING_SPEC.allowAnonymous.env]: "perhaps" })).toThrow(/PRESENCE_ALLOW_ANONYMOUS="perhaps": must be true or false/);
  });

  it("keeps the README's short table true to the spec", () => {
    const readme = read("README.md");
    const start = readme.indexOf("### Configuration");
    const section = readme.slice(start, readme.indexOf("\n## ", start));
    const rows = [...section.matchAll(/^\| `(PRESENCE_\w+)` \| ([^|]+) \|/gm)];
    expect(rows.length).toBeGreaterThan(5);
    for (const [, env, shown] of rows) {
      const o = options.get(env!);
      expect(o, `${env} in the README is not an option`).toBeDefined();
      const expected = "min" in o! ? String(o.default) : o!.default === null ? "(none)" : `\`${o!.default}\``;
      expect(shown!.trim(), env).toBe(expected);
    }
  });

  it("every PRESENCE_* variable named in src/, the SDK packages, docs/, proto/ and the READMEs is an option", () => {
    const sources = [...files("src", /\.ts$/), ...files("packages/client/src", /\.ts$/), ...files("packages/react/src", /\.ts$/), "packages/client/README.md", ...files("docs", /\.md$/), ...files("proto", /\.proto$/), "README.md"];
    // Knobs of the test suite and the benchmarks (PRESENCE_MODEL_RUNS, PRESENCE_FUZZ_SECONDS, …), read there.
    const knobs = new Set(
      [...files("test", /\.ts$/, true), ...files("bench", /\.ts$/, true)].flatMap((f) => [...read(f).matchAll(/process\.env\.(PRESENCE_\w+)/g)].map((m) => m[1]!)),
    );
    // Enum values of the contract (PRESENCE_OVERRIDE_AUTO = 1;) share the prefix; they are not variables.
    const enumValues = new Set(files("proto", /\.proto$/).flatMap((f) => [...read(f).matchAll(/^\s*(PRESENCE_\w+) = \d+;/gm)].map((m) => m[1]!)));
    const unknown: string[] = [];
    for (const f of sources) {
      for (const m of read(f).matchAll(/\bPRESENCE_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        const known = options.has(m[0]) || CLI_VARIABLES.includes(m[0]) || Object.hasOwn(CLIENT_VARIABLES, m[0]) || knobs.has(m[0]) || Object.hasOwn(PLANNED, m[0]);
        // Error reasons such as PRESENCE_NOT_FOUND share the prefix; they are not variables.
        if (!known && !Object.hasOwn(ERROR_REASONS, m[0]) && !enumValues.has(m[0])) unknown.push(`${f}: ${m[0]}`);
      }
    }
    expect(unknown).toEqual([]);
    for (const v of CLI_VARIABLES) expect(read("src/cli/args.ts")).toContain(`env.${v}`);
    for (const [v, file] of Object.entries(CLIENT_VARIABLES)) expect(read(file), file).toMatch(new RegExp(`(environ\\.get\\("|env\\.)${v}\\b`));
  });
});
