import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HISTORY_SPEC } from "../../src/config.js";

// Keeps docs/history.md's option table true: every history option with its real default and range.
describe("docs/history.md", () => {
  const doc = readFileSync(new URL("../../docs/history.md", import.meta.url), "utf8");
  it.each(Object.values(HISTORY_SPEC).map((s) => [s.env, s] as const))("documents %s with its default and range", (_env, s) => {
    const fmt = (n: number) => n.toLocaleString("en-US");
    expect(doc).toContain(`| \`${s.env}\` | ${fmt(s.default)} | ${fmt(s.min)}–${fmt(s.max)} | ${s.doc} |`);
  });
  it("is linked from the README", () => {
    expect(readFileSync(new URL("../../README.md", import.meta.url), "utf8")).toContain("(docs/history.md)");
  });
});
