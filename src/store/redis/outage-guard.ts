import type { Clock } from "../../core/clock.js";

/**
 * Store outages as one node sees them (reliability.md F-R3b; docs/fault-catalogue.md "Store outages").
 * The rule: time during which a node cannot write to Redis does not count against its sessions.
 *
 * - Writes are failing from the first failed periodic write (the node registry announce, a
 *   heartbeat or refresh batch, a reaper claim: Redis down, frozen, unreachable, or refusing writes
 *   at maxmemory) until the next one that succeeds.
 * - It is an outage once no periodic write has succeeded for TTL − max(heartbeat interval, node
 *   refresh interval): from then on a session that kept refreshing as told may have expired. A
 *   shorter blip (a timeout under load) changes nothing, so a flaky link cannot hold reaping off.
 * - During an outage and for one TTL after its first successful write (every live session gets
 *   one TTL to be refreshed again, as after any refresh), the reaper claims nothing
 *   (`reapPaused`), and the node refresh and the heartbeats the node serves may refresh a session
 *   that expired but was not reaped (`reviving`, also during any blip): a session nobody could
 *   refresh is not judged by that time.
 *
 * When every node lost Redis, every reaper pauses, so only the sessions that really ended during
 * the outage (socket or stream closed, client gone) are reaped, when the pauses end. When one node
 * alone lost Redis (a partition), the other nodes reap its sessions as usual: their clients are
 * unreachable through the store for real, and they rejoin when it heals.
 *
 * Cost: a clock read per tracked write; no Redis call of its own.
 */
export interface OutageGuard {
  /** A periodic write succeeded. */
  ok(): void;
  /** A periodic write failed. */
  failed(): void;
  /** Refreshes may revive expired sessions that were not reaped. */
  reviving(): boolean;
  /** The reaper must not claim expired sessions now. */
  reapPaused(): boolean;
}

export interface OutageGuardOptions {
  clock: Clock;
  sessionTtlMs: number;
  heartbeatIntervalMs: number;
  nodeRefreshMs: number;
  /** An outage ended: how long no write succeeded, and how long the pause and revives last from now. */
  onRecovered?(outageMs: number, reviveMs: number): void;
}

export function createOutageGuard(o: OutageGuardOptions): OutageGuard {
  /** No successful write for this long is an outage (see above). */
  const outageAfterMs = o.sessionTtlMs - Math.max(o.heartbeatIntervalMs, o.nodeRefreshMs);
  let lastOkAt = o.clock.now();
  let failing = false;
  let reviveUntil = 0;
  const inOutage = (now: number) => failing && now - lastOkAt >= outageAfterMs;
  return {
    ok() {
      const now = o.clock.now();
      if (inOutage(now)) {
        reviveUntil = now + o.sessionTtlMs;
        o.onRecovered?.(now - lastOkAt, o.sessionTtlMs);
      }
      failing = false;
      lastOkAt = now;
    },
    failed() {
      failing = true;
    },
    reviving: () => failing || o.clock.now() < reviveUntil,
    reapPaused: () => {
      const now = o.clock.now();
      return inOutage(now) || now < reviveUntil;
    },
  };
}
