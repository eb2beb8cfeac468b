import { toJson } from "@bufbuild/protobuf";
import { ConnectError, Code } from "@connectrpc/connect";
import { ActivityKind, GetRoomAtResponseSchema, GetRoomStatisticsResponseSchema, ListActivityResponseSchema, type ActivityRecord } from "../../gen/presence/v1/history_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { formatAge } from "../core/node-id.js";
import { UsageError } from "./args.js";
import type { Command, CommandContext } from "./commands.js";
import { table } from "./format.js";
import { CALL_TIMEOUT_MS } from "./rpc.js";

/**
 * The history commands of `presence` (HistoryService and the export route; docs/history.md):
 *
 *   presence activity [--room R] [--user U] [--since T] [--until T] [--kinds k,…] [--limit N] [--csv | --ndjson]
 *   presence stats --room R [--since T] [--until T]
 *   presence room-at --room R [--at T]
 *
 * Times (`--since`, `--until`) are ISO 8601 (`2026-11-23T10:00Z`), ms since the Unix epoch, or an
 * age (`90s`, `15m`, `2h`, `7d` ago); omitted: the last 24 h up to now. `activity` prints at most
 * `--limit` rows (default 100) as a table, oldest first; `--csv` / `--ndjson` stream the whole
 * range from the server's export (any size; the server reads it page by page) to stdout.
 */

const AGE_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A time option as ms since the epoch; undefined when not given. Throws a UsageError naming the option. */
export function parseCliTime(option: string, value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const age = /^(\d+)([smhd])$/.exec(value);
  if (age) return nowMs - Number(age[1]) * AGE_UNITS[age[2]!]!;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`--${option}: must be an ISO 8601 time (2026-11-23T10:00Z), ms since the epoch, or an age like 15m, 2h, 7d (got ${JSON.stringify(value)})`);
  return t;
}

const KIND_NAMES = ["join", "leave", "update", "anonymous", "status", "admin", "gap"] as const;
const kindName = (k: ActivityKind) => KIND_NAMES[k - 1] ?? `kind_${k}`;
const kindOf = (name: string): ActivityKind => {
  const i = (KIND_NAMES as readonly string[]).indexOf(name);
  if (i < 0) throw new UsageError(`--kinds: unknown kind ${JSON.stringify(name)}; one of ${KIND_NAMES.join(", ")}`);
  return (i + 1) as ActivityKind;
};

const range = (ctx: CommandContext) => {
  const now = Date.now();
  return { sinceMs: parseCliTime("since", ctx.args.history.since, now) ?? 0, untilMs: parseCliTime("until", ctx.args.history.until, now) ?? 0 };
};

const callOpts = (ctx: CommandContext) => ({ timeoutMs: CALL_TIMEOUT_MS, signal: ctx.signal });

export const HISTORY_COMMANDS: Record<string, Command> = {
  activity: {
    usage: "activity [options]",
    summary: "the activity log (audit trail): --room R (or /prefix*) --user U --since T --until T --kinds k,… --limit N; --csv or --ndjson exports the whole range",
    arity: 0,
    async run(ctx) {
      const h = ctx.args.history;
      const { sinceMs, untilMs } = range(ctx);
      const kinds = (h.kinds ?? "").split(",").map((k) => k.trim()).filter(Boolean);
      if (h.csv || h.ndjson) return exportTo(ctx, { format: h.csv ? "csv" : "ndjson", room: h.room ?? "", user_id: h.user ?? "", since_ms: String(sinceMs), until_ms: String(untilMs), kinds: kinds.join(",") });
      const limit = ctx.args.limit ?? 100;
      const records: ActivityRecord[] = [];
      let pageToken = "";
      let more = false;
      do {
        const r = await ctx.clients.history.listActivity(
          { room: h.room ?? "", userId: h.user ?? "", sinceMs: BigInt(sinceMs), untilMs: BigInt(untilMs), kinds: kinds.map(kindOf), pageSize: 0, pageToken }, // the server's default page (100, or less if its maximum is lower)
          callOpts(ctx),
        );
        const take = r.records.slice(0, limit - records.length);
        records.push(...take);
        pageToken = r.nextPageToken;
        more = pageToken !== "" || take.length < r.records.length;
      } while (more && records.length < limit);
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(ListActivityResponseSchema, { $typeName: "presence.v1.ListActivityResponse", records, nextPageToken: "", sinceMs: 0n, untilMs: 0n })));
      const rows = records.map((r) => [
        new Date(Number(r.timeMs)).toISOString(),
        kindName(r.kind),
        r.room,
        r.userId || (r.kind === ActivityKind.ANONYMOUS ? "(anonymous)" : ""),
        r.connectionId,
        r.reason,
        r.nodeId,
      ]);
      ctx.out(table(["TIME", "KIND", "ROOM", "USER", "CONNECTION", "REASON", "NODE"], rows));
      ctx.out(`${records.length} rows${more ? ` (more: raise --limit, or export everything with --csv)` : ""}`);
    },
  },

  "room-at": {
    usage: "room-at --room R [--at T]",
    summary: "who was in a room at a moment (default now), from the activity log",
    arity: 0,
    async run(ctx) {
      const room = ctx.args.history.room;
      if (room === undefined) throw new UsageError("room-at: --room is required");
      const atMs = parseCliTime("at", ctx.args.history.at, Date.now()) ?? 0;
      const r = await ctx.clients.history.getRoomAt({ room, atMs: BigInt(atMs) }, callOpts(ctx));
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(GetRoomAtResponseSchema, r, { alwaysEmitImplicit: true })));
      const c = r.counts;
      ctx.out(`room ${r.room} at ${new Date(Number(r.atMs)).toISOString()}  epoch ${r.epoch || "-"}  version ${r.version}`);
      ctx.out(`users=${c?.users ?? 0} connections=${c?.connections ?? 0} anonymous=${c?.anonymous ?? 0}`);
      if (r.members.length > 0) ctx.out("\n" + table(["USER", "NAME", "CONNECTION", "JOINED"], r.members.map((m) => [m.userId, m.name, m.connectionId, new Date(Number(m.joinedAtMs)).toISOString()])));
      if (r.gaps > 0) ctx.out(`warning: ${r.gaps} gap(s) in the log before that moment: the list may be incomplete`);
    },
  },

  stats: {
    usage: "stats --room R [--since T]",
    summary: "a room's statistics (--since/--until T: ISO time, ms, or an age like 2h; default the last 24 h)",
    arity: 0,
    async run(ctx) {
      const room = ctx.args.history.room;
      if (room === undefined) throw new UsageError("stats: --room is required");
      const { sinceMs, untilMs } = range(ctx);
      const s = await ctx.clients.history.getRoomStatistics({ room, sinceMs: BigInt(sinceMs), untilMs: BigInt(untilMs) }, callOpts(ctx));
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(GetRoomStatisticsResponseSchema, s, { alwaysEmitImplicit: true })));
      const iso = (ms: bigint) => new Date(Number(ms)).toISOString();
      ctx.out(`room ${s.room}  ${iso(s.sinceMs)} – ${iso(s.untilMs)}`);
      ctx.out(
        table(["UNIQUE USERS", "SESSIONS", "TOTAL PRESENCE", "AVERAGE", "PEAK CONNECTIONS", "PEAK AT"], [
          [String(s.uniqueUsers), String(s.sessions), formatAge(Number(s.totalPresenceMs)), formatAge(Number(s.averagePresenceMs)), String(s.peakConnections), s.peakAtMs === 0n ? "-" : iso(s.peakAtMs)],
        ]),
      );
      if (s.joinsPerHour.length > 0) ctx.out("\n" + table(["HOUR (UTC)", "JOINS"], s.joinsPerHour.map((h) => [iso(h.hourStartMs).slice(0, 16), String(h.joins)]), [1]));
      if (s.gaps > 0) ctx.out(`warning: ${s.gaps} gap(s) in the range (rows dropped while the history database was down): figures may be low`);
    },
  },
};

/** Streams the export route's body to stdout (with backpressure); a truncated transfer is an error. */
async function exportTo(ctx: CommandContext, q: Record<string, string>): Promise<void> {
  const headers: Record<string, string> = ctx.args.token ? { authorization: `Bearer ${ctx.args.token}` } : {};
  const res = await fetch(`${ctx.args.url}/v1/history/export?${new URLSearchParams(q)}`, { headers, signal: ctx.signal });
  if (res.status !== 200) {
    const body = (await res.json().catch(() => ({}))) as { code?: string; reason?: string; message?: string };
    throw new ConnectError(body.message ?? `HTTP ${res.status}`, codeOf(body.code), undefined, body.reason ? [{ desc: ErrorInfoSchema, value: { reason: body.reason, domain: "presence.v1" } }] : []);
  }
  for await (const chunk of res.body!) {
    if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
  }
}

const codeOf = (name: string | undefined): Code => {
  const key = (name ?? "unknown").replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code;
  return typeof Code[key] === "number" ? (Code[key] as Code) : Code.Unknown;
};
