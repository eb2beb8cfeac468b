import type { Clock, TimerHandle } from "../../core/clock.js";
import type { IdSource } from "../../core/ids.js";
import type { Limits, Timings } from "../../core/options.js";
import { modelAnnounce, modelAttach, modelKick, modelListNodes, modelPurge, modelReap, modelRefresh, modelRelease } from "../../core/presence-lifecycle.js";
import { createPresenceModel, leaseOf, modelHeartbeat, modelJoin, modelLeave, modelNavigate, noEffects, type Effects, type PresenceModel } from "../../core/presence-model.js";
import type { StoreMessage } from "../../core/presence-event.js";
import {
  modelBroadcast,
  modelCursor,
  modelJoinView,
  modelListRooms,
  modelPosition,
  modelReadLog,
  modelRenewEpoch,
  modelSetStatus,
  modelTyping,
  modelUserStatus,
  modelView,
  modelWatch,
} from "../../core/presence-reads.js";
import type { JoinResult } from "../../core/session.js";
import type { UserStatusRecord } from "../../core/user-status.js";
import { createCommitEmitter, type CommitEmitter } from "../commit-emitter.js";
import type { BackendEventFeed } from "../ports/backend-event-feed.js";
import type { TrackerStore } from "../ports/tracker-store.js";
import { createMemoryEventFeed } from "./memory-event-feed.js";
import { createMemoryTrackerStore } from "./memory-tracker-store.js";
import type { PresenceStore } from "../presence-store.js";
import type { StoreMemory } from "../ports/store-health.js";
import type { ScopeStore } from "../ports/scope-store.js";
import type { AwayPolicy } from "../../core/away-policy.js";
import type { ManagedRoom } from "../../core/room-lifecycle.js";
import { modelEndRoom, modelRoomAwayChanged, modelSignalActivity, modelSweepAway, modelUpdatePresence } from "../../core/presence-seeds.js";

/**
 * MemoryPresenceStore: the embedded default store, a thin adapter over the pure presence model
 * (core/presence-model.ts and its companions, the specification every store is tested against).
 * The adapter adds what is not pure: the clock, subscriptions, the commit feed and the cursor
 * flush. Every call applies one model transition synchronously (so it is atomic) and then
 * publishes what it committed, in commit order, before it resolves.
 *
 * Timing: sessions expire `sessionTtlMs` after their last refresh and are removed by `reap()`
 * (called by the app's reaper loop every `reaperIntervalMs`); a room's state (epoch, log) is kept
 * `roomRetentionMs` after its last member and subscriber left; cursor batches are flushed every
 * `cursorFlushMs` to rooms that have subscribers.
 */
export interface MemoryStoreOptions {
  clock: Clock;
  ids: IdSource;
  timings: Timings;
  limits: Limits;
  /** Called once per published message (metrics: events published by kind). */
  onPublish?: (kind: string) => void;
  /** Called at each heartbeat with the time since the session's previous refresh (s): TTL minus the time it had left. */
  onHeartbeatLag?: (seconds: number) => void;
  /** This process's node id, recorded on the sessions it creates, attaches or reclaims (default "local"). */
  nodeId?: string;
  /** A commit-feed listener threw (it is skipped; the others still run). */
  onCommitListenerError?: (err: unknown) => void;
  /** Scope membership (scopes.proto), kept with the sessions' lifecycle. */
  scopes?: ScopeStore;
  /** Server-side away thresholds (PRESENCE_AWAY_AFTER_MS and its scope overrides); absent: never away by silence. */
  awayPolicy?: AwayPolicy;
  /** Managed rooms (rooms.proto): joins are admitted against their records in the same step. */
  managedRooms?: { record(room: string): ManagedRoom | undefined };
}

/** Cursor changes of one room since the last flush. */
interface CursorChanges {
  moved: Set<string>;
  removed: Set<string>;
}

type Listener<T> = (value: T) => void;

export class MemoryPresenceStore implements PresenceStore {
  private readonly m: PresenceModel;
  private readonly roomListeners = new Map<string, Set<Listener<StoreMessage>>>();
  private readonly userListeners = new Map<string, Set<Listener<UserStatusRecord>>>();
  private readonly cursorChanges = new Map<string, CursorChanges>();
  private readonly commits: CommitEmitter;
  private readonly flushTimer: TimerHandle;

  constructor(private readonly o: MemoryStoreOptions) {
    const nodeId = o.nodeId ?? "local";
    this.m = createPresenceModel({ ids: o.ids, timings: o.timings, limits: o.limits, nodeId, awayPolicy: o.awayPolicy, managedRooms: o.managedRooms });
    this.commits = createCommitEmitter(nodeId, o.onCommitListenerError);
    this.flushTimer = o.clock.setInterval(() => this.flushCursors(), o.timings.cursorFlushMs);
    this.trackers = createMemoryTrackerStore(o.clock);
    this.feed = createMemoryEventFeed(o.clock);
  }

  // ---- TrackerStore (memory-tracker-store.ts) and BackendEventFeed (memory-event-feed.ts) ----

  private readonly trackers: TrackerStore;
  private readonly feed: BackendEventFeed;
  createTracker: PresenceStore["createTracker"] = (...a) => this.trackers.createTracker(...a);
  loadTracker: PresenceStore["loadTracker"] = (...a) => this.trackers.loadTracker(...a);
  putTrackedKey: PresenceStore["putTrackedKey"] = (...a) => this.trackers.putTrackedKey(...a);
  deleteTrackedKey: PresenceStore["deleteTrackedKey"] = (...a) => this.trackers.deleteTrackedKey(...a);
  setTrackerHolder: PresenceStore["setTrackerHolder"] = (...a) => this.trackers.setTrackerHolder(...a);
  trackerHolders: PresenceStore["trackerHolders"] = (...a) => this.trackers.trackerHolders(...a);
  expireTrackers: PresenceStore["expireTrackers"] = (...a) => this.trackers.expireTrackers(...a);
  deleteTracker: PresenceStore["deleteTracker"] = (...a) => this.trackers.deleteTracker(...a);
  appendBackendEvents: PresenceStore["appendBackendEvents"] = (...a) => this.feed.appendBackendEvents(...a);
  readBackendEvents: PresenceStore["readBackendEvents"] = (...a) => this.feed.readBackendEvents(...a);

  // ---- SessionStore ----

  async join(input: Parameters<PresenceStore["join"]>[0]): Promise<JoinResult> {
    const now = this.o.clock.now();
    const fx = noEffects();
    const r = modelJoin(this.m, input, now, fx);
    const view = modelJoinView(this.m, input.room, now);
    this.publish(fx);
    const s = r.session;
    return {
      session: { sessionId: s.id, resumeSecret: s.resumeSecret, connectionId: s.connectionId },
      lease: leaseOf(this.m, s),
      resumed: r.resumed,
      sessionCreated: r.sessionCreated,
      roomCreated: r.roomCreated,
      event: r.event,
      view,
      scopes: s.scopes.filter((x) => x !== ""),
      awayAfterMs: s.awayAfterMs,
    };
  }

  updatePresence: PresenceStore["updatePresence"] = async (input) => this.run((now, fx) => modelUpdatePresence(this.m, input, now, fx));

  signalActivity: PresenceStore["signalActivity"] = async (input) => this.run((now, fx) => modelSignalActivity(this.m, input, now, fx));

  sweepAway: PresenceStore["sweepAway"] = async () => this.run((now, fx) => modelSweepAway(this.m, now, fx));

  endRoom: PresenceStore["endRoom"] = async (room, ended) => this.run((now, fx) => modelEndRoom(this.m, room, ended, now, fx));

  roomAwayChanged: PresenceStore["roomAwayChanged"] = async (room, ms) => modelRoomAwayChanged(this.m, room, ms);

  leave: PresenceStore["leave"] = async (input) => this.run((now, fx) => modelLeave(this.m, input, now, fx));

  navigate: PresenceStore["navigate"] = async (input) =>
    this.run((now, fx) => {
      const s = modelNavigate(this.m, input, now, fx);
      return { lease: leaseOf(this.m, s), view: modelJoinView(this.m, input.toRoom, now) };
    });

  heartbeat: PresenceStore["heartbeat"] = async (input) =>
    this.run((now, fx) => {
      const r = modelHeartbeat(this.m, input, now, fx);
      this.o.onHeartbeatLag?.(Math.max(0, this.o.timings.sessionTtlMs - r.leftMs) / 1000);
      return leaseOf(this.m, r.session);
    });

  attach: PresenceStore["attach"] = async (input) => leaseOf(this.m, modelAttach(this.m, input, this.o.clock.now()));

  refresh: PresenceStore["refresh"] = async (sessionIds) => ({ missing: modelRefresh(this.m, sessionIds, this.o.clock.now()) });

  release: PresenceStore["release"] = async (input, graceMs) => modelRelease(this.m, input, graceMs, this.o.clock.now());

  reap: PresenceStore["reap"] = async () => this.run((now, fx) => modelReap(this.m, now, fx));

  kickSession: PresenceStore["kickSession"] = async (sessionId, opts = {}) => {
    const { session: s, roomsLeft } = this.run((now, fx) => modelKick(this.m, sessionId, now, fx));
    const userId = s.identity.kind === "user" ? s.identity.user.userId : "";
    this.commits.adminAction({ kind: "kick_session", actor: opts.actor ?? "", connectionId: s.connectionId, userId, roomsLeft }, this.o.clock.now());
    return { roomsLeft };
  };

  countSessions: PresenceStore["countSessions"] = async (quotaKey) => this.m.sessions.quotas.get(quotaKey) ?? 0;

  // ---- RoomStore ----

  getView: PresenceStore["getView"] = async (room, opts) => modelView(this.m, room, opts.includeMembers, this.o.clock.now());

  readLog: PresenceStore["readLog"] = async (room, from) => modelReadLog(this.m, room, from, this.o.clock.now());

  position: PresenceStore["position"] = async (room) => modelPosition(this.m, room);

  renewEpoch: PresenceStore["renewEpoch"] = async (room, seen) => modelRenewEpoch(this.m, room, seen);

  setTyping: PresenceStore["setTyping"] = async (input) => this.run((now, fx) => modelTyping(this.m, input, now, fx));
  broadcast: PresenceStore["broadcast"] = async (message, from) => this.run((now, fx) => modelBroadcast(this.m, message, from, now, fx));

  updateCursor: PresenceStore["updateCursor"] = async (input) => {
    const { room, connectionId } = modelCursor(this.m, input, this.o.clock.now());
    const c = this.changes(room.state.room);
    c.moved.add(connectionId);
    c.removed.delete(connectionId);
  };

  listRooms: PresenceStore["listRooms"] = async (limit) => modelListRooms(this.m, limit);

  // ---- UserStatusStore ----

  getUserStatus: PresenceStore["getUserStatus"] = async (userIds) => modelUserStatus(this.m, userIds, this.o.clock.now());

  setStatus: PresenceStore["setStatus"] = async (input) => this.run((now, fx) => modelSetStatus(this.m, input, now, fx));

  // ---- EventBus ----

  subscribe(room: string, listener: Listener<StoreMessage>): () => void {
    modelWatch(this.m, room, 1, this.o.clock.now());
    let set = this.roomListeners.get(room);
    if (!set) this.roomListeners.set(room, (set = new Set()));
    set.add(listener);
    return () => {
      if (!set.delete(listener)) return;
      if (set.size === 0 && this.roomListeners.get(room) === set) this.roomListeners.delete(room);
      modelWatch(this.m, room, -1, this.o.clock.now());
    };
  }

  async ready(_room: string): Promise<void> {}

  subscribeUsers(userIds: string[], listener: Listener<UserStatusRecord>): () => void {
    for (const id of userIds) {
      let set = this.userListeners.get(id);
      if (!set) this.userListeners.set(id, (set = new Set()));
      set.add(listener);
    }
    return () => {
      for (const id of userIds) {
        const set = this.userListeners.get(id);
        if (set?.delete(listener) && set.size === 0) this.userListeners.delete(id);
      }
    };
  }

  // ---- NodeRegistry ----

  announceNode: PresenceStore["announceNode"] = async () => modelAnnounce(this.m, this.o.clock.now());

  listNodes: PresenceStore["listNodes"] = async () => modelListNodes(this.m, this.o.clock.now());

  purgeNode: PresenceStore["purgeNode"] = async (nodeId, opts) => {
    const r = this.run((now, fx) => modelPurge(this.m, nodeId, opts.force, now, fx));
    this.commits.adminAction({ kind: "purge_node", actor: opts.actor ?? "", nodeId, ...r }, this.o.clock.now());
    return r;
  };

  // ---- CommitFeed, StoreHealth ----

  onCommit: PresenceStore["onCommit"] = (listener) => this.commits.onCommit(listener);

  async ping(): Promise<void> {}

  stats(): { sessions: number; rooms: number } {
    let rooms = 0;
    for (const r of this.m.rooms.values()) if (r.state.members.size > 0) rooms++;
    return { sessions: this.m.sessions.sessions.size, rooms };
  }

  /**
   * An estimate from entry counts (the memory store has no allocator figure of its own): about
   * 1 KB per session, 600 B per room member, 400 B per logged event, 500 B per room, 300 B per user.
   */
  async memoryUsage(): Promise<StoreMemory> {
    let members = 0;
    let events = 0;
    for (const r of this.m.rooms.values()) {
      members += r.state.members.size;
      events += r.state.log.length;
    }
    const usedBytes = this.m.sessions.sessions.size * 1_024 + members * 600 + events * 400 + this.m.rooms.size * 500 + this.m.users.size * 300;
    return { usedBytes, largestNodeBytes: usedBytes, estimated: true };
  }

  async close(): Promise<void> {
    this.flushTimer.cancel();
  }

  // ---- the adapter ----

  /** Applies one transition at the clock's time, then publishes what it committed. */
  private run<T>(transition: (nowMs: number, fx: Effects) => T): T {
    const fx = noEffects();
    const out = transition(this.o.clock.now(), fx);
    this.publish(fx);
    return out;
  }

  private publish(fx: Effects): void {
    for (const { room, message } of fx.room) {
      this.o.onPublish?.(message.type === "event" ? message.event.kind : message.type);
      if (message.type === "event") this.commits.roomEvent(message.event);
      for (const l of this.roomListeners.get(room) ?? []) safely(l, message);
    }
    for (const { status, timeMs, settings } of fx.users) {
      this.commits.userStatus(status, timeMs, settings);
      for (const l of this.userListeners.get(status.userId) ?? []) safely(l, status);
    }
    // The memory scope store applies these synchronously (no awaiting inside it).
    const scopes = this.o.scopes;
    if (scopes) {
      for (const s of fx.sessionsStarted) if (s.identity.kind === "user") void scopes.addSession(s.id, s.identity.user, s.scopes, s.lastActiveMs);
      for (const t of fx.stamps) void scopes.stamp(t.userId, t.scopes, t.ms);
      for (const s of fx.sessionsEnded) if (s.identity.kind === "user") void scopes.removeSession(s.id, s.identity.user.userId, s.scopes);
    }
    for (const { room, connectionId } of fx.cursorsRemoved) {
      const c = this.changes(room);
      c.moved.delete(connectionId);
      c.removed.add(connectionId);
    }
  }

  private changes(room: string): CursorChanges {
    let c = this.cursorChanges.get(room);
    if (!c) this.cursorChanges.set(room, (c = { moved: new Set(), removed: new Set() }));
    return c;
  }

  private flushCursors(): void {
    for (const [room, c] of this.cursorChanges) {
      const r = this.m.rooms.get(room);
      const listeners = this.roomListeners.get(room);
      if (!r || !listeners) continue;
      const cursors = [];
      for (const id of c.moved) {
        const cur = r.state.cursors.get(id);
        if (cur) cursors.push(cur);
      }
      const message: StoreMessage = { type: "cursors", batch: { room, cursors, removedConnectionIds: [...c.removed] } };
      this.o.onPublish?.("cursors");
      for (const l of listeners) safely(l, message);
    }
    this.cursorChanges.clear();
  }
}

/** A listener's failure must not stop the others; the hub counts its own errors. */
function safely<T>(listener: Listener<T>, value: T): void {
  try {
    listener(value);
  } catch {
    // ignored on purpose
  }
}

/** Factory in the house style. */
export function createMemoryPresenceStore(options: MemoryStoreOptions): MemoryPresenceStore {
  return new MemoryPresenceStore(options);
}
