import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { formatAge } from "../core/node-id.js";
import {
  KickSessionResponseSchema,
  ListNodesResponseSchema,
  ListRoomsResponseSchema,
  PurgeNodeResponseSchema,
} from "../../gen/presence/v1/admin_pb.js";
import { GetPresenceResponseSchema, GetUserStatusResponseSchema, WatchPresenceResponseSchema, type WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import type { Position } from "../../gen/presence/v1/types_pb.js";
import { UsageError, type ParsedArgs } from "./args.js";
import { HISTORY_COMMANDS } from "./history-commands.js";
import { roomView, table, userStatuses, watchLine } from "./format.js";
import { CALL_TIMEOUT_MS, describeError, type Clients } from "./rpc.js";

/**
 * The commands of `presence`, as data: usage line, one-line summary, and `run`. A command prints
 * its result to `out` (one JSON document with `--json`; `tail --json` prints one JSON object per
 * line) and resolves when done; server errors are thrown and printed by main.ts (exit 1).
 */
export interface CommandContext {
  args: ParsedArgs;
  clients: Clients;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM: `tail` ends cleanly. */
  signal: AbortSignal;
}

export interface Command {
  usage: string;
  summary: string;
  /** Exact number of positionals, or [min] for "at least". */
  arity: number | [number];
  run(ctx: CommandContext): Promise<void>;
}

const opts = (ctx: CommandContext) => ({ timeoutMs: CALL_TIMEOUT_MS, signal: ctx.signal });

export const COMMANDS: Record<string, Command> = {
  rooms: {
    usage: "rooms [--limit N]",
    summary: "busiest rooms first, with counts (limit 1..1000, default 20)",
    arity: 0,
    async run(ctx) {
      const r = await ctx.clients.admin.listRooms({ limit: ctx.args.limit ?? 0 }, opts(ctx));
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(ListRoomsResponseSchema, r, { alwaysEmitImplicit: true })));
      const rows = r.rooms.map((x) => [x.room, String(x.counts?.connections ?? 0), String(x.counts?.users ?? 0), String(x.counts?.anonymous ?? 0)]);
      ctx.out(table(["ROOM", "CONNECTIONS", "USERS", "ANONYMOUS"], rows, [1, 2, 3]));
      ctx.out(`${r.rooms.length} of ${r.totalRooms} rooms with connections`);
    },
  },

  room: {
    usage: "room <name>",
    summary: "a room's view: members and their connections, counts, typing",
    arity: 1,
    async run(ctx) {
      const r = await ctx.clients.presence.getPresence({ room: ctx.args.positionals[0]! }, opts(ctx));
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(GetPresenceResponseSchema, r, { alwaysEmitImplicit: true })));
      ctx.out(roomView(r.view!));
    },
  },

  tail: {
    usage: "tail <room>",
    summary: "a room's events live, one line each, until Ctrl-C (reconnects and resumes after a drain)",
    arity: 1,
    run: tail,
  },

  user: {
    usage: "user <user-id>...",
    summary: "users' status (online / away / offline) and last seen",
    arity: [1],
    async run(ctx) {
      const r = await ctx.clients.presence.getUserStatus({ userIds: ctx.args.positionals }, opts(ctx));
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(GetUserStatusResponseSchema, r, { alwaysEmitImplicit: true })));
      ctx.out(userStatuses(r.statuses, Date.now()));
    },
  },

  kick: {
    usage: "kick <session-id>",
    summary: "end a session: it leaves every room (reason KICKED)",
    arity: 1,
    async run(ctx) {
      const sessionId = ctx.args.positionals[0]!;
      const r = await ctx.clients.admin.kickSession({ sessionId }, opts(ctx));
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(KickSessionResponseSchema, r, { alwaysEmitImplicit: true })));
      ctx.out(`kicked session ${sessionId}: left ${r.roomsLeft} room${r.roomsLeft === 1 ? "" : "s"}`);
    },
  },

  nodes: {
    usage: "nodes",
    summary: "server nodes: alive or dead, last seen, sessions recorded",
    arity: 0,
    async run(ctx) {
      const r = await ctx.clients.admin.listNodes({}, opts(ctx));
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(ListNodesResponseSchema, r, { alwaysEmitImplicit: true })));
      const rows = r.nodes.map((n) => [
        n.nodeId + (n.nodeId === r.nodeId ? " (answering)" : ""),
        n.alive ? "alive" : "dead",
        n.lastSeenMs === 0n ? "never (only sessions name it)" : `${formatAge(Number(n.lastSeenAgeMs))} ago`,
        String(n.sessions),
      ]);
      ctx.out(table(["NODE", "STATE", "LAST SEEN", "SESSIONS"], rows, [3]));
      ctx.out(`a node is dead after ${formatAge(Number(r.deadAfterMs))} without announcing itself`);
    },
  },

  "purge-node": {
    usage: "purge-node <node-id> [--force]",
    summary: "kick every session of a dead node (--force: even if it was seen alive recently)",
    arity: 1,
    async run(ctx) {
      const nodeId = ctx.args.positionals[0]!;
      const r = await ctx.clients.admin.purgeNode({ nodeId, force: ctx.args.force }, opts(ctx));
      if (ctx.args.json) return ctx.out(JSON.stringify(toJson(PurgeNodeResponseSchema, r, { alwaysEmitImplicit: true })));
      ctx.out(`purged node ${nodeId}: ${r.sessionsKicked} session${r.sessionsKicked === 1 ? "" : "s"} kicked, ${r.roomsLeft} room leave${r.roomsLeft === 1 ? "" : "s"}`);
    },
  },

  ...HISTORY_COMMANDS,
};

/** Backoff between reconnects of `tail` after the server ended the stream as unavailable (drain, outage). */
const TAIL_RETRY_MS = [250, 500, 1_000, 2_000, 5_000];

/**
 * Watches the room and prints each message until the signal. A stream ended by the server with
 * `unavailable` (a draining node, a store outage) is reopened with `resume_from` the last applied
 * position, so nothing is missed (or a fresh snapshot says so); other errors end the command.
 */
async function tail(ctx: CommandContext): Promise<void> {
  const room = ctx.args.positionals[0]!;
  let resumeFrom: Position | undefined;
  let snapshots = 0;
  let failures = 0;
  for (;;) {
    try {
      for await (const m of ctx.clients.presence.watchPresence({ room, resumeFrom }, { signal: ctx.signal })) {
        failures = 0;
        resumeFrom = positionAfter(m, resumeFrom);
        if (m.message.case === "snapshot" && m.message.value.first) snapshots++;
        if (ctx.args.json) {
          if (m.message.case !== "keepalive") ctx.out(JSON.stringify(toJson(WatchPresenceResponseSchema, m)));
          continue;
        }
        const line = watchLine(m, Date.now(), m.message.case === "snapshot" && snapshots > 1);
        if (line !== null) ctx.out(line);
      }
      if (ctx.signal.aborted) return;
      throw new ConnectError("the server ended the stream", Code.Unavailable);
    } catch (e) {
      if (ctx.signal.aborted) return;
      const ce = ConnectError.from(e);
      if (ce.code !== Code.Unavailable) throw e;
      const waitMs = TAIL_RETRY_MS[Math.min(failures++, TAIL_RETRY_MS.length - 1)]!;
      ctx.err(`stream ended (${describeError(ce)}); reconnecting in ${waitMs} ms`);
      await new Promise((r) => setTimeout(r, waitMs));
      if (ctx.signal.aborted) return;
    }
  }
}

function positionAfter(m: WatchPresenceResponse, prev: Position | undefined): Position | undefined {
  const p = (epoch: string, version: bigint) => ({ $typeName: "presence.v1.Position" as const, epoch, version });
  if (m.message.case === "snapshot" && m.message.value.view) return p(m.message.value.view.epoch, m.message.value.view.version);
  if (m.message.case === "event") return p(m.message.value.epoch, m.message.value.version);
  return prev;
}

/** Checks the positionals of a command against its arity. */
export function checkArity(c: Command, positionals: string[]): void {
  const ok = typeof c.arity === "number" ? positionals.length === c.arity : positionals.length >= c.arity[0];
  if (!ok) throw new UsageError(`usage: presence ${c.usage}`);
}
