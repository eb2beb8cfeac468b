import { parseArgs } from "node:util";
import { SERVER_SPEC } from "../config/server-spec.js";

/**
 * Command-line parsing for `presence`: global options (`--url`, `--token`, `--json`, `--help`),
 * the command name, its positionals and its own options. Mistakes throw a UsageError (exit 2).
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface ParsedArgs {
  command: string;
  positionals: string[];
  url: string;
  token?: string;
  json: boolean;
  help: boolean;
  limit?: number;
  force: boolean;
  /** History commands (`activity`, `stats`): raw values, parsed by history-commands.ts. */
  history: { room?: string; user?: string; since?: string; until?: string; kinds?: string; at?: string; csv: boolean; ndjson: boolean };
}

/** A server on this machine at the configured default RPC port (`--url` / PRESENCE_URL say otherwise). */
export const LOCAL_URL = `http://127.0.0.1:${SERVER_SPEC.rpcPort.default}`;

/** Options every command accepts, and the commands that accept the others. */
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  limit: ["rooms", "activity"],
  force: ["purge-node"],
  room: ["activity", "stats", "room-at"],
  at: ["room-at"],
  since: ["activity", "stats"],
  until: ["activity", "stats"],
  user: ["activity"],
  kinds: ["activity"],
  csv: ["activity"],
  ndjson: ["activity"],
};

export function parseCliArgs(argv: string[], env: Record<string, string | undefined>): ParsedArgs {
  // Session ids are base64url and may start with "-": a word with one leading dash (other than
  // -h) is an argument, not an option. Such words are marked before parsing and unmarked after.
  const MARK = "\u0000";
  const marked = argv.map((a) => (/^-[^-]/.test(a) && a !== "-h" ? MARK + a : a));
  const unmark = (a: string) => (a.startsWith(MARK) ? a.slice(MARK.length) : a);
  let parsed;
  try {
    parsed = parseArgs({
      args: marked,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        limit: { type: "string" },
        force: { type: "boolean", default: false },
        room: { type: "string" },
        user: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        kinds: { type: "string" },
        at: { type: "string" },
        csv: { type: "boolean", default: false },
        ndjson: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const values = Object.fromEntries(Object.entries(parsed.values).map(([k, v]) => [k, typeof v === "string" ? unmark(v) : v])) as typeof parsed.values;
  const positionals = parsed.positionals.map(unmark);
  const [command = "", ...rest] = positionals;
  for (const [option, commands] of Object.entries(COMMAND_OPTIONS)) {
    const given = values[option as keyof typeof values];
    if (given !== undefined && given !== false && !commands.includes(command)) {
      throw new UsageError(`--${option} is an option of ${commands.map((c) => `"${c}"`).join(", ")} only`);
    }
  }
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1) throw new UsageError(`--limit: must be a positive integer (got ${JSON.stringify(values.limit)})`);
  }
  const url = values.url ?? env.PRESENCE_URL ?? LOCAL_URL;
  if (!/^https?:\/\/[^\s/]+/.test(url)) throw new UsageError(`--url: must be an http:// or https:// URL (got ${JSON.stringify(url)})`);
  const token = values.token ?? (env.PRESENCE_ADMIN_TOKEN || undefined);
  if (values.csv && values.ndjson) throw new UsageError("--csv and --ndjson: choose one");
  const history = { room: values.room, user: values.user, since: values.since, until: values.until, kinds: values.kinds, at: values.at, csv: values.csv, ndjson: values.ndjson };
  return { command, positionals: rest, url: url.replace(/\/+$/, ""), token, json: values.json, help: values.help, limit, force: values.force, history };
}
