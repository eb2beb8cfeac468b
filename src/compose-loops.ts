import type { Config } from "./config.js";
import type { Clock } from "./core/clock.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics/registry.js";

/**
 * The background loops of a node (app.ts starts them): the reaper (expired sessions leave with
 * TIMEOUT), the refresh of the sessions bound to this node's streams and sockets (one batch per
 * interval, design §5, with the node's announce), server-side away (silent sessions show away,
 * swept on every node: idempotent) and the idle-room reaper (managed rooms idle for their timeout
 * are ended by whichever node sees them first). Each skips a tick while its previous one still
 * runs and counts its failures by loop name (`presence_loop_errors_total{loop}`).
 */
export interface NodeLoopDeps {
  clock: Clock;
  config: Config;
  metrics: Metrics;
  log: Logger;
  reap(): Promise<{ expiredSessions: number }>;
  /** Refreshes the bound sessions; `missing` of them were gone. */
  refreshBound(): Promise<{ missing: number }>;
  sweepAway(): Promise<unknown>;
  idleRooms(limit: number): Promise<string[]>;
  endIdle(room: string): Promise<unknown>;
}

/** A background loop that skips a tick while the previous one still runs, and counts its failures by name. */
function guardedLoop(d: NodeLoopDeps, everyMs: number, name: string, what: string, run: () => Promise<unknown>) {
  let running = false;
  return d.clock.setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await run();
    } catch (err) {
      d.metrics.loopErrors.inc({ loop: name });
      d.log.error(`${what} failed`, { err });
    } finally {
      running = false;
    }
  }, everyMs);
}

export function startNodeLoops(d: NodeLoopDeps) {
  const t = d.config.timings;
  const reaper = guardedLoop(d, t.reaperIntervalMs, "reaper", "reaper", async () => {
    const r = await d.reap();
    if (r.expiredSessions > 0) {
      d.metrics.heartbeatsMissed.inc(r.expiredSessions);
      d.metrics.reapedSessions.inc(r.expiredSessions);
    }
  });
  const refresher = guardedLoop(d, t.nodeRefreshMs, "refresh", "session refresh", async () => {
    const r = await d.refreshBound();
    if (r.missing > 0) d.log.warn("attached sessions gone while streaming", { missing: r.missing });
  });
  const away = guardedLoop(d, t.awayCheckMs, "away_sweep", "away sweep", d.sweepAway);
  const idle = guardedLoop(d, t.reaperIntervalMs, "room_idle", "idle room reaper", async () => {
    for (const room of await d.idleRooms(100)) await d.endIdle(room);
  });
  return {
    /** Stops the reaper and the seeds loops (the refresh keeps running until `stopRefresh`: the drain still needs it). */
    stopReaping() {
      reaper.cancel();
      away.cancel();
      idle.cancel();
    },
    stopRefresh: () => refresher.cancel(),
  };
}
