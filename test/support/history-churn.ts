import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type pg from "pg";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { tokenOf } from "./node-fault-kit.js";

/**
 * Churn and ground truth for the history fault tests (test/fault/history-*.fault.test.ts).
 *
 * `startChurn` drives heartbeat-bound sessions of a few users (and anonymous viewers) through
 * several rooms on whichever nodes are alive: joins, leaves, heartbeats, and sessions abandoned
 * (no more heartbeats: they time out and are reaped). It measures each Join's latency.
 *
 * `loggedEvents` is the ground truth: every membership event the store committed in a room,
 * replayed from the room's own event log (WatchPresence with `resume_from` = (epoch, 0)), which
 * keeps them for the test's duration (newest 1,000 / 2 min). `recordedRows` reads what the history
 * wrote, straight from PostgreSQL.
 */
export interface Churn {
  /** Join latencies (ms) with the time they were measured. */
  readonly joins: { atMs: number; ms: number }[];
  /** Errors of churn calls (a killed node's calls fail; they are retried on another node). */
  readonly errors: number;
  /** `n` joins through `rpcUrl` at once (fills that node's write queue). */
  burst(rpcUrl: string, n: number): Promise<void>;
  /** Stops the churn; with `abandon`, every live session stops heartbeating (they time out). */
  stop(opts: { abandon: boolean }): Promise<void>;
}

interface Live {
  sessionId: string;
  room: string;
  client: Client<typeof PresenceService>;
  heartbeat: boolean;
}

export async function startChurn(o: { nodes: () => string[]; rooms: readonly string[]; users: number; intervalMs: number; heartbeatMs: number }): Promise<Churn> {
  const managers: Http2SessionManager[] = [];
  const clients = new Map<string, Client<typeof PresenceService>>();
  const tokens = await Promise.all(Array.from({ length: o.users }, (_, i) => tokenOf(`user${i}`)));
  const clientFor = (rpcUrl: string, token: string | undefined) => {
    const key = `${rpcUrl} ${token ?? ""}`;
    let c = clients.get(key);
    if (!c) {
      const session = new Http2SessionManager(rpcUrl);
      managers.push(session);
      c = createClient(PresenceService, createGrpcTransport({ baseUrl: rpcUrl, sessionManager: session, interceptors: [(next) => (req) => (token && req.header.set("authorization", `Bearer ${token}`), next(req))] }));
      clients.set(key, c);
    }
    return c;
  };
  const live: Live[] = [];
  const joins: Churn["joins"] = [];
  let errors = 0;
  let stopped = false;
  const pick = <T>(a: readonly T[]) => a[Math.floor(Math.random() * a.length)]!;

  const join = async (rpcUrl: string) => {
    const anonymous = Math.random() < 0.15;
    const client = clientFor(rpcUrl, anonymous ? undefined : pick(tokens));
    const room = pick(o.rooms);
    const t = performance.now();
    const r = await client.join({ room, metadata: {}, ...(anonymous ? { anonymousId: `anon${Math.floor(Math.random() * 1e6)}` } : {}) });
    joins.push({ atMs: Date.now(), ms: performance.now() - t });
    live.push({ sessionId: r.session!.sessionId, room, client, heartbeat: true });
  };
  const step = async () => {
    const nodes = o.nodes();
    if (nodes.length === 0) return;
    const roll = Math.random();
    const beating = live.filter((l) => l.heartbeat);
    if (roll < 0.5 || beating.length < 4) return join(pick(nodes));
    const l = pick(beating);
    if (roll < 0.85) {
      live.splice(live.indexOf(l), 1);
      await l.client.leave({ sessionId: l.sessionId, room: l.room });
    } else l.heartbeat = false; // abandoned: it will time out
  };
  const loop = setInterval(() => void step().catch(() => errors++), o.intervalMs);
  const beat = setInterval(() => {
    for (const l of live) if (l.heartbeat && !stopped) void l.client.heartbeat({ sessionId: l.sessionId }).catch(() => errors++);
  }, o.heartbeatMs);

  return {
    joins,
    get errors() {
      return errors;
    },
    async burst(rpcUrl, n) {
      await Promise.all(Array.from({ length: n }, () => join(rpcUrl)));
    },
    async stop({ abandon }) {
      stopped = true;
      clearInterval(loop);
      if (abandon) {
        clearInterval(beat);
        for (const l of live) l.heartbeat = false;
      }
      await new Promise((r) => setTimeout(r, 50));
      if (abandon) for (const m of managers) m.abort();
    },
  };
}

/** A committed membership event as the room's log replays it. */
export interface LoggedEvent {
  room: string;
  epoch: string;
  version: number;
  kind: "join" | "leave" | "update" | "anonymous";
  connectionId: string;
  reason: string;
  timeMs: number;
}

const REASONS: Record<number, string> = { [LeaveReason.LEFT]: "left", [LeaveReason.TIMEOUT]: "timeout", [LeaveReason.KICKED]: "kicked" };

/** Every event of `room`'s current epoch, replayed from its log through `rpcUrl`; throws when the log no longer starts at version 1. */
export async function loggedEvents(rpcUrl: string, room: string): Promise<LoggedEvent[]> {
  const session = new Http2SessionManager(rpcUrl);
  const client = createClient(PresenceService, createGrpcTransport({ baseUrl: rpcUrl, sessionManager: session }));
  const abort = new AbortController();
  try {
    const now = (await client.getPresence({ room })).view!;
    const out: LoggedEvent[] = [];
    if (now.version === 0n) return out;
    for await (const m of client.watchPresence({ room, resumeFrom: { epoch: now.epoch, version: 0n } }, { signal: abort.signal })) {
      const c = m.message;
      if (c.case === "snapshot") throw new Error(`${room}: the log no longer starts at version 1 (got a snapshot at ${c.value.view?.version})`);
      if (c.case !== "event") continue;
      const e = c.value;
      const base = { room, epoch: e.epoch, version: Number(e.version), timeMs: Number(e.timeMs) };
      const ev = e.kind;
      if (ev.case === "joined") out.push({ ...base, kind: "join", connectionId: ev.value.connection?.connectionId ?? "", reason: "" });
      else if (ev.case === "left") out.push({ ...base, kind: "leave", connectionId: ev.value.connectionId, reason: REASONS[ev.value.reason] ?? `reason_${ev.value.reason}` });
      else if (ev.case === "updated") out.push({ ...base, kind: "update", connectionId: ev.value.connection?.connectionId ?? "", reason: "" });
      else if (ev.case === "anonymous") out.push({ ...base, kind: "anonymous", connectionId: "", reason: "" });
      if (e.version >= now.version) break;
    }
    return out;
  } finally {
    abort.abort();
    session.abort();
  }
}

export interface RecordedRow {
  room: string;
  epoch: string;
  version: number;
  kind: string;
  connection_id: string;
  reason: string;
  node_id: string;
  at_ms: number;
  recovered: boolean;
}

/** Membership rows the history holds for `rooms`, by (room, version). */
export async function recordedRows(pool: pg.Pool, rooms: readonly string[]): Promise<RecordedRow[]> {
  const r = await pool.query(
    `SELECT room, epoch, version::int, kind, connection_id, reason, node_id, at_ms::float8 AS at_ms, coalesce((detail->>'recovered')::boolean, false) AS recovered
FROM presence.activity WHERE version > 0 AND room = ANY($1::text[]) ORDER BY room, epoch, version`,
    [rooms],
  );
  return r.rows as RecordedRow[];
}

/** Percentile of `xs` (0..100). */
export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
