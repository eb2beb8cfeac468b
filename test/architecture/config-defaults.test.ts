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
  IDLE_BUCKETS: "Redis data layout of the managed rooms' idle index (like SESSION_BUCKETS)",
  MAX_DELAY_MS: "setTimeout's own maximum (2^31 - 1)",
  MIN_COMPACT: "heap compaction heuristic of the expiry queue",
  TERMINAL_CLOSE_MIN: "protocol constant: the first 'do not reconnect' close code",
  // Store internals the store track owns (issue 10 items 1-3 rewrite these files); candidates for
  // options, listed so that they are a decision and not an accident.
  REAP_CLAIM_MS: "store internal: how long one reaper claims a batch (store track)",
  REAP_BATCH: "store internal: sessions reaped per script call; a full claim is claimed again in the same pass (store track)",
  QUOTA_CHECK_AFTER_TTLS: "store internal: a sessions-quota entry is checked against its session record only after this many TTLs, so a join in flight is never taken for a leftover (perfredis track)",
  SMALL_SESSIONS: "memory store internal: a user's sessions kept as a pair list up to this many, a Map above (representation only, no behaviour; wsmem)",
  AWAY_BATCH: "store internal: due sessions one away-sweep script call handles per bucket (bounds one script's run; the rest wait one PRESENCE_AWAY_CHECK_MS)",
  NODE_RETENTION_MS: "store internal: node registry entries kept 24 h (store track)",
  PURGE_CONCURRENCY: "store internal: parallel kicks of a node purge (store track)",
  SCAN_COUNT: "store internal: SCAN page size (store track)",
  RECONNECT_WAIT_MS: "store internal: wait for the subscriber after data loss (store track)",
  LOCK_MS: "store internal: orphan sweep lock lifetime (store track)",
  MAX_OPEN_ATTEMPTS: "store internal: retries of a first Join racing an expiry (store track)",
  FIRST_CALL: "protocol constant of lua/lib/sessions.lua (a new session's first call number)",
  MIN_UDP_SECRET_BYTES: "HMAC-SHA256 key size floor (like MIN_HS256_SECRET_BYTES)",
  SENT: "engine send result code (uWS's 1 / 0 / 2)",
  BUFFERED: "engine send result code",
  DROPPED: "engine send result code",
  SWEEP_EVERY: "broadcast: idle rate buckets are swept every this many calls (work spreading, not a limit)",
  BIND_CHUNK: "Track reclaim: sessions re-bound per store call (a work unit; the stream's in-flight limit is PRESENCE_TRACK_MAX_IN_FLIGHT)",
  RECLAIM_PAGE: "Track: reclaimed presences per `reclaimed` message (keeps each message far below the 4 MiB gRPC default)",
  REPLAY_WINDOW_S: "webhook receivers' replay window (Standard Webhooks' 5 minutes), a parameter of verifyWebhook, not a server option",
  MAX_SESSION_ID_CHARS: "session ids are issued by the server (24 characters, ids.ts): the bound only refuses garbage early",
  MAX_PRESENCE_DEPTH: "JSON nesting bound of typed presence (parser safety, not a tuning)",
  STAR: "token code of the glob matcher (src/core/glob-pattern.ts)",
  GLOBSTAR: "token code of the glob matcher",
  MAX_PATTERN_LENGTH: "parser bound of one rights pattern (the count per map is PRESENCE_MAX_CLAIM_ENTRIES / PRESENCE_MAX_RIGHTS_ENTRIES)",
  RECENT_LIVE: "faults track: live events remembered per room to tell a duplicate delivery from a rollback (fan-out internal; candidate option)",
  // Landed before the one-source check; each is a candidate option of its owner (listed in the
  // errors track's report): until then a decision on record, not an accident.
  MAX_IDLE_TIMEOUT_MS: "seeds track: managed room idle timeout bound (candidate option)",
  MIN_AWAY_AFTER_MS: "seeds track: managed room away_after_ms bound (candidate option)",
  MAX_AWAY_AFTER_MS: "seeds track: managed room away_after_ms bound (candidate option)",
  MAX_END_REASON_BYTES: "seeds track: EndRoom reason length (candidate option)",
  MAX_SCOPE_BYTES: "seeds track: scope name length (candidate option)",
  DEFAULT_LIST_PAGE_SIZE: "seeds track: ListOnline page size default (candidate option)",
  RETRY_MIN_MS: "history track: shortest pause between retries of a failed batch (PRESENCE_HISTORY_RETRY_MAX_MS is the option)",
  DEFAULT_PAGE_SIZE: "history track: ListActivity page size default (candidate option)",
  DEFAULT_RANGE_MS: "history track: default query range (candidate option)",
};

/** Numeric fallbacks on options that landed before this check, by file, with their owner. */
const FALLBACKS: Record<string, string> = {
  "src/store/redis/redis-scope-store.ts": "seeds track: maxTies ?? 1_000 (candidate option)",
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
        if (d && !Object.hasOwn(NOT_OPTIONS, d[1]!)) found.push(`${at}: ${d[1]} is a default outside src/config/`);
        if (OPTION_FALLBACK.test(line) && !Object.hasOwn(FALLBACKS, `src/${file}`)) found.push(`${at}: numeric fallback on an option (${line.trim()}); take the configured value`);
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
