/**
 * Generator process of the peer benchmark (bench/run.ts): holds thousands of PeerClients of one
 * server kind on its own source address and runs the scenario's load (join storm, churn, typing,
 * cursors, reconnects) on command over IPC (bench/lib/workers.ts). It reports counters, never
 * raw samples: latencies go into a log histogram that the orchestrator merges.
 */
import { signTestToken, TEST_SECRET } from "../../test/support/tokens.js";
import { Histogram } from "./histogram.js";
import { now, PeerClient, type Protocol } from "./peer-client.js";
import { pool } from "./raw-ws.js";
import { serveWorker } from "./workers.js";

export type GenCommand =
  | {
      type: "open";
      kind: Protocol;
      port: number;
      localAddress: string;
      users: string[];
      rooms: string[];
      /** The first `probes` clients decode every message for latency. */
      probes: number;
      countOnly: boolean;
      /** Join (and watch) each client's room right after connecting. */
      join: boolean;
      /** Peers: after joining, count the non-probe clients' frames from headers only (PeerClient.countFramesOnly). */
      headerOnly?: boolean;
    }
  | { type: "storm"; at: number; spreadMs: number }
  | { type: "target"; target: number }
  | { type: "counters" }
  | { type: "resetStats" }
  | { type: "churn"; opsPerS: number; typers: number; typingHz: number }
  | { type: "cursors"; hz: number }
  | { type: "stopLoad" }
  | { type: "reconnect"; jitterMs: number }
  | { type: "close" };

export interface GenCounters {
  clients: number;
  open: number;
  joined: number;
  framesIn: number;
  bytesIn: number;
  snapshotPagesIn: number;
  deliveries: number;
  joinsSeen: number;
  leavesSeen: number;
  redundantMemberEvents: number;
  earlyMemberEvents: number;
  /** Clients whose view size equals the target. */
  converged: number;
  /** Joined clients whose view holds more / fewer than the target; clients not joined (diagnostics). */
  over: number;
  under: number;
  unjoined: number;
  /** Latest time a client reached the target (NaN while some have not). */
  lastConvergedAt: number;
  reconnects: number;
  lastReconnectAt: number;
  sent: number;
  reclaimRetries: number;
  freshRejoins: number;
  latency: [number, number][];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function main(): void {
  let clients: PeerClient[] = [];
  const latency = new Histogram();
  const timers: NodeJS.Timeout[] = [];
  let reconnects = 0;
  let lastReconnectAt = NaN;
  let sent = 0;
  let reconnectJitter = -1;

  async function open(c: Extract<GenCommand, { type: "open" }>) {
    const t0 = now();
    const list: PeerClient[] = new Array(c.users.length);
    let failed = 0;
    const exp = 6 * 3600;
    await pool(c.users.length, 200, async (i) => {
      const user = c.users[i]!;
      const token = c.kind === "presence" ? await signTestToken(TEST_SECRET, { sub: user, name: user }, exp) : undefined;
      const pc = new PeerClient({ kind: c.kind, port: c.port, localAddress: c.localAddress, user, token, probe: i < c.probes, latency, countOnly: c.countOnly });
      pc.room = c.rooms[i]!;
      try {
        await pc.connect();
        if (c.join) await pc.join(pc.room);
        if (c.join && c.headerOnly) pc.countFramesOnly();
        list[i] = pc;
      } catch {
        failed++;
      }
    });
    clients = list.filter((x): x is PeerClient => x !== undefined);
    return { connected: clients.length, joined: clients.filter((x) => x.joined).length, failed, seconds: (now() - t0) / 1000 };
  }

  function counters(): GenCounters {
    const out: GenCounters = { clients: clients.length, open: 0, joined: 0, framesIn: 0, bytesIn: 0, snapshotPagesIn: 0, deliveries: 0, joinsSeen: 0, leavesSeen: 0, redundantMemberEvents: 0, earlyMemberEvents: 0, reclaimRetries: 0, freshRejoins: 0, converged: 0, over: 0, under: 0, unjoined: 0, lastConvergedAt: -Infinity, reconnects, lastReconnectAt, sent, latency: latency.counts() };
    for (const c of clients) {
      c.syncStats();
      if (c.ws && !c.ws.closed) out.open++;
      if (c.joined) out.joined++;
      out.framesIn += c.stats.framesIn;
      out.bytesIn += c.stats.bytesIn;
      out.snapshotPagesIn += c.stats.snapshotPagesIn;
      out.deliveries += c.stats.deliveries;
      out.joinsSeen += c.stats.joinsSeen;
      out.leavesSeen += c.stats.leavesSeen;
      out.redundantMemberEvents += c.stats.redundantMemberEvents;
      out.earlyMemberEvents += c.stats.earlyMemberEvents;
      out.reclaimRetries += c.stats.reclaimRetries;
      out.freshRejoins += c.stats.freshRejoins;
      if (c.joined && c.count === c.target) out.converged++;
      else if (!c.joined) out.unjoined++;
      else if (c.count > c.target) out.over++;
      else out.under++;
      out.lastConvergedAt = Math.max(out.lastConvergedAt, c.convergedAt);
    }
    return out;
  }

  function reconnectLoop(c: PeerClient) {
    c.ws!.onClose = () => {
      if (reconnectJitter < 0) return;
      c.joined = false;
      c.count = -1;
      c.convergedAt = NaN;
      const attempt = () => {
        c.connect().then(
          () => {
            reconnectLoop(c);
            c.join(c.room, true).then(
              () => {
                reconnects++;
                lastReconnectAt = Number.isNaN(lastReconnectAt) ? now() : Math.max(lastReconnectAt, now());
              },
              () => c.ws?.destroy(), // not answered: reconnect again
            );
          },
          () => setTimeout(attempt, 100 + Math.random() * 100),
        );
      };
      // After refused reclaims the window doubles per refusal in a row (capped at 16×): the SDK's backoff.
      setTimeout(attempt, Math.random() * reconnectJitter * 2 ** Math.min(c.refusalsInARow, 4));
    };
  }

  serveWorker<GenCommand>(async (c) => {
    switch (c.type) {
      case "open":
        return open(c);
      case "storm": {
        const n = clients.length;
        await Promise.all(
          clients.map(async (pc, i) => {
            const at = c.at + (i * c.spreadMs) / n;
            const wait = at - now();
            if (wait > 0) await sleep(wait);
            sent++;
            await pc.join(pc.room);
          }),
        ).catch(() => {});
        return true;
      }
      case "target":
        for (const pc of clients) pc.setTarget(c.target);
        return true;
      case "counters":
        return counters();
      case "resetStats":
        latency.reset();
        reconnects = 0;
        lastReconnectAt = NaN;
        sent = 0;
        for (const pc of clients) {
          pc.syncStats();
          Object.assign(pc.stats, { framesIn: 0, bytesIn: 0, snapshotPagesIn: 0, deliveries: 0, joinsSeen: 0, leavesSeen: 0, redundantMemberEvents: 0, earlyMemberEvents: 0 });
        }
        return true;
      case "churn": {
        // The first `typers` clients stay in the room and toggle typing; the others join and leave.
        const typers = clients.slice(0, c.typers);
        const churners = clients.slice(c.typers);
        await Promise.all(typers.map((t) => t.join(t.room)));
        let next = 0;
        let owed = 0;
        const joining = new Set<PeerClient>();
        let last = now();
        timers.push(
          setInterval(() => {
            const t = now();
            owed += ((t - last) * c.opsPerS) / 1000;
            last = t;
            // A churner whose join is not answered yet is skipped (a second join would be a
            // duplicate that some servers broadcast again): the achieved rate is what `sent` counts.
            for (let tries = 0; owed >= 1 && tries < churners.length; tries++) {
              const pc = churners[next++ % churners.length]!;
              if (joining.has(pc)) continue;
              owed--;
              if (pc.joined) pc.leave();
              else {
                joining.add(pc);
                pc.join(pc.room).then(
                  () => joining.delete(pc),
                  () => joining.delete(pc),
                );
              }
              sent++;
            }
            owed = Math.min(owed, c.opsPerS); // not carried over without bound while churners wait
          }, 5),
        );
        if (c.typers > 0 && c.typingHz > 0) {
          let on = true;
          timers.push(
            setInterval(() => {
              for (const tp of typers) tp.typing(on);
              on = !on;
              sent += typers.length;
            }, 1000 / c.typingHz),
          );
        }
        return true;
      }
      case "cursors":
        timers.push(
          setInterval(() => {
            for (const pc of clients) pc.cursor();
            sent += clients.length;
          }, 1000 / c.hz),
        );
        return true;
      case "stopLoad":
        for (const t of timers.splice(0)) clearInterval(t);
        return true;
      case "reconnect":
        reconnectJitter = c.jitterMs;
        for (const pc of clients) reconnectLoop(pc);
        return true;
      case "close":
        reconnectJitter = -1;
        for (const t of timers.splice(0)) clearInterval(t);
        for (const pc of clients) pc.ws?.destroy();
        clients = [];
        return true;
    }
  });
}

main();
