import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/*
 * One source for every default and bound: the option spec tables in src/config/. This scan of
 * src/ (tests excluded) keeps a second set of defaults from growing back, by three rules:
 *
 * 1. no `DEFAULT_*` / `*_DEFAULT` constant outside src/config/;
 * 2. no numeric fallback on a property of an options object (`options.x ?? 30_000`,
 *    `o.x ?? 0`, `conn.x ?? …`, `this.o.x ?? …`): a module takes the configured value;
 * 3. a module-level numeric constant is either an option (then it belongs in a spec table) or one
 *    of the constants below that are not configuration, each with the reason it is not.
 */

/** Module-level numeric constants that are not options, and why. */
const NOT_OPTIONS: Record<string, string> = {
  MAX_DEMO_NAME_CHARS: "demo page contract (the name field's length), not a server limit",
  SUFFIX_CHARS: "format of demo user ids",
  MIN_HS256_SECRET_BYTES: "RFC 7518 §3.2 minimum key size",
  MAX_TOKEN_CHARS: "sanity bound before parsing a bearer token; HTTP header limits already apply",
  MAX_CACHED_TOKEN_CHARS: "which tokens the cache hashes (cache policy, documented with PRESENCE_TOKEN_CACHE_SIZE)",
  CALL_TIMEOUT_MS: "the admin CLI's own call timeout (the CLI is a client)",
  EXIT_OK: "process exit code",
  EXIT_SERVER_ERROR: "process exit code",
  EXIT_USAGE: "process exit code",
  SESSION_BUCKETS: "Redis data layout (changing it needs a migration, not a restart)",
  MAX_DELAY_MS: "setTimeout's own maximum (2^31 - 1)",
  MIN_COMPACT: "heap compaction heuristic of the expiry queue",
  TERMINAL_CLOSE_MIN: "protocol constant: the first 'do not reconnect' close code",
  // Store internals the store track owns (issue 10 items 1-3 rewrite these files); candidates for
  // options, listed so that they are a decision and not an accident.
  REAP_CLAIM_MS: "store internal: how long one reaper claims a batch (store track)",
  REAP_BATCH: "store internal: sessions reaped per script call (store track)",
  NODE_RETENTION_MS: "store internal: node registry entries kept 24 h (store track)",
  PURGE_CONCURRENCY: "store internal: parallel kicks of a node purge (store track)",
  SCAN_COUNT: "store internal: SCAN page size (store track)",
  RECONNECT_WAIT_MS: "store internal: wait for the subscriber after data loss (store track)",
  LOCK_MS: "store internal: orphan sweep lock lifetime (store track)",
  MAX_OPEN_ATTEMPTS: "store internal: retries of a first Join racing an expiry (store track)",
  FIRST_CALL: "protocol constant of lua/lib/sessions.lua (a new session's first call number)",
};

const SRC = new URL("../../src/", import.meta.url);
const sources = readdirSync(SRC, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
  .map((e) => `${e.parentPath}/${e.name}`.slice(SRC.pathname.length).replace(/^\/+/, ""))
  .filter((p) => p !== "config.ts" && !p.startsWith("config/"));

const DEFAULT_NAME = /^\s*(?:export\s+)?(?:const|let)\s+((?:[A-Z0-9_]*_)?DEFAULT(?:_[A-Z0-9_]*)?)\b/;
const OPTION_FALLBACK = /\b(?:options|opts|o|conn|this\.o|config|cfg)\.\w+\s*\?\?\s*-?\(?\d/;
const NUMERIC_CONSTANT = /^(?:export\s+)?const\s+([A-Z][A-Z0-9_]*)\s*(?::[^=]+)?=\s*-?\(?\d[\d_\s*+().]*;/;

function scan(): string[] {
  const found: string[] = [];
  for (const file of sources) {
    readFileSync(new URL(file, SRC), "utf8")
      .split("\n")
      .forEach((line, i) => {
        const at = `src/${file}:${i + 1}`;
        const d = DEFAULT_NAME.exec(line);
        if (d) found.push(`${at}: ${d[1]} is a default outside src/config/`);
        if (OPTION_FALLBACK.test(line)) found.push(`${at}: numeric fallback on an option (${line.trim()}); take the configured value`);
        const c = NUMERIC_CONSTANT.exec(line);
        if (c && !Object.hasOwn(NOT_OPTIONS, c[1]!)) found.push(`${at}: ${c[1]} is a numeric constant: make it an option in src/config/, or list it in NOT_OPTIONS with the reason`);
      });
  }
  return found;
}

describe("one source for defaults", () => {
  it("finds no default outside src/config/ (options are taken, not defaulted)", () => {
    expect(sources.length).toBeGreaterThan(50);
    expect(scan()).toEqual([]);
  });

  it("the rules catch what they are meant to", () => {
    expect(DEFAULT_NAME.test("export const DEFAULT_URL = 1;")).toBe(true);
    expect(DEFAULT_NAME.test("const LIST_ROOMS_DEFAULT = 20;")).toBe(true);
    expect(OPTION_FALLBACK.test("const t = options.sniffTimeoutMs ?? 10_000;")).toBe(true);
    expect(OPTION_FALLBACK.test("const t = this.o.probeTimeoutMs ?? (2_000);")).toBe(true);
    expect(OPTION_FALLBACK.test("const n = counts.get(k) ?? 0;")).toBe(false);
    expect(NUMERIC_CONSTANT.exec("export const NODE_RETENTION_MS = 24 * 3_600_000;")?.[1]).toBe("NODE_RETENTION_MS");
    expect(NUMERIC_CONSTANT.exec('export const NAME = "x";')).toBeNull();
  });
});
