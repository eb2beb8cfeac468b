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
 * Stale claims: a claim sent just before an outage is noticed may run long after its node gave
 * up on it: queued in a frozen Redis' socket until it resumes, or sent again by ioredis after a
 * reconnect (one retry per request). It would claim, by Redis' time at that moment, every session
 * nobody could refresh. So each claim carries a deadline in Redis time (`claimDeadline`: the
 * node's estimate of Redis' clock, learned from its announce replies, plus the command timeout),
 * and the claim script does nothing past it.
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
  /** Redis' time as a script saw it just now (the announce reply): the node's estimate of its clock. */
  observeRedisTime(redisNowMs: number): void;
  /** Redis time after which a claim sent now must not run; null while Redis' clock is unknown. */
  claimDeadline(): number | null;
}

export interface OutageGuardOptions {
  clock: Clock;
  sessionTtlMs: number;
  heartbeatIntervalMs: number;
  nodeRefreshMs: number;
  /** How long a Redis call may take before the node gives up on it. */
  commandTimeoutMs: number;
  /** Scripts take their time from `clock` (tests): deadlines are in that time. */
  fixedTime?: boolean;
  /** Monotonic milliseconds (default performance.now): Redis' clock is estimated with it, not the wall clock. */
  monotonic?: () => number;
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
  const monotonic = o.monotonic ?? (() => performance.now());
  let redisOffset: number | null = null;
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
    observeRedisTime(redisNowMs) {
      redisOffset = redisNowMs - monotonic();
    },
    claimDeadline() {
      if (o.fixedTime) return o.clock.now() + o.commandTimeoutMs;
      return redisOffset === null ? null : Math.floor(monotonic() + redisOffset) + o.commandTimeoutMs;
    },
  };
}
