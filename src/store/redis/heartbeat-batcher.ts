import type { Keys } from "./keys.js";
import type { HeartbeatEntry, HeartbeatReply } from "./session-scripts.js";

/**
 * Heartbeats and node refreshes are batched: entries queued during one event-loop turn are sent as
 * one `sessionsHeartbeat` script call per session bucket, whatever their number (design §5). A
 * heartbeat call waits for its own entry; a refresh call waits once for all of its sessions.
 */

/** Receives the results of queued heartbeats: one per heartbeat call, one for a whole refresh call. */
export interface HeartbeatWaiter {
  result(index: number, reply: HeartbeatReply): void;
  fail(e: unknown): void;
}

export interface PendingHeartbeat extends HeartbeatEntry {
  waiter: HeartbeatWaiter;
  /** This entry's index for its waiter (its position in a refresh call). */
  index: number;
}

/** The waiter of one heartbeat (a class: no closures per call). */
export class OneHeartbeat implements HeartbeatWaiter {
  constructor(
    private readonly resolve: (r: HeartbeatReply) => void,
    readonly fail: (e: unknown) => void,
  ) {}
  result(_index: number, reply: HeartbeatReply): void {
    this.resolve(reply);
  }
}

/** The waiter of a refresh call: one promise for all its sessions (true = refreshed), settled by the last result or the first failure. */
export class RefreshWaiter implements HeartbeatWaiter {
  readonly live: Uint8Array;
  private pending: number;
  private failed = false;
  constructor(
    count: number,
    private readonly resolve: (live: Uint8Array) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.live = new Uint8Array(count);
    this.pending = count;
    if (count === 0) resolve(this.live);
  }
  result(index: number, reply: HeartbeatReply): void {
    this.live[index] = reply.status === "not_found" ? 0 : 1;
    if (--this.pending === 0 && !this.failed) this.resolve(this.live);
  }
  fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.reject(e);
  }
}

export interface HeartbeatBatcher {
  /** Queues one heartbeat; resolves with its result. `owner` null: no owner check (a verified UDP heartbeat). */
  one(sid: string, owner: string | null, activity: string, ttlMs: number): Promise<HeartbeatReply>;
  /** Queues a node refresh of many sessions (no owner check); resolves with 1 (refreshed) or 0 (gone) per session. */
  many(sids: string[], ttlMs: number): Promise<Uint8Array>;
}

/** `send(bucket, entries)` runs the batch script for one bucket and returns one reply per entry. */
export function createHeartbeatBatcher(keys: Keys, send: (bucket: number, entries: PendingHeartbeat[]) => Promise<HeartbeatReply[]>): HeartbeatBatcher {
  const pending = new Map<number, PendingHeartbeat[]>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batches = [...pending];
    pending.clear();
    for (const [b, list] of batches) {
      send(b, list).then(
        (replies) => list.forEach((h, i) => h.waiter.result(h.index, replies[i]!)),
        (e) => list.forEach((h) => h.waiter.fail(e)),
      );
    }
  };
  const enqueue = (h: PendingHeartbeat) => {
    const b = keys.bucketOf(h.sid);
    let list = pending.get(b);
    if (!list) pending.set(b, (list = []));
    list.push(h);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return {
    one: (sid, owner, activity, ttlMs) =>
      new Promise<HeartbeatReply>((resolve, reject) => enqueue({ sid, owner, activity, ttlMs, waiter: new OneHeartbeat(resolve, reject), index: 0 })),
    many: (sids, ttlMs) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const waiter = new RefreshWaiter(sids.length, resolve, reject);
        sids.forEach((sid, i) => enqueue({ sid, owner: null, activity: "", ttlMs, waiter, index: i }));
      }),
  };
}
