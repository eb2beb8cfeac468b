import type { Cluster, Redis } from "ioredis";

/**
 * The node's pub/sub connection: one subscription per channel, reference-counted (the fan-out hub
 * subscribes once per room with local watchers; user-status watches once per user). Plain
 * SUBSCRIBE on standalone Redis, sharded SSUBSCRIBE on Redis Cluster (a room's channel carries the
 * room's hash tag, so it lives on the room's shard).
 *
 * Recovery: ioredis reconnects and resubscribes by itself; messages published while the connection
 * was down are unknown, so after every reconnect `onReset` is called for every subscribed channel
 * (the hub then resyncs the affected watchers once) and `onReconnect` is counted.
 */
export interface Subscriber {
  /** Subscribes `listener` to `channel`; resolves when Redis confirmed the first subscription. */
  add(channel: string, listener: ChannelListener): { ready: Promise<void>; remove(): void };
  /** True while the subscriber connection is up. */
  healthy(): boolean;
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
  onReconnect?: () => void;
  onError?: (err: unknown) => void;
}

interface PubSubConnection {
  status: string;
  on(event: string, fn: (...args: never[]) => void): unknown;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  ssubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
  disconnect(): void;
}

export function createSubscriber(o: SubscriberOptions): Subscriber {
  const channels = new Map<string, { listeners: Set<ChannelListener>; ready: Promise<void> }>();
  // The calls used here exist on both Redis and Cluster; one structural type for both.
  const conn = o.connection as unknown as PubSubConnection;
  let up = false;
  let everUp = false;

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
    up = true;
    everUp = true;
    if (again) {
      o.onReconnect?.();
      resetAll();
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

  return {
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
    async close() {
      channels.clear();
      conn.disconnect();
    },
  };
}
