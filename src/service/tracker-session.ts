import type { Clock, TimerHandle } from "../core/clock.js";
import type { Caller, UserInfo } from "../core/identity.js";
import type { Activity, RoomView } from "../core/presence-event.js";
import { invalidArgument, presenceError } from "../core/presence-error.js";
import { checkText, utf8Length } from "../core/room-name.js";
import type { BackendLimits } from "../core/options.js";
import type { PresenceService } from "./presence-service.js";

/**
 * One Track stream's view of its tracker: the commands of the stream (track, untrack, update,
 * set_activity, close) applied through the PresenceService like the unary calls, each key's
 * commands one at a time in arrival order (different keys run concurrently), and the bindings
 * that keep every key's session alive while the stream is open.
 */

/** A tracked key: one session, in one or more rooms. */
export interface KeyState {
  sessionId: string;
  connectionId: string;
  userId: string;
  user: UserInfo | undefined;
  /** room → metadata */
  rooms: Map<string, Record<string, string>>;
  /** Ends this stream's binding of the session (the session then enters the reconnect grace). */
  release: (() => void) | undefined;
}

/** A tracker, kept by the node across its streams (see backend-service.ts). */
export interface TrackerState {
  id: string;
  owner: string;
  secret: string;
  keys: Map<string, KeyState>;
  /** Presences held: the sum of rooms over keys (reserved before a join completes). */
  presences: number;
  /** The stream holding the tracker now; undefined while it waits for a reconnect. */
  stream: { replaced(): void; drained(): void } | undefined;
  /** The token this node's stream recorded as the tracker's holder (a takeover elsewhere writes another). */
  holder: string;
  graceTimer: TimerHandle | undefined;
}

export interface TrackedPresenceInfo {
  key: string;
  room: string;
  userId: string;
  connectionId: string;
  metadata: Record<string, string>;
}

export interface TrackOutcome {
  connectionId: string;
  changed: boolean;
  view: RoomView;
}

export interface TrackerSession {
  readonly trackerId: string;
  /** Set only when this stream created the tracker. */
  readonly createdSecret: string | undefined;
  readonly resumed: boolean;
  /** Presences reclaimed by this stream (empty for a new tracker). */
  readonly reclaimed: readonly TrackedPresenceInfo[];
  track(cmd: { key: string; room: string; user?: UserInfo; metadata: Record<string, string>; activity?: Activity }): Promise<TrackOutcome>;
  untrack(cmd: { key: string; room: string }): Promise<{ left: boolean; ended: boolean }>;
  update(cmd: { key: string; room: string; metadata: Record<string, string> }): Promise<TrackOutcome>;
  setActivity(cmd: { key: string; activity?: Activity }): Promise<void>;
  /** Clean close: every presence leaves now; resolves with how many left. */
  close(): Promise<number>;
  /** The stream ended without `close`: release every binding (reconnect grace). Idempotent. */
  detach(): void;
}

export interface TrackerSessionOptions {
  caller: Caller;
  state: TrackerState;
  created: boolean;
  presence: PresenceService;
  config: BackendLimits;
  hooks: { onReplaced(): void; onDrained(): void; onLost(key: string): void };
  onDetached(clean: boolean): void;
  /**
   * Batch refresh of sessions while a reclaim binds them one by one: the old stream's releases may
   * still be landing (each cuts its session down to the grace until this node has bound it), so
   * the sessions not bound yet are refreshed every `keepAliveEveryMs`.
   */
  keepAlive(sessionIds: string[]): Promise<void>;
  keepAliveEveryMs: number;
  /** The injected clock (the reclaim's refresh timer). */
  clock: Clock;
  /** Writes a key's record to the shared tracker (after each change) or deletes it. */
  persist: { put(key: string, k: KeyState): Promise<void>; del(key: string): Promise<void> };
}

const BIND_CHUNK = 256;

export async function createTrackerSession(o: TrackerSessionOptions): Promise<TrackerSession> {
  const { state, presence, caller } = o;
  const me = { replaced: () => o.hooks.onReplaced(), drained: () => o.hooks.onDrained() };
  state.stream = me;
  const mine = () => state.stream === me;
  const chains = new Map<string, Promise<unknown>>();
  let ended = false;

  /** Runs `fn` after the key's previous command (commands of one key never overlap). */
  function serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    chains.set(key, tail);
    void tail.then(() => {
      if (chains.get(key) === tail) chains.delete(key);
    });
    return next;
  }

  const lost = (key: string, k: KeyState) => () => {
    if (state.keys.get(key) !== k) return;
    state.keys.delete(key);
    state.presences -= k.rooms.size;
    void o.persist.del(key).catch(() => undefined);
    if (mine()) o.hooks.onLost(key);
  };

  async function bindKey(key: string, k: KeyState): Promise<void> {
    const previous = k.release;
    k.release = await presence.bind(caller, k.sessionId, lost(key, k));
    previous?.(); // the older stream's binding (takeover): after ours, so the session never enters the grace
  }

  // Reclaim: bind every key of the tracker to this stream; keys whose session is gone are dropped.
  const reclaimed: TrackedPresenceInfo[] = [];
  if (!o.created) {
    const keys = [...state.keys];
    const unbound = new Set(keys.map(([, k]) => k.sessionId));
    let refreshing = false;
    const timer = o.clock.setInterval(() => {
      if (refreshing || unbound.size === 0) return;
      refreshing = true;
      void o
        .keepAlive([...unbound])
        .catch(() => undefined)
        .finally(() => (refreshing = false));
    }, o.keepAliveEveryMs);
    try {
      for (let i = 0; i < keys.length; i += BIND_CHUNK) {
        await Promise.all(
          keys.slice(i, i + BIND_CHUNK).map(async ([key, k]) => {
            try {
              await bindKey(key, k);
            } catch {
              lost(key, k)();
            } finally {
              unbound.delete(k.sessionId);
            }
          }),
        );
      }
    } finally {
      timer.cancel();
    }
    for (const [key, k] of state.keys) {
      for (const [room, metadata] of k.rooms) reclaimed.push({ key, room, userId: k.userId, connectionId: k.connectionId, metadata });
    }
  }

  const checkKey = (key: string) => {
    if (key === "") throw invalidArgument("key", "must not be empty");
    const n = utf8Length(key);
    if (n > 128) throw invalidArgument("key", `must be at most 128 bytes (got ${n})`);
    checkText(key, "key");
    return key;
  };
  const known = (key: string) => {
    const k = state.keys.get(key);
    if (!k) throw presenceError("PRESENCE_NOT_FOUND", `key: no presence tracked with key ${JSON.stringify(key)}`, { field: "key" });
    return k;
  };
  const reserve = () => {
    if (state.presences >= o.config.trackMaxPresences) {
      throw presenceError("TOO_MANY_PRESENCES", `track: a Track stream may hold at most ${o.config.trackMaxPresences} presences (PRESENCE_TRACK_MAX_PRESENCES)`, {
        field: "track",
        limit: o.config.trackMaxPresences,
        actual: state.presences + 1,
      });
    }
    state.presences++;
  };
  const live = () => {
    if (ended || !mine()) throw presenceError("TRACKER_REPLACED", "track: this stream no longer holds the tracker");
  };
  const same = (a: Record<string, string>, b: Record<string, string>) => {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((x) => b[x] === a[x]);
  };
  const join = (k: KeyState | undefined, room: string, metadata: Record<string, string>, user?: UserInfo, activity?: Activity) =>
    presence.join(caller, { room, metadata, sessionId: k?.sessionId ?? "", resumeSecret: "", activity, requestId: "", onBehalfOf: k ? k.user : user, anonymousId: "" });

  return {
    trackerId: state.id,
    createdSecret: o.created ? state.secret : undefined,
    resumed: !o.created,
    reclaimed,

    track(cmd) {
      const key = checkKey(cmd.key);
      return serial(key, async () => {
        live();
        const k = state.keys.get(key);
        const prev = k?.rooms.get(cmd.room);
        if (prev === undefined) reserve();
        try {
          const r = await join(k, cmd.room, cmd.metadata, cmd.user, cmd.activity);
          if (k) {
            k.rooms.set(cmd.room, cmd.metadata);
            if (prev === undefined || !same(prev, cmd.metadata)) await o.persist.put(key, k);
            return { connectionId: k.connectionId, changed: prev === undefined || !same(prev, cmd.metadata), view: r.view };
          }
          const fresh: KeyState = { sessionId: r.session.sessionId, connectionId: r.session.connectionId, userId: cmd.user?.userId ?? caller.subject, user: cmd.user, rooms: new Map([[cmd.room, cmd.metadata]]), release: undefined };
          state.keys.set(key, fresh);
          await bindKey(key, fresh);
          await o.persist.put(key, fresh);
          return { connectionId: fresh.connectionId, changed: true, view: r.view };
        } catch (e) {
          if (prev === undefined && !(k === undefined && state.keys.has(key))) state.presences--;
          throw e;
        }
      });
    },

    untrack(cmd) {
      const key = checkKey(cmd.key);
      return serial(key, async () => {
        live();
        const k = known(key);
        const rooms = cmd.room === "" ? [...k.rooms.keys()] : k.rooms.has(cmd.room) ? [cmd.room] : [];
        let left = false;
        for (const room of rooms) {
          const out = await presence.leave(caller, { sessionId: k.sessionId, room });
          left ||= out.left;
          k.rooms.delete(room);
          state.presences--;
        }
        const gone = k.rooms.size === 0;
        if (gone) {
          state.keys.delete(key);
          k.release?.();
          await o.persist.del(key);
        } else if (left) await o.persist.put(key, k);
        return { left, ended: gone };
      });
    },

    update(cmd) {
      const key = checkKey(cmd.key);
      return serial(key, async () => {
        live();
        const k = known(key);
        const prev = k.rooms.get(cmd.room);
        if (prev === undefined) throw presenceError("PRESENCE_NOT_FOUND", `room: key ${JSON.stringify(key)} is not tracked in room ${JSON.stringify(cmd.room)}`, { field: "room" });
        const r = await join(k, cmd.room, cmd.metadata);
        k.rooms.set(cmd.room, cmd.metadata);
        if (!same(prev, cmd.metadata)) await o.persist.put(key, k);
        return { connectionId: k.connectionId, changed: !same(prev, cmd.metadata), view: r.view };
      });
    },

    setActivity(cmd) {
      const key = checkKey(cmd.key);
      return serial(key, async () => {
        live();
        await presence.heartbeat(caller, { sessionId: known(key).sessionId, activity: cmd.activity });
      });
    },

    async close() {
      live();
      ended = true;
      let left = 0;
      const keys = [...state.keys];
      for (let i = 0; i < keys.length; i += BIND_CHUNK) {
        await Promise.all(
          keys.slice(i, i + BIND_CHUNK).map(([key, k]) =>
            serial(key, async () => {
              for (const room of [...k.rooms.keys()]) {
                const out = await presence.leave(caller, { sessionId: k.sessionId, room }).catch(() => ({ left: false }));
                if (out.left) left++;
              }
              k.release?.();
            }),
          ),
        );
      }
      state.keys.clear();
      state.presences = 0;
      state.stream = undefined;
      o.onDetached(true);
      return left;
    },

    detach() {
      if (ended) return;
      ended = true;
      if (!mine()) return; // replaced: the newer stream holds the bindings now
      state.stream = undefined;
      for (const k of state.keys.values()) {
        k.release?.();
        k.release = undefined;
      }
      o.onDetached(false);
    },
  };
}
