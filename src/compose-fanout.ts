import type { Config } from "./config.js";
import type { Clock } from "./core/clock.js";
import { createFanoutHub } from "./fanout/fanout-hub.js";
import { createUserWatchHub } from "./fanout/user-watch-hub.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics/registry.js";
import type { PresenceStore } from "./store/presence-store.js";

/**
 * The fan-out of the composition root (app.ts calls this): the room hub (one store subscription
 * per watched room, shared by every watcher of the node) and the user-status hub, with their
 * observations fed into the metrics registry.
 */
export function createAppHubs(d: {
  config: Config;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  store: PresenceStore;
  /** Last activity of users with a session (the scope store), told in user snapshots. */
  lastActive(userIds: string[]): Promise<Map<string, number>>;
}) {
  const { metrics, log, store } = d;
  const hub = createFanoutHub({
    rooms: store,
    bus: store,
    clock: d.clock,
    timings: d.config.timings,
    limits: d.config.limits,
    observer: {
      delivered: (kind) => metrics.eventsDelivered.inc({ kind }),
      overflow: (transport) => {
        metrics.fanoutOverflows.inc();
        metrics.deliveriesDropped.inc({ transport, reason: "queue_overflow" });
      },
      latency: (transport, seconds) => metrics.fanoutLatency.observe({ transport }, seconds),
      resync: (reason) => metrics.resyncs.inc({ reason }),
      rollback: (room, detail) => log.warn("room version went back within its epoch: asking for a new epoch, its watchers resync", { room, ...detail }),
      stalled: () => metrics.rejections.inc({ reason: "SLOW_CONSUMER" }),
      error: (err) => {
        metrics.loopErrors.inc({ loop: "fanout" });
        log.error("fan-out delivery failed", { err });
      },
    },
  });
  const userHub = createUserWatchHub({
    users: store,
    lastActive: d.lastActive,
    bus: store,
    clock: d.clock,
    timings: d.config.timings,
    limits: d.config.limits,
    otherWatchers: () => {
      const c = hub.watcherCount();
      return c.full + c.counts;
    },
    delivered: (kind) => metrics.eventsDelivered.inc({ kind }),
  });
  return { hub, userHub };
}
