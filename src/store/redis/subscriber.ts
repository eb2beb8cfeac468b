import type { Cluster, Redis } from "ioredis";
import type { Clock, TimerHandle } from "../../core/clock.js";

/**
 * The node's pub/sub connection: one subscription per channel, reference-counted (the fan-out hub
 * subscribes once per room with local watchers; user-status watches once per user). Plain
 * SUBSCRIBE on standalone Redis, sharded SSUBSCRIBE on Redis Cluster (a room's channel carries the
 * room's hash tag, so it lives on the room's shard).
 *
 * Recovery: ioredis reconnects and resubscribes by itself; messages published while the connection
 * was down are unknown, so after every reconnect `onReset` is called for every subscribed channel
 * (the hub then resyncs the affected watchers once) and `onReconnect` is counted.
 *
 * Starvation (reliability.md F-P4): a connection can stay up, answer PING and still deliver
 * nothing (a proxy that swallows messages, a subscription Redis dropped). With `echo` (standalone
 * Redis and Sentinel), the probe is end to end: it publishes a nonce on the node's own probe
 * channel through the command client and waits for it to arrive here. When the publish worked but
 * the nonce does not arrive (or Redis says nobody is subscribed), the subscriber may be starved:
 * `onStarved` is counted, and on the second such probe in a row (one late delivery under load is
 * not starvation) the connection is dropped and made again, so ioredis resubscribes and every
 * watcher resyncs. When the publish itself fails, Redis is unreachable: the probe fails
 * without a restart (reconnecting would not help). Cluster keeps the PING round trip.
 */
export interface Subscriber {
  /** Subscribes `listener` to `channel`; resolves when Redis confirmed the first subscription. */
  add(channel: string, listener: ChannelListener): { ready: Promise<void>; remove(): void };
  /** True while the subscriber connection is up (a cached flag, updated by connection events). */
  healthy(): boolean;
  /**
   * A fresh round trip on the connection(s) actually subscribing: PING on the standalone
   * subscriber (allowed in subscriber mode on RESP2), or on every sharded subscriber of a Cluster
   * that is in use. Rejects at once when one is not connected, and after `timeoutMs` without an
   * answer (a frozen server keeps the socket open but never replies).
   */
  probe(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface ChannelListener {
  message(payload: string): void;
  reset(): void;
}

export interface SubscriberOptions {
  /** The connection used for subscriptions (a duplicate of the command client, or a Cluster). */
  connection: Redis | Cluster;
  sharded: boolean;
  /** Times the probe. */
  clock: Clock;
  onReconnect?: () => void;
  onError?: (err: unknown) => void;
  /** End-to-end probe (standalone Redis, Sentinel): the node's own probe channel, published to through the command client. */
  echo?: { channel: string; publish(channel: string, payload: string): Promise<number> };
  /** A probe found the subscriber starved (it is restarted). */
  onStarved?: () => void;
}

interface PubSubConnection {
  status: string;
  ping(): Promise<unknown>;
  on(event: string, fn: (...args: never[]) => void): unknown;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  ssubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
}

export function createSubscriber(o: SubscriberOptions): Subscriber {
  const channels = new Map<string, { listeners: Set<ChannelListener>; ready: Promise<void> }>();
  // The calls used here exist on both Redis and Cluster; one structural type for both.
  const conn = o.connection as unknown as PubSubConnection;
  let up = false;
  let everUp = false;
  /** When the connection was last (re)established: ioredis resubscribes right after, asynchronously. */
  let readyAt = o.clock.now();

  const onMessage = (channel: string, payload: string) => {
    const entry = channels.get(channel);
    if (!entry) return;
    for (const l of entry.listeners) {
      try {
        l.message(payload);
      } catch (err) {
        o.onError?.(err);
      }
    }
  };
  const resetAll = () => {
    for (const entry of channels.values()) for (const l of entry.listeners) l.reset();
  };
  const becameReady = () => {
    const again = everUp;
    readyAt = o.clock.now();
    up = true;
    everUp = true;
    if (again) {
      o.onReconnect?.();
      // Subscribe again ourselves (ioredis does too; a second SUBSCRIBE is a no-op) and reset the
      // watchers once it is confirmed: a snapshot taken before would miss the events published
      // until the subscription is back, and only a position check would find them.
      const confirmed = [...channels].map(([ch, entry]) => {
        entry.ready = subscribe(ch).then(() => undefined);
        return entry.ready;
      });
      void Promise.allSettled(confirmed).then(resetAll);
    }
  };
  conn.on(o.sharded ? "smessage" : "message", onMessage);
  if (o.sharded) {
    conn.on("subscribersReady", becameReady);
    conn.on("-subscriber", () => (up = false));
    conn.on("ready", () => (up = true, (everUp = true)));
  } else {
    conn.on("ready", becameReady);
    conn.on("close", () => (up = false));
  }
  // The connection may have become ready before these listeners (the store waits only for the
  // command client): a Cluster subscriber that was ready first would otherwise never be healthy.
  if (conn.status === "ready") (up = true), (everUp = true);
  conn.on("error", (err: unknown) => o.onError?.(err));

  const subscribe = (ch: string) => (o.sharded ? conn.ssubscribe(ch) : conn.subscribe(ch));
  const unsubscribe = (ch: string) => (o.sharded ? conn.sunsubscribe(ch) : conn.unsubscribe(ch));

  const waiting = new Map<string, () => void>();
  let probes = 0;
  let echoReady: Promise<void> | null = null;
  const bounded = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = o.clock.setTimeout(() => reject(new Error(what)), ms);
    });
    return Promise.race([p, timedOut]).finally(() => timer?.cancel());
  };
  /** Consecutive probes that found the subscriber starved; the second one restarts it. */
  let starvedProbes = 0;
  const starved = (why: string, timeoutMs: number): Error => {
    // Just (re)connected: its subscriptions may still be on their way. Not ready, not starved.
    if (o.clock.now() - readyAt < timeoutMs) return new Error(`redis subscriber resubscribing (${why})`);
    o.onStarved?.();
    // A late delivery under load is not starvation (and resets the count when it arrives): restart
    // on the second probe in a row whose nonce has not come, nor any other since.
    if (++starvedProbes < 2) return new Error(`redis subscriber starved? (${why}): probing again`);
    starvedProbes = 0;
    conn.disconnect(true); // ioredis reconnects and resubscribes; every channel is reset
    return new Error(`redis subscriber starved (${why}): restarted`);
  };

  /** The end-to-end probe: a nonce published on the probe channel must come back on this connection. */
  async function echoProbe(echo: NonNullable<SubscriberOptions["echo"]>, timeoutMs: number): Promise<void> {
    // Any nonce that arrives, even one whose probe gave up, proves the connection delivers.
    const arrivedAny = (nonce: string) => {
      starvedProbes = 0;
      waiting.get(nonce)?.();
    };
    echoReady ??= api.add(echo.channel, { message: arrivedAny, reset: () => {} }).ready;
    await bounded(echoReady, timeoutMs, `no SUBSCRIBE confirmation within ${timeoutMs} ms`);
    const nonce = `${Date.now()}-${++probes}`;
    const arrived = new Promise<void>((resolve) => waiting.set(nonce, resolve));
    const started = Date.now();
    try {
      const receivers = await bounded(echo.publish(echo.channel, nonce), timeoutMs, `no answer to PUBLISH within ${timeoutMs} ms`);
      if (receivers === 0) throw starved("Redis has no subscriber on the probe channel", timeoutMs);
      await bounded(arrived, Math.max(1, timeoutMs - (Date.now() - started)), `no delivery within ${timeoutMs} ms`).catch((e: unknown) => {
        throw starved(e instanceof Error ? e.message : String(e), timeoutMs);
      });
      starvedProbes = 0;
    } finally {
      waiting.delete(nonce);
    }
  }

  const api: Subscriber = {
    add(channel, listener) {
      let entry = channels.get(channel);
      if (!entry) {
        const ready = subscribe(channel).then(() => undefined);
        entry = { listeners: new Set(), ready };
        ready.catch((err: unknown) => o.onError?.(err));
        channels.set(channel, entry);
      }
      const e = entry;
      e.listeners.add(listener);
      let removed = false;
      return {
        ready: e.ready,
        remove() {
          if (removed) return;
          removed = true;
          e.listeners.delete(listener);
          if (e.listeners.size === 0 && channels.get(channel) === e) {
            channels.delete(channel);
            unsubscribe(channel).catch((err: unknown) => o.onError?.(err));
          }
        },
      };
    },
    healthy: () => up,
    async probe(timeoutMs) {
      if (!up) throw new Error("redis subscriber is not connected");
      if (o.echo && !o.sharded) return echoProbe(o.echo, timeoutMs);
      let pings: Promise<unknown>[];
      if (!o.sharded) {
        if (conn.status !== "ready") throw new Error(`redis subscriber connection is ${conn.status}`);
        pings = [conn.ping()];
      } else {
        const subs = shardedSubscribersOf(o.connection);
        if (subs === undefined) return; // ioredis internals not as expected: the flag above is all we know
        pings = [];
        for (const s of subs.values()) {
          if (s.subscriberStatus === "ended") throw new Error(`redis sharded subscriber ${s.getNodeKey()} has ended`);
          const instance = s.getInstance();
          if ((s.subscriberStatus === "starting" || s.subscriberStatus === "connected") && instance) pings.push(instance.ping());
        }
      }
      const all = Promise.all(pings);
      all.catch(() => {}); // a PING that fails after the timeout won must not be an unhandled rejection
      let timer: TimerHandle | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = o.clock.setTimeout(() => reject(new Error(`no PONG from the subscriber within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([all, timedOut]);
      } finally {
        timer?.cancel();
      }
    },
    async close() {
      channels.clear();
      conn.disconnect();
    },
  };
  return api;
}

/** ioredis 6 `ShardedSubscriber` (one per master, lazily started when a channel of its slots is subscribed). */
interface ShardedSubscriberLike {
  readonly subscriberStatus: string;
  getInstance(): { ping(): Promise<unknown> } | null;
  getNodeKey(): string;
}

/**
 * The sharded subscribers of a Cluster (`cluster.shardedSubscribers.shardedSubscribers`, private
 * fields of ioredis 6.0: no public accessor exists). Undefined when the shape differs, so an
 * ioredis upgrade degrades the probe to the connection-event flag instead of breaking it.
 */
function shardedSubscribersOf(c: Redis | Cluster): Map<string, ShardedSubscriberLike> | undefined {
  const group = (c as unknown as { shardedSubscribers?: { shardedSubscribers?: unknown } }).shardedSubscribers;
  const map = group?.shardedSubscribers;
  return map instanceof Map ? (map as Map<string, ShardedSubscriberLike>) : undefined;
}
