/**
 * The access rules around the service's streams and members, kept beside the service so that it
 * stays a list of calls:
 *
 * - `guardedWatch`: a room watch checked for `watch`, holding one unit of the caller's `watches`
 *   quota while open, and ended with TOKEN_EXPIRED (`unauthenticated`) when the caller's token
 *   expires (the WebSocket bridge closes its sockets with 4003 for the same reason).
 * - `guardedUserWatch`: a WatchUsers stream: only the users the caller may see are subscribed; the
 *   others appear in the snapshot exactly as unknown users do and never change (no oracle). Holds
 *   one `watches` unit and one `watched_user_ids` unit per id.
 * - `guardedStream`: another watch stream (WatchEvents): the same `watches` unit and token expiry.
 * - `withRole`: the member's per-room role travels with its metadata under the reserved key
 *   `$role` (keys starting with `$` are the server's); the transports lift it into `role`.
 *
 * Quotas are released on the abort signal as well as in `finally`: a generator's `finally` can be
 * skipped when the client vanishes mid-write (connect-notes §1).
 */
import type { Clock } from "../core/clock.js";
import type { Caller } from "../core/identity.js";
import { PresenceError } from "../core/presence-error.js";
import { unknownUser, visibleStatus, type UserStatusRecord } from "../core/user-status.js";
import type { WatchItem } from "../fanout/fanout-hub.js";
import type { UserWatchItem } from "../fanout/user-watch-hub.js";
import type { AccessGuard } from "./access-guard.js";

/** The metadata key of a member's role (server-set; clients may not use keys starting with `$`). */
export const ROLE_METADATA_KEY = "$role";

/** `metadata` with the member's role added (unchanged when there is none). */
export function withRole(metadata: Record<string, string>, role: string): Record<string, string> {
  return role === "" ? metadata : { ...metadata, [ROLE_METADATA_KEY]: role };
}

/** The error that ends a stream whose caller's token expired. */
export function streamTokenExpired(): PresenceError {
  return new PresenceError("TOKEN_EXPIRED", "token has expired: the stream ends; reconnect with a fresh token", { field: "authorization" });
}

/**
 * A signal that aborts with `streamTokenExpired()` when the caller's token expires, or with
 * `signal`'s reason. `stop` cancels the timer.
 */
function untilTokenExpiry(clock: Clock, caller: Caller, signal: AbortSignal): { signal: AbortSignal; stop: () => void } {
  const exp = caller.tokenExpiresAtMs;
  if (exp === undefined) return { signal, stop: () => {} };
  const expired = new AbortController();
  const timer = clock.setTimeout(() => expired.abort(streamTokenExpired()), Math.max(0, exp - clock.now()));
  return { signal: AbortSignal.any([signal, expired.signal]), stop: () => timer.cancel() };
}

/** Runs `release` once, on abort or in `finally`, whichever comes first. */
function releasing(signal: AbortSignal, release: () => void): () => void {
  signal.addEventListener("abort", release, { once: true });
  return () => {
    signal.removeEventListener("abort", release);
    release();
  };
}

export function guardedWatch(
  access: AccessGuard,
  clock: Clock,
  caller: Caller,
  room: string,
  signal: AbortSignal,
  open: (signal: AbortSignal) => AsyncGenerator<WatchItem>,
): AsyncGenerator<WatchItem> {
  return new GuardedWatch(access, clock, caller, room, signal, open);
}

const DONE: IteratorResult<never, undefined> = { done: true, value: undefined };

/**
 * `guardedWatch` as an iterator object rather than an async generator: every open watch stream
 * holds one, and a suspended generator with its frame and request queue cost ~1.2 KB per stream
 * (issue 16 item 6); this holds its fields. Same steps as the generator it replaces: on the first
 * `next()` the `watch` right is checked and a `watches` unit held (released once, on the signal's
 * abort or when the stream ends, fails or is returned), then the inner stream runs under the
 * token-expiry signal; `return()` before the first `next()` runs none of it.
 */
class GuardedWatch implements AsyncGenerator<WatchItem> {
  private inner: AsyncGenerator<WatchItem> | undefined;
  private opening: Promise<void> | undefined;
  private finished = false;
  private release: (() => void) | undefined;
  private stopExpiry: (() => void) | undefined;

  constructor(
    private readonly access: AccessGuard,
    private readonly clock: Clock,
    private readonly caller: Caller,
    private readonly room: string,
    private readonly signal: AbortSignal,
    private readonly open: (signal: AbortSignal) => AsyncGenerator<WatchItem>,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  private start(): Promise<void> {
    return (this.opening ??= this.access.authorize(this.caller, "watch", this.room).then(() => {
      if (this.finished) return; // returned while the right was being checked
      this.release = releasing(this.signal, this.access.hold(this.caller, "watches"));
      const expiry = untilTokenExpiry(this.clock, this.caller, this.signal);
      this.stopExpiry = expiry.stop;
      this.inner = this.open(expiry.signal);
    }));
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopExpiry?.();
    this.release?.();
  }

  private settle(p: Promise<IteratorResult<WatchItem>>): Promise<IteratorResult<WatchItem>> {
    return p.then(
      (r) => {
        if (r.done === true) this.finish();
        return r;
      },
      (e: unknown) => {
        this.finish();
        throw e;
      },
    );
  }

  // Not async methods: a stream waiting for its next item holds a promise, not a suspended frame.
  next(): Promise<IteratorResult<WatchItem>> {
    if (this.inner !== undefined) return this.settle(this.inner.next());
    if (this.finished) return Promise.resolve(DONE);
    return this.start().then(
      () => this.next(),
      (e: unknown) => {
        this.finish();
        throw e;
      },
    );
  }

  return(value?: unknown): Promise<IteratorResult<WatchItem>> {
    const inner = this.inner;
    if (inner === undefined) {
      this.finish();
      return Promise.resolve({ done: true, value: value as undefined });
    }
    return inner.return(value as undefined).finally(() => this.finish());
  }

  throw(e?: unknown): Promise<IteratorResult<WatchItem>> {
    if (this.inner === undefined) {
      this.finish();
      return Promise.reject(e);
    }
    return this.settle(this.inner.throw(e));
  }
}

/**
 * Any other watch stream (WatchEvents): holds one `watches` unit while open and ends with
 * TOKEN_EXPIRED when the caller's token expires (also when `open` simply stops at the abort).
 */
export async function* guardedStream<T>(access: AccessGuard, clock: Clock, caller: Caller, signal: AbortSignal, open: (signal: AbortSignal) => AsyncGenerator<T>): AsyncGenerator<T> {
  const done = releasing(signal, access.hold(caller, "watches"));
  const expiry = untilTokenExpiry(clock, caller, signal);
  try {
    yield* open(expiry.signal);
    if (expiry.signal.aborted && expiry.signal.reason instanceof PresenceError) throw expiry.signal.reason;
  } finally {
    expiry.stop();
    done();
  }
}

export async function* guardedUserWatch(
  access: AccessGuard,
  clock: Clock,
  caller: Caller,
  userIds: readonly string[],
  signal: AbortSignal,
  open: (visible: string[], signal: AbortSignal) => AsyncGenerator<UserWatchItem>,
): AsyncGenerator<UserWatchItem> {
  const visible = await access.visibleUsers(caller, "status.watch", userIds);
  const stream = access.hold(caller, "watches");
  let ids: () => void;
  try {
    ids = access.hold(caller, "watched_user_ids", userIds.length);
  } catch (err) {
    stream();
    throw err;
  }
  const done = releasing(signal, () => {
    stream();
    ids();
  });
  const expiry = untilTokenExpiry(clock, caller, signal);
  try {
    for await (const item of open(userIds.filter((id) => visible.has(id)), expiry.signal)) {
      if (item.type !== "snapshot" || visible.size === userIds.length) {
        yield item;
        continue;
      }
      const seen = new Map(item.statuses.map((s) => [s.userId, s]));
      yield { type: "snapshot", statuses: userIds.map((id) => seen.get(id) ?? unknownUser(id)) };
    }
  } finally {
    expiry.stop();
    done();
  }
}

/**
 * GetUserStatus with visibility: users the caller may see as the store has them (an operator sees
 * what the user themself sees: the real state, invisible flag included), the others exactly like
 * users nobody has seen (no oracle). The store is asked only about the visible ones.
 */
export async function visibleStatuses(
  access: AccessGuard,
  caller: Caller,
  userIds: readonly string[],
  nowMs: () => number,
  read: (ids: string[]) => Promise<UserStatusRecord[]>,
): Promise<UserStatusRecord[]> {
  const visible = await access.visibleUsers(caller, "status.read", userIds);
  const shown = userIds.filter((id) => visible.has(id));
  const records = new Map((shown.length === 0 ? [] : await read(shown)).map((r) => [r.userId, r]));
  const viewer = caller.role === "user" ? caller.subject : "";
  const now = nowMs();
  return userIds.map((id) => {
    const r = records.get(id);
    return r ? visibleStatus(r, caller.role === "admin" ? r.userId : viewer, now) : unknownUser(id);
  });
}

/**
 * The request id an anonymous Join gives the store: scoped to its anonymous id and its connection,
 * so a replayed id from another anonymous caller or connection never finds someone else's session
 * (and resume secret). Users' request ids are scoped by their owner key in the store.
 */
export function scopedRequestId(caller: Caller, anonymousId: string, requestId: string): string | undefined {
  if (requestId === "") return undefined;
  if (caller.role !== "anonymous") return requestId;
  return `${anonymousId === "" ? "-" : anonymousId}:${caller.origin?.connection ?? ""}:${requestId}`;
}
