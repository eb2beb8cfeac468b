import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./node-process.js";

/**
 * Code blocks of the README (or another page) that tests run: each is a fenced block right after
 * an HTML comment `<!-- test: <name> … -->`, so the page shows the block and the test runs
 * exactly what a reader copies. test/docs/readme-commands.test.ts checks that every quick-start
 * block has such a marker and that a test uses each marker.
 */
export interface DocBlock {
  name: string;
  /** The fence's language (`bash`, `tsx`, …). */
  lang: string;
  code: string;
}

const MARKER = /<!-- test: ([\w-]+)[^>]*-->\s*\n```(\w*)\n([\s\S]*?)\n```/g;

/** Every marked block of a page (path relative to the repository root). */
export function docBlocks(page = "README.md"): DocBlock[] {
  const text = readFileSync(join(ROOT, page), "utf8");
  return [...text.matchAll(MARKER)].map((m) => ({ name: m[1]!, lang: m[2]!, code: m[3]! }));
}

/** The block marked `name`; throws when the page has none, or more than one. */
export function docBlock(name: string, page = "README.md"): DocBlock {
  const found = docBlocks(page).filter((b) => b.name === name);
  if (found.length !== 1) throw new Error(`${page} has ${found.length} blocks marked <!-- test: ${name} --> (expected 1)`);
  return found[0]!;
}

/** The commands of a shell block: one per line, comments and blank lines dropped. */
export function commandsOf(block: DocBlock): string[] {
  return block.code
    .split("\n")
    .map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter((l) => l !== "");
}
