import { describe, expect, it } from "vitest";
import { compileGlob, MAX_PATTERN_LENGTH } from "./glob-pattern.js";
import { PresenceError } from "./presence-error.js";

const m = (pattern: string, name: string) => compileGlob(pattern).matches(name);

describe("glob patterns", () => {
  it("an exact pattern matches only its own name", () => {
    expect(m("/docs/intro", "/docs/intro")).toBe(true);
    expect(m("/docs/intro", "/docs/intro/")).toBe(false);
    expect(m("/docs/intro", "/Docs/intro")).toBe(false);
    expect(compileGlob("/docs/intro").exact).toBe(true);
  });

  it("* stays inside one path segment", () => {
    expect(m("/docs/*", "/docs/intro")).toBe(true);
    expect(m("/docs/*", "/docs/")).toBe(true);
    expect(m("/docs/*", "/docs/a/b")).toBe(false);
    expect(m("chat:*", "chat:42")).toBe(true);
    expect(m("*", "doc-17")).toBe(true);
    expect(m("*", "/x")).toBe(false);
    expect(m("/t/*/players", "/t/5/players")).toBe(true);
    expect(m("/t/*/players", "/t/5/games")).toBe(false);
  });

  it("** crosses segments; alone it matches every name", () => {
    expect(m("**", "/any/thing/at/all")).toBe(true);
    expect(m("/docs/**", "/docs/a/b/c")).toBe(true);
    expect(m("/docs/**", "/doc")).toBe(false);
    expect(m("**/edit", "/a/b/edit")).toBe(true);
    expect(m("**/edit", "/a/b/view")).toBe(false);
    expect(m("/a/**/z", "/a/z")).toBe(false); // the slashes around ** are literal
    expect(m("/a/**/z", "/a//z")).toBe(true);
    expect(m("/a/**/z", "/a/b/c/z")).toBe(true);
  });

  it("several wildcards, and a star that matches nothing", () => {
    expect(m("doc-*-v*", "doc-17-v2")).toBe(true);
    expect(m("doc-*-v*", "doc--v")).toBe(true);
    expect(m("doc-*-v*", "doc-17-x2")).toBe(false);
    expect(m("a*b*c", "abc")).toBe(true);
    expect(m("a*b*c", "aXbYcZ")).toBe(false);
    expect(m("***", "a/b")).toBe(true); // three stars are a globstar
  });

  it("backslash escapes a star or itself", () => {
    expect(m("a\\*", "a*")).toBe(true);
    expect(m("a\\*", "ab")).toBe(false);
    expect(m("a\\\\b", "a\\b")).toBe(true);
    expect(compileGlob("a\\*").exact).toBe(true);
  });

  it("specificity counts literal characters", () => {
    expect(compileGlob("/docs/intro").literalLength).toBeGreaterThan(compileGlob("/docs/*").literalLength);
    expect(compileGlob("/docs/*").literalLength).toBeGreaterThan(compileGlob("**").literalLength);
  });

  it("refuses empty, too long and dangling-escape patterns, naming the field", () => {
    for (const bad of ["", "x".repeat(MAX_PATTERN_LENGTH + 1), "abc\\"]) {
      let err: unknown;
      try {
        compileGlob(bad, "capability key");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PresenceError);
      expect((err as PresenceError).message).toMatch(/^capability key: /);
    }
  });

  it("stays fast on adversarial patterns (no backtracking)", () => {
    const pattern = compileGlob("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
    const name = "a".repeat(256);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) expect(pattern.matches(name)).toBe(false);
    // 100 runs of 256 × 34 steps: far under a second even on a loaded machine (a backtracking
    // matcher takes longer than the test timeout here).
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
