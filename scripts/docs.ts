import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderConfigurationPage } from "./docs/configuration-page.js";
import { renderErrorsPage } from "./docs/errors-page.js";

/**
 * Writes the generated reference pages under docs/ (`npm run docs`, or one page:
 * `npm run docs:config`, `npm run docs:errors`). `--check` writes nothing and exits 1 when a page is stale; the tests
 * under test/docs/ do the same check in `npm test`.
 */
export const GENERATED_PAGES: Record<string, { file: string; render: () => string }> = {
  config: { file: "docs/configuration.md", render: renderConfigurationPage },
  errors: { file: "docs/errors.md", render: renderErrorsPage },
};

const root = fileURLToPath(new URL("../", import.meta.url));
const args = process.argv.slice(2);
const check = args.includes("--check");
const names = args.filter((a) => a !== "--check");
let stale = 0;
for (const name of names.length > 0 ? names : Object.keys(GENERATED_PAGES)) {
  const page = GENERATED_PAGES[name];
  if (!page) throw new Error(`unknown page ${name}; pages: ${Object.keys(GENERATED_PAGES).join(", ")}`);
  const text = page.render();
  let current = "";
  try {
    current = readFileSync(root + page.file, "utf8");
  } catch {
    // not written yet
  }
  if (current === text) continue;
  if (check) {
    stale++;
    console.error(`${page.file} is stale: run npm run docs`);
  } else {
    writeFileSync(root + page.file, text);
    console.log(`wrote ${page.file}`);
  }
}
if (stale > 0) process.exit(1);
