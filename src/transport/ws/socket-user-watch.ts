import type { Caller } from "../../core/identity.js";
import type { Clock, TimerHandle } from "../../core/clock.js";
import type { UserWatchItem } from "../../fanout/user-watch-hub.js";
import type { PresenceService } from "../../service/presence-service.js";
import { userWatchItemToPb } from "../wire.js";
import { errorFrameFor } from "./close-codes.js";
import type { ServerFrameInit } from "./frames.js";

/**
 * The user watch list of a WebSocket (frames.proto `watch_users`): at most one per socket, a new
 * `watch_users` replaces it. Items of the service's WatchUsers (snapshot, changes, keepalives) go
 * out as `users` frames. Status is state, not a log: when a `users` frame cannot be sent (the
 * socket's buffer is over its cap), the watch is dropped and restarted with a fresh snapshot once
 * the socket has drained to half its cap (checked every `retryMs`), so the client never keeps a
 * silently stale status. A watch that ends with an error sends one ErrorFrame (request_id 0,
 * metadata `users: "watch"`).
 */
export interface SocketUserWatches<S> {
  /** Starts (or replaces) the socket's user watch. Throws what WatchUsers throws (validation, TOO_MANY_WATCHERS). */
  start(socket: S, caller: Caller, userIds: string[]): void;
  /** Stops the socket's user watch (no-op without one). */
  stop(socket: S): void;
  /** Open user watches. */
  count(): number;
}

export interface SocketUserWatchDeps<S> {
  service: Pick<PresenceService, "watchUsers">;
  clock: Clock;
  /** Sends a frame; false when it was dropped (over the cap) or the socket is closed. */
  send(socket: S, frame: ServerFrameInit): boolean;
  /** True while the socket's buffered bytes are above half its cap. */
  backedUp(socket: S): boolean;
  isClosed(socket: S): boolean;
  /** Poll interval while waiting for a backed-up socket to drain. Default 250 ms. */
  retryMs?: number;
}

interface Entry {
  ac: AbortController;
  caller: Caller;
  userIds: string[];
  retry: TimerHandle | null;
}

export function createSocketUserWatches<S extends object>(d: SocketUserWatchDeps<S>): SocketUserWatches<S> {
  const watches = new Map<S, Entry>();
  const retryMs = d.retryMs ?? 250;

  function run(socket: S, e: Entry, items: AsyncGenerator<UserWatchItem>) {
    void (async () => {
      try {
        for await (const item of items) {
          if (e.ac.signal.aborted) return;
          if (!d.send(socket, { requestId: 0, frame: { case: "users", value: userWatchItemToPb(item) } })) {
            restartWhenDrained(socket, e);
            return;
          }
        }
      } catch (err) {
        if (e.ac.signal.aborted || watches.get(socket) !== e) return;
        watches.delete(socket);
        d.send(socket, { requestId: 0, frame: { case: "error", value: errorFrameFor(err, { users: "watch" }) } });
      }
    })();
  }

  function open(socket: S, e: Entry) {
    run(socket, e, d.service.watchUsers(e.caller, { userIds: e.userIds, signal: e.ac.signal }));
  }

  function restartWhenDrained(socket: S, e: Entry) {
    e.ac.abort();
    if (watches.get(socket) !== e) return;
    const next: Entry = { ac: new AbortController(), caller: e.caller, userIds: e.userIds, retry: null };
    watches.set(socket, next);
    const poll = () => {
      next.retry = null;
      if (watches.get(socket) !== next || d.isClosed(socket)) return;
      if (d.backedUp(socket)) next.retry = d.clock.setTimeout(poll, retryMs);
      else {
        try {
          open(socket, next);
        } catch (err) {
          watches.delete(socket);
          d.send(socket, { requestId: 0, frame: { case: "error", value: errorFrameFor(err, { users: "watch" }) } });
        }
      }
    };
    next.retry = d.clock.setTimeout(poll, retryMs);
  }

  function stop(socket: S) {
    const e = watches.get(socket);
    if (!e) return;
    watches.delete(socket);
    e.retry?.cancel();
    e.ac.abort();
  }

  return {
    start(socket, caller, userIds) {
      stop(socket);
      const e: Entry = { ac: new AbortController(), caller, userIds, retry: null };
      const items = d.service.watchUsers(caller, { userIds, signal: e.ac.signal }); // validates now (throws)
      watches.set(socket, e);
      run(socket, e, items);
    },
    stop,
    count: () => watches.size,
  };
}
