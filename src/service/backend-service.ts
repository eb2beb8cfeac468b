import type { Clock } from "../core/clock.js";
import { ownerKeyOf, type Caller } from "../core/identity.js";
import type { IdSource } from "../core/ids.js";
import type { Activity } from "../core/presence-event.js";
import { draining as draining_, invalidArgument, limitExceeded, presenceError } from "../core/presence-error.js";
import type { Lease } from "../core/session.js";
import { createHash } from "node:crypto";
import type { BackendLimits } from "../core/options.js";
import type { SessionStore, TrackerStore } from "../store/presence-store.js";
import type { PresenceService } from "./presence-service.js";
import { createTrackerSession, type TrackerSession, type TrackerState } from "./tracker-session.js";

/**
 * The application service of the backend calls (BackendService): batches of session calls and
 * the trackers behind Track streams. Every item goes through the PresenceService exactly like the
 * matching unary call (same validation, ownership and rights), so a batch item answers what the
 * unary call would. No I/O of its own.
 *
 * Trackers (Phoenix Tracker model): a tracker is a set of presences (key → one session bound to
 * the stream that holds the tracker, so the node keeps them alive). It belongs to the caller's
 * owner key and is named by `(owner key, tracker id)`; its secret proves a reconnecting stream is
 * the same backend. When its stream ends abruptly the sessions enter the reconnect grace and the
 * tracker is kept on this node for the grace; a stream opening with its id and secret in that
 * time takes it over (no leave/join), on any node (the tracker is shared through the store). A
 * live stream of the same tracker is replaced (TRACKER_REPLACED): on this node at once, on another
 * node at that node's next refresh (each stream records itself as the tracker's holder).
 */
export interface BackendService {
  heartbeatBatch(caller: Caller, items: Array<{ sessionId: string; activity?: Activity }>): Promise<Array<ItemResult<Lease>>>;
  leaveBatch(caller: Caller, items: Array<{ sessionId: string; room: string }>): Promise<Array<ItemResult<{ left: boolean }>>>;
  /**
   * Opens (or reclaims) a tracker for a new stream. `onReplaced` runs when a newer stream of the
   * same tracker takes it over; `onLost(key)` when a presence ends without being untracked.
   */
  openTracker(caller: Caller, req: { trackerId: string; trackerSecret: string }, hooks: TrackerHooks): Promise<TrackerSession>;
  /** Trackers held on this node (streams open or in their grace). */
  trackerCount(): number;
  /** Open Track streams and the presences (keys × rooms) they hold, for gauges. */
  stats(): { streams: number; presences: number };
  /** Shutdown: every open Track stream ends with DRAINING (its presences enter the reconnect grace). */
  drain(): void;
  /** Extends the stored trackers of this node's open streams (the app calls it with the session refresh). */
  refreshTrackers(): Promise<void>;
}

export type ItemResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface TrackerHooks {
  onReplaced(): void;
  onDrained(): void;
  onLost(key: string): void;
}

export interface BackendServiceOptions {
  presence: PresenceService;
  config: BackendLimits;
  clock: Clock;
  ids: IdSource;
  /** How long a tracker whose stream ended is kept for a reconnect (the reconnect grace). */
  reconnectGraceMs: number;
  /** Shared trackers, so that a reconnect to another node reclaims too. */
  store: TrackerStore;
  /** Batch refresh of sessions: a reclaim first pulls every key's session out of its grace at once. */
  sessions: Pick<SessionStore, "refresh">;
  /** How long a stored tracker lives without a refresh while its stream is open (the session TTL). */
  sessionTtlMs: number;
}

/** Trackers keep a hash of their secret in the store, never the secret. */
const hash = (secret: string) => createHash("sha256").update(secret).digest("hex");

const TRACKER_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

export function createBackendService(o: BackendServiceOptions): BackendService {
  const trackers = new Map<string, TrackerState>();
  let draining = false;

  const batch = <T>(field: string, n: number) => {
    if (n === 0) throw invalidArgument(field, "must not be empty");
    if (n > o.config.maxBatchSessions) throw limitExceeded(field, o.config.maxBatchSessions, n, "items", "INVALID_ARGUMENT");
    return (p: Promise<T>): Promise<ItemResult<T>> =>
      p.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
  };

  /**
   * A stream on another node took the tracker over while this node's stream was still open (the
   * backend reconnected elsewhere over a connection this node had not seen die). This node forgets
   * it without touching the store (the tracker and its sessions are the other node's now): its
   * bindings stop (a release by a node the session is no longer recorded for keeps the other
   * node's binding) and its stream ends with TRACKER_REPLACED.
   */
  function takenOver(name: string, t: TrackerState) {
    if (trackers.get(name) === t) trackers.delete(name);
    const stream = t.stream;
    t.stream = undefined; // the old session's detach() sees it is no longer its own: no grace, no store write
    for (const k of t.keys.values()) {
      k.release?.();
      k.release = undefined;
    }
    stream?.replaced();
  }

  return {
    async heartbeatBatch(caller, items) {
      const settle = batch<Lease>("heartbeats", items.length);
      return Promise.all(items.map((it) => settle(o.presence.heartbeat(caller, it))));
    },

    async leaveBatch(caller, items) {
      const settle = batch<{ left: boolean }>("leaves", items.length);
      return Promise.all(items.map((it) => settle(o.presence.leave(caller, it))));
    },

    async openTracker(caller, req, hooks) {
      if (draining) throw draining_();
      const owner = ownerKeyOf(caller);
      if (req.trackerId !== "" && !TRACKER_ID.test(req.trackerId)) {
        throw invalidArgument("open.tracker_id", "must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'");
      }
      const id = req.trackerId || `trk_${o.ids.sessionId().slice(0, 16)}`;
      const name = `${owner}\u0000${id}`;
      const conflict = () =>
        presenceError("TRACKER_CONFLICT", `open.tracker_id: tracker ${JSON.stringify(id)} is held by another tracker (no or wrong tracker_secret)`, { field: "open.tracker_id" });
      let state = trackers.get(name);
      if (state && state.stream === undefined) {
        // In its grace here: reclaim from the store like any node would (another node may have
        // changed it since).
        state.graceTimer?.cancel();
        trackers.delete(name);
        state = undefined;
      }
      let created = false;
      if (state) {
        if (req.trackerSecret === "" || req.trackerSecret !== state.secret) throw conflict();
        state.stream?.replaced(); // the older stream ends with TRACKER_REPLACED; its bindings move here
      } else {
        // Not held here: held by another node, in its grace, or new.
        const stored = req.trackerId === "" ? null : await o.store.loadTracker(name);
        if (stored) {
          if (req.trackerSecret === "" || hash(req.trackerSecret) !== stored.secretHash) throw conflict();
          const keys = new Map([...stored.keys].map(([k, r]) => [k, { sessionId: r.sessionId, connectionId: r.connectionId, userId: r.userId, user: r.user, rooms: new Map(Object.entries(r.rooms)), release: undefined }]));
          state = { id, owner, secret: req.trackerSecret, keys, presences: [...keys.values()].reduce((n, k) => n + k.rooms.size, 0), stream: undefined, holder: "", graceTimer: undefined };
        } else {
          const secret = o.ids.sessionId();
          if (!(await o.store.createTracker(name, hash(secret), o.sessionTtlMs))) throw conflict();
          state = { id, owner, secret, keys: new Map(), presences: 0, stream: undefined, holder: "", graceTimer: undefined };
          created = true;
        }
        trackers.set(name, state);
      }
      state.graceTimer?.cancel();
      state.graceTimer = undefined;
      // This stream holds the tracker now: a stream of it still open on another node learns so at
      // its node's next refresh and ends with TRACKER_REPLACED (refreshTrackers).
      state.holder = o.ids.sessionId();
      await o.store.setTrackerHolder(name, state.holder, o.sessionTtlMs);
      // Reclaim: one batched refresh takes every session out of its grace before the keys are
      // bound one by one (a large tracker would otherwise race its own grace).
      if (!created && state.keys.size > 0) await o.sessions.refresh([...state.keys.values()].map((k) => k.sessionId));
      const held = state;
      const session = await createTrackerSession({
        caller,
        state: held,
        created,
        presence: o.presence,
        config: o.config,
        hooks,
        keepAlive: (ids) => o.sessions.refresh(ids).then(() => undefined),
        keepAliveEveryMs: Math.max(50, Math.min(500, Math.floor(o.reconnectGraceMs / 4))),
        clock: o.clock,
        persist: {
          put: (key, k) => o.store.putTrackedKey(name, key, { sessionId: k.sessionId, connectionId: k.connectionId, userId: k.userId, user: k.user, rooms: Object.fromEntries(k.rooms) }, o.sessionTtlMs),
          del: (key) => o.store.deleteTrackedKey(name, key),
        },
        // The stream ended without `close`: keep the tracker for the grace, then forget it.
        onDetached(clean) {
          if (clean) {
            if (trackers.get(name) === held) trackers.delete(name);
            void o.store.deleteTracker(name).catch(() => undefined);
            return;
          }
          void o.store.expireTrackers([name], o.reconnectGraceMs).catch(() => undefined);
          held.graceTimer = o.clock.setTimeout(() => {
            if (held.stream === undefined && trackers.get(name) === held) trackers.delete(name);
          }, o.reconnectGraceMs);
        },
      });
      return session;
    },

    trackerCount: () => trackers.size,

    stats() {
      let streams = 0;
      let presences = 0;
      for (const t of trackers.values()) {
        if (t.stream === undefined) continue;
        streams++;
        presences += t.presences;
      }
      return { streams, presences };
    },

    async refreshTrackers() {
      const held = [...trackers.entries()].filter(([, t]) => t.stream !== undefined);
      if (held.length === 0) return;
      const holders = await o.store.trackerHolders(held.map(([n]) => n));
      const still: string[] = [];
      held.forEach(([name, t], i) => {
        const h = holders[i];
        if (h === null || h === undefined || h === t.holder) still.push(name);
        else takenOver(name, t);
      });
      if (still.length > 0) await o.store.expireTrackers(still, o.sessionTtlMs);
    },

    drain() {
      draining = true;
      for (const t of trackers.values()) t.stream?.drained();
    },
  };
}
