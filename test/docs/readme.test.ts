import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ACCESS_SPEC, QUOTA_SPEC } from "../../src/config-access.js";
import { LIMIT_SPEC, SEEDS_SPEC, SERVER_SPEC, TIMING_SPEC } from "../../src/config.js";

// Keeps the README's configuration table true: every option is documented with its real default.
describe("README", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const specs = [
    ...Object.values(SERVER_SPEC),
    ...Object.values(TIMING_SPEC),
    ...Object.values(LIMIT_SPEC),
    ...Object.values(SEEDS_SPEC),
    ...Object.values(ACCESS_SPEC),
    ...Object.values(QUOTA_SPEC).flatMap((c) => Object.values(c)),
  ];
  it.each(specs.map((s) => [s.env, s] as const))("documents %s with its default and range", (_env, s) => {
    const fmt = (n: number) => n.toLocaleString("en-US");
    expect(readme).toContain(`| \`${s.env}\` | ${fmt(s.default)} | ${fmt(s.min)}–${fmt(s.max)} |`);
  });
});
