import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/node-process.js";

/**
 * Apps compiled with `exactOptionalPropertyTypes` cannot pass a possibly-undefined value to an
 * optional property typed `x?: T` (only to `x?: T | undefined`), and `skipLibCheck` does not help:
 * the error is at their call site. So every optional property the SDK declares (options, props,
 * events, the types of callbacks it calls) says `| undefined`. Type assertions of globals
 * (`globalThis as { WebSocket?: … }`) only read, and are left alone; optional parameters accept
 * undefined anyway.
 *
 * A lexical check (TypeScript 7's compiler has no in-process AST API): comments are dropped, then
 * each `name?:` whose innermost open bracket is `{` (an interface or object type, not a parameter
 * list) must have a type with `undefined`, `unknown` or `any` at its top level.
 */
const SOURCES = ["client", "react"].flatMap((p) =>
  readdirSync(join(ROOT, "packages", p, "src"))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => join("packages", p, "src", f)),
);

const OPEN: Record<string, string> = { "(": ")", "{": "}", "[": "]", "<": ">" };
const CLOSE = new Set(Object.values(OPEN));

/** The innermost bracket open at `at`, and where it is. */
function enclosing(text: string, at: number): { bracket: string; index: number } | null {
  let depth = 0;
  for (let i = at - 1; i >= 0; i--) {
    const c = text[i]!;
    if (CLOSE.has(c) && !(c === ">" && text[i - 1] === "=")) depth++;
    else if (c in OPEN) {
      if (depth === 0) return { bracket: c, index: i };
      depth--;
    }
  }
  return null;
}

/** The declared type after `name?:`, up to the `;`, `,` or closing bracket that ends it. */
function typeAt(text: string, from: number): string {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c in OPEN) depth++;
    else if (CLOSE.has(c) && !(c === ">" && text[i - 1] === "=")) {
      if (depth === 0) return text.slice(from, i);
      depth--;
    } else if ((c === ";" || c === "," || c === "\n") && depth === 0) return text.slice(from, i);
  }
  return text.slice(from);
}

/** The top-level members of a union type. */
function unionMembers(type: string): string[] {
  const members: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < type.length; i++) {
    const c = type[i]!;
    if (c in OPEN) depth++;
    else if (CLOSE.has(c) && !(c === ">" && type[i - 1] === "=")) depth--;
    else if (c === "|" && depth === 0) {
      members.push(type.slice(start, i).trim());
      start = i + 1;
    }
  }
  members.push(type.slice(start).trim());
  return members;
}

/** `file:line name?: type` of every optional property whose type does not accept undefined. */
function strictOptionals(file: string, source = readFileSync(join(ROOT, file), "utf8")): string[] {
  // Comments out, lengths kept (line numbers stay right); `//` after a `:` is a URL in a string.
  const text = source.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " ")).replace(/(^|[^:])\/\/.*$/gm, (c, pre: string) => pre + " ".repeat(c.length - pre.length));
  const found: string[] = [];
  for (const m of text.matchAll(/\b(\w+)\?:/g)) {
    const open = enclosing(text, m.index);
    if (open?.bracket !== "{" || /\bas\s*$/.test(text.slice(0, open.index))) continue;
    const type = typeAt(text, m.index + m[0].length).trim();
    if (unionMembers(type).some((t) => t === "undefined" || t === "unknown" || t === "any")) continue;
    const line = text.slice(0, m.index).split("\n").length;
    found.push(`${file}:${line} ${m[1]}?: ${type}`);
  }
  return found;
}

describe("the SDK's optional properties under exactOptionalPropertyTypes", () => {
  it("the check finds optional properties without undefined, and only those", () => {
    const sample = [
      "export interface A { ok?: string | undefined; bad?: string; fn?: ((x: number) => void) | undefined }",
      "export interface B {",
      "  /** a comment with c?: string */",
      "  nested: { inner?: number; fine?: unknown };",
      "  map?: Record<string, { deep?: boolean | undefined }> | undefined;",
      "}",
      'const g = (globalThis as { WebSocket?: unknown; x?: string }).WebSocket; // url "ws://a?: b"',
      "function f(a?: string, o: { p?: string } = {}) {}",
    ].join("\n");
    expect(strictOptionals("sample.ts", sample)).toEqual(["sample.ts:1 bad?: string", "sample.ts:4 inner?: number", "sample.ts:8 p?: string"]);
  });

  it("every optional property of the client and the React bindings accepts undefined", () => {
    expect(SOURCES.length).toBeGreaterThan(20);
    expect(SOURCES.flatMap((f) => strictOptionals(f))).toEqual([]);
  });
});
