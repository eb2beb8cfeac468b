import { PresenceError } from "../../core/presence-error.js";
import type { EventBus } from "../ports/event-bus.js";
import { decodeRoomMessage, decodeStatus, statusFromHash } from "./codec.js";
import type { DataLossRecovery } from "./data-loss-recovery.js";
import type { RedisContext } from "./redis-context.js";
import type { Subscriber } from "./subscriber.js";

/**
 * The EventBus on Redis: one subscription per channel on this node's pub/sub connection (plain
 * SUBSCRIBE on standalone Redis, sharded SSUBSCRIBE on Cluster: a room's channel carries the room's
 * hash tag, so it lives on the room's shard). A watched room keeps (or gets) its state, like on the
 * memory store. After a subscriber reconnect, every channel gets a `reset` (rooms) or its current
 * status read again (users), and snapshot reads wait for the recovery work (data-loss check,
 * re-assertion, epochs) to finish first.
 */
export interface RedisEventBus extends EventBus {
  /** How many rooms have a subscription on this node. */
  watchedCount(): number;
  /** The subscriber reconnected: snapshot reads wait until `recovery.afterReconnect` is done. */
  afterReconnect(recovery: DataLossRecovery): void;
}

export function createRedisEventBus(ctx: RedisContext, sub: Subscriber): RedisEventBus {
  const readiness = new Map<string, Promise<void>>();
  /** Settles when the work after the last subscriber reconnect is done (snapshot reads wait for it). */
  let recovered: Promise<void> = Promise.resolve();

  const readStatus = async (userId: string) => {
    const h = await ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.user(userId).status));
    return statusFromHash(userId, h);
  };

  return {
    subscribe(room, listener) {
      const k = ctx.keys.room(room);
      const s = sub.add(k.channel, {
        message: (payload) => {
          const m = decodeRoomMessage(payload);
          if (m) listener(m);
        },
        reset: () => listener({ type: "reset" }),
      });
      // Ready only once touched too: a snapshot read before the touch (e.g. while the script is
      // reloaded after NOSCRIPT) would show no epoch, and the first event would force a resync.
      // Errors surface on reads.
      const touched = ctx.rooms.touch(room, ctx.ids.epoch()).catch(() => {});
      readiness.set(room, Promise.all([s.ready, touched]).then(() => {}));
      return () => {
        s.remove();
        readiness.delete(room);
      };
    },

    async ready(room) {
      try {
        await readiness.get(room);
        await recovered;
      } catch (e) {
        ctx.observer.redisError?.("subscriber");
        throw new PresenceError("STORE_UNAVAILABLE", "presence store unavailable (subscribe failed); retry with backoff", {}, { cause: e });
      }
    },

    subscribeUsers(userIds, listener) {
      const subs = userIds.map((id) =>
        sub.add(ctx.keys.user(id).channel, {
          message: (payload) => listener(decodeStatus(payload)),
          reset: () => {
            readStatus(id).then(listener, () => {});
          },
        }),
      );
      return () => subs.forEach((s) => s.remove());
    },

    watchedCount: () => readiness.size,

    afterReconnect(recovery) {
      recovered = recovery.afterReconnect(() => readiness.keys());
    },
  };
}
