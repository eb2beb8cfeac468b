import type { Keys } from "./keys.js";

/**
 * Heartbeats and node refreshes are batched: entries queued during one event-loop turn are sent as
 * one `sessionsHeartbeat` script call per session bucket, whatever their number (design §5). A
 * heartbeat call waits for its own entry; a refresh call waits once for all of its sessions.
 */
export interface HeartbeatResult {
  status: number;
  expiresAt: number;
  changed: string;
  /** Time the session had left before this refresh (ms); 0 when refused. */
  leftMs: number;
}

/** Receives the results of queued heartbeats: one per heartbeat call, one for a whole refresh call. */
export interface HeartbeatWaiter {
  result(index: number, status: number, expiresAt: number, changed: string, leftMs: number): void;
  fail(e: unknown): void;
}

export interface PendingHeartbeat {
  sid: string;
  owner: string;
  activity: string;
  ttlMs: number;
  waiter: HeartbeatWaiter;
  /** This entry's index for its waiter (its position in a refresh call). */
  index: number;
}

/** The waiter of one heartbeat (a class: no closures per call). */
export class OneHeartbeat implements HeartbeatWaiter {
  constructor(
    private readonly resolve: (r: HeartbeatResult) => void,
    readonly fail: (e: unknown) => void,
  ) {}
  result(_index: number, status: number, expiresAt: number, changed: string, leftMs: number): void {
    this.resolve({ status, expiresAt, changed, leftMs });
  }
}

/** The waiter of a refresh call: one promise for all its sessions, settled by the last result or the first failure. */
export class RefreshWaiter implements HeartbeatWaiter {
  readonly status: Int8Array;
  private pending: number;
  private failed = false;
  constructor(
    count: number,
    private readonly resolve: (status: Int8Array) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.status = new Int8Array(count);
    this.pending = count;
    if (count === 0) resolve(this.status);
  }
  result(index: number, status: number): void {
    this.status[index] = status;
    if (--this.pending === 0 && !this.failed) this.resolve(this.status);
  }
  fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.reject(e);
  }
}

export interface HeartbeatBatcher {
  /** Queues one heartbeat; resolves with its result (status 1 ok, 2 activity changed, -1 not found). */
  one(sid: string, owner: string, activity: string, ttlMs: number): Promise<HeartbeatResult>;
  /** Queues a node refresh of many sessions (empty owner); resolves with each session's status. */
  many(sids: string[], ttlMs: number): Promise<Int8Array>;
}

/** `send(bucket, args)` runs the batch script for one bucket and returns its flat reply. */
export function createHeartbeatBatcher(keys: Keys, send: (bucket: number, entries: PendingHeartbeat[]) => Promise<unknown>): HeartbeatBatcher {
  const pending = new Map<number, PendingHeartbeat[]>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batches = [...pending];
    pending.clear();
    for (const [b, list] of batches) {
      send(b, list).then(
        (out) => {
          const r = out as (number | string)[];
          list.forEach((h, i) => h.waiter.result(h.index, Number(r[i * 4]), Number(r[i * 4 + 1]), String(r[i * 4 + 2] ?? ""), Number(r[i * 4 + 3])));
        },
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
      new Promise<HeartbeatResult>((resolve, reject) => enqueue({ sid, owner, activity, ttlMs, waiter: new OneHeartbeat(resolve, reject), index: 0 })),
    many: (sids, ttlMs) =>
      new Promise<Int8Array>((resolve, reject) => {
        const waiter = new RefreshWaiter(sids.length, resolve, reject);
        sids.forEach((sid, i) => enqueue({ sid, owner: "", activity: "", ttlMs, waiter, index: i }));
      }),
  };
}
