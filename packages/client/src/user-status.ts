import type { WatchUsersResponse } from "../../../gen/presence/v1/presence_pb.js";
import { PresenceOverride as PbOverride, UserState as PbUserState, type UserStatus as PbUserStatus } from "../../../gen/presence/v1/types_pb.js";
import type { Clock, TimerHandle } from "../../../src/core/clock.js";
import { createEmitter } from "./emitter.js";
import type { PresenceClientError } from "./errors.js";
import type { UserState } from "./last-seen.js";

/**
 * Live status of a list of users ("friends online", the chat seed's contacts): `client.users(ids)`
 * returns a handle whose `statuses` follow the server (online / away / offline, last seen, custom
 * status), and React's `useUserStatus(ids)` reads it. All handles of a client share one server
 * watch (WatchUsers over Connect, `watch_users` on the WebSocket) of the union of their ids,
 * restarted when the union changes (once per task, not per handle) and after every reconnect,
 * always from a fresh snapshot, so a status is never silently stale.
 */
export interface UserStatusView {
  userId: string;
  state: UserState;
  /** End of the last session while offline; the answer's time while online or away; 0 if never seen. */
  lastSeenMs: number;
  customStatus: string;
  /** Last activity signal while online or away (0 when unknown or offline). */
  lastActiveMs: number;
  /** The user's manual status: only visible for yourself ("auto" for everyone else). */
  presenceOverride: "auto" | "away" | "online";
}

export interface UsersHandle {
  readonly userIds: readonly string[];
  /** One status per id, in the handle's order; the same array until something changes. Before the first snapshot: offline, never seen. */
  readonly statuses: readonly UserStatusView[];
  get(userId: string): UserStatusView | undefined;
  /** True once the server's snapshot of these users has arrived. */
  readonly ready: boolean;
  /** Called with the new `statuses` after every change of one of these users. */
  on(event: "change", fn: (statuses: readonly UserStatusView[]) => void): () => void;
  /** Stops following these users (the shared watch shrinks). Idempotent. */
  close(): void;
}

/** What the tracker needs from the client's connection. */
export interface UserWatchPort {
  /** True when a watch can be sent now (connected). */
  canWatch(): boolean;
  /** Starts connecting when needed (a client with only user watches still connects). */
  ensureConnected(): void;
  watch(userIds: string[]): void;
  unwatch(): void;
}

export interface UserStatusTracker {
  users(ids: readonly string[]): UsersHandle;
  /** True while at least one handle is open (the connection must stay up). */
  active(): boolean;
  /** The connection is (re)established: watch the union again, from a fresh snapshot. */
  connected(): void;
  onMessage(msg: WatchUsersResponse): void;
  /** The server ended the watch: retried after `retryMs` while handles remain. */
  onEnded(err: PresenceClientError): void;
  dispose(): void;
}

const OVERRIDES = { [PbOverride.AWAY]: "away", [PbOverride.ONLINE]: "online" } as Record<number, "away" | "online">;

export function userStatusFromPb(s: PbUserStatus): UserStatusView {
  return {
    userId: s.userId,
    state: s.state === PbUserState.ONLINE ? "online" : s.state === PbUserState.AWAY ? "away" : "offline",
    lastSeenMs: Number(s.lastSeenMs),
    customStatus: s.customStatus,
    lastActiveMs: Number(s.lastActiveMs),
    presenceOverride: OVERRIDES[s.presenceOverride] ?? "auto",
  };
}

const unknown = (userId: string): UserStatusView => ({ userId, state: "offline", lastSeenMs: 0, customStatus: "", lastActiveMs: 0, presenceOverride: "auto" });

interface HandleState {
  ids: string[];
  statuses: readonly UserStatusView[];
  ready: boolean;
  emitter: ReturnType<typeof createEmitter<{ change: readonly UserStatusView[] }>>;
}

export function createUserStatusTracker(port: UserWatchPort, clock: Clock, opts: { retryMs?: number | undefined } = {}): UserStatusTracker {
  const handles = new Set<HandleState>();
  const known = new Map<string, UserStatusView>();
  /** Ids of the current server watch, sorted and joined ("" = none). */
  let watchedKey = "";
  let snapshotFor = new Set<string>();
  let scheduled: TimerHandle | null = null;
  let retry: TimerHandle | null = null;
  const retryMs = opts.retryMs ?? 2_000;

  const union = () => [...new Set([...handles].flatMap((h) => h.ids))].sort();

  /** The current status of an id (a stable object per id until it changes). */
  const statusOf = (id: string): UserStatusView => {
    let s = known.get(id);
    if (!s) known.set(id, (s = unknown(id)));
    return s;
  };

  const refresh = (h: HandleState) => {
    const next = h.ids.map(statusOf);
    const ready = h.ids.every((id) => snapshotFor.has(id));
    if (ready === h.ready && next.every((s, i) => s === h.statuses[i])) return;
    h.statuses = next;
    h.ready = ready;
    h.emitter.emit("change", next);
  };

  /** Sends the union now if it differs from the current watch (or `force`: after a reconnect). */
  const sync = (force: boolean) => {
    scheduled?.cancel();
    scheduled = null;
    const ids = union();
    const key = ids.join("\u0000");
    if (ids.length === 0) {
      if (watchedKey !== "" && port.canWatch()) port.unwatch();
      watchedKey = "";
      return;
    }
    if (!port.canWatch()) {
      port.ensureConnected();
      return; // `connected()` watches
    }
    if (!force && key === watchedKey) return;
    watchedKey = key;
    snapshotFor = new Set();
    port.watch(ids);
  };

  const schedule = () => {
    if (!scheduled) scheduled = clock.setTimeout(() => sync(false), 0);
  };

  return {
    users(ids) {
      const h: HandleState = { ids: [...new Set(ids)], statuses: [], ready: false, emitter: createEmitter() };
      h.statuses = h.ids.map(statusOf);
      h.ready = h.ids.length > 0 && h.ids.every((id) => snapshotFor.has(id));
      handles.add(h);
      schedule();
      let closed = false;
      return {
        userIds: h.ids,
        get statuses() {
          return h.statuses;
        },
        get ready() {
          return h.ready;
        },
        get: (userId) => h.statuses.find((s) => s.userId === userId),
        on: (event, fn) => h.emitter.on(event, fn),
        close() {
          if (closed) return;
          closed = true;
          handles.delete(h);
          h.emitter.clear();
          schedule();
        },
      };
    },
    active: () => handles.size > 0,
    connected() {
      retry?.cancel();
      retry = null;
      if (handles.size > 0) sync(true);
    },
    onMessage(msg) {
      const m = msg.message;
      if (m.case === "snapshot") {
        snapshotFor = new Set();
        for (const s of m.value.statuses) {
          known.set(s.userId, userStatusFromPb(s));
          snapshotFor.add(s.userId);
        }
      } else if (m.case === "changed") known.set(m.value.userId, userStatusFromPb(m.value));
      else return;
      for (const h of handles) refresh(h);
    },
    onEnded() {
      watchedKey = "";
      if (handles.size === 0 || retry) return;
      retry = clock.setTimeout(() => {
        retry = null;
        sync(true);
      }, retryMs);
    },
    dispose() {
      scheduled?.cancel();
      retry?.cancel();
      for (const h of handles) h.emitter.clear();
      handles.clear();
    },
  };
}
