import type { Clock, TimerHandle } from "../../core/clock.js";
import type { IdSource } from "../../core/ids.js";
import type { MemberIdentity } from "../../core/identity.js";
import type { Limits, Timings } from "../../core/options.js";
import { limitExceeded, sessionNotFound } from "../../core/presence-error.js";
import type { Activity, CursorPosition, LeaveReason, PresenceEvent, RoomView, StoreMessage } from "../../core/presence-event.js";
import {
  applyActivity,
  applyJoin,
  applyLeave,
  applyTyping,
  buildRoomView,
  countsOf,
  createRoomState,
  emptyRoomView,
  readLogFrom,
  trimLog,
  type RoomState,
} from "../../core/room-state.js";
import { sameStatus, stateOf, unknownUser, type UserStatusRecord } from "../../core/user-status.js";
import { PresenceError } from "../../core/presence-error.js";
import { compareNodes, deadAfterMs, nodeAlive, nodeNotFound } from "../../core/node-id.js";
import type { NodeInfo } from "../../core/node-id.js";
import { compareRooms, type RoomSummary } from "../../core/room-summary.js";
import type { JoinInput, JoinResult, Lease, ReapResult, SessionRef } from "../../core/session.js";
import { createCommitEmitter, type CommitEmitter } from "../commit-emitter.js";
import type { PresenceStore } from "../presence-store.js";
import type { StoreMemory } from "../ports/store-health.js";

/**
 * MemoryPresenceStore: the embedded default store and the executable specification of the Redis
 * store. Every mutation is synchronous inside one call, so it is atomic; events are published to
 * the room's subscribers in version order before the call resolves.
 *
 * Timing: sessions expire `sessionTtlMs` after their last heartbeat and are removed by `reap()`
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
}

interface SessionRecord {
  id: string;
  resumeSecret: string;
  connectionId: string;
  ownerKey: string;
  identity: MemberIdentity;
  activity: Activity;
  expiresAtMs: number;
  /** The node that created, attached or reclaimed the session last. */
  nodeId: string;
  /** room → metadata of this session's connection in that room. */
  rooms: Map<string, Record<string, string>>;
}

interface UserEntry {
  /** sessionId → activity of that session. */
  sessions: Map<string, Activity>;
  lastSeenMs: number;
  visibleLastSeenMs: number;
  customStatus: string;
  invisible: boolean;
}

interface RoomEntry {
  state: RoomState;
  subscribers: Set<(m: StoreMessage) => void>;
  /** When the room last became empty of members and subscribers (0 while in use). */
  idleSinceMs: number;
  cursorsDirty: Set<string>;
  cursorsRemoved: Set<string>;
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly requestIds = new Map<string, { sessionId: string; expiresAtMs: number }>();
  private readonly dirtyRooms = new Set<RoomEntry>();
  private readonly users = new Map<string, UserEntry>();
  private readonly userSubscribers = new Map<string, Set<(r: UserStatusRecord) => void>>();
  private readonly flushTimer: TimerHandle;
  private readonly nodeId: string;
  /** The node registry: node id → last announcement (only this process's node, once announced). */
  private readonly nodes = new Map<string, number>();
  /** ownerKey → live sessions of that owner (countSessions). */
  private readonly owners = new Map<string, number>();
  private readonly commits: CommitEmitter;

  constructor(private readonly o: MemoryStoreOptions) {
    this.flushTimer = o.clock.setInterval(() => this.flushCursors(), o.timings.cursorFlushMs);
    this.nodeId = o.nodeId ?? "local";
    this.commits = createCommitEmitter(this.nodeId, o.onCommitListenerError);
  }

  onCommit: PresenceStore["onCommit"] = (listener) => this.commits.onCommit(listener);

  async countSessions(ownerKey: string): Promise<number> {
    return this.owners.get(ownerKey) ?? 0;
  }

  /**
   * An estimate from entry counts (the memory store has no allocator figure of its own): about
   * 1 KB per session, 600 B per room member, 400 B per logged event, 300 B per user status.
   */
  async memoryUsage(): Promise<StoreMemory> {
    let members = 0;
    let events = 0;
    for (const e of this.rooms.values()) {
      members += e.state.members.size;
      events += e.state.log.length;
    }
    const usedBytes = this.sessions.size * 1_024 + members * 600 + events * 400 + this.users.size * 300 + this.rooms.size * 500;
    return { usedBytes, largestNodeBytes: usedBytes, estimated: true };
  }

  async join(input: JoinInput): Promise<JoinResult> {
    const now = this.o.clock.now();
    let session: SessionRecord | undefined;
    let resumed = false;
    const dedupeKey = input.requestId ? `${input.ownerKey}\u0000${input.requestId}` : undefined;
    let sessionId = input.sessionId;
    if (!sessionId && dedupeKey) {
      const seen = this.requestIds.get(dedupeKey);
      if (seen && seen.expiresAtMs > now) sessionId = seen.sessionId;
    }
    if (sessionId) {
      const found = this.liveSession(sessionId, now);
      const owned = found && found.ownerKey === input.ownerKey;
      if (input.resumeSecret) {
        if (owned && found.resumeSecret === input.resumeSecret) {
          session = found;
          session.nodeId = this.nodeId;
          resumed = true;
        }
        // Gone (or not ours): a new session, and the answer says resumed = false.
      } else if (owned) {
        session = found;
      } else if (input.sessionId) {
        throw sessionNotFound();
      }
    }
    if (session && !session.rooms.has(input.room) && session.rooms.size >= this.o.limits.maxRoomsPerSession) {
      throw limitExceeded("room", this.o.limits.maxRoomsPerSession, session.rooms.size + 1, "rooms per session", "TOO_MANY_ROOMS");
    }
    const sessionCreated = !session;
    if (!session) {
      session = {
        id: this.o.ids.sessionId(),
        resumeSecret: this.o.ids.resumeSecret(),
        connectionId: this.o.ids.connectionId(),
        ownerKey: input.ownerKey,
        identity: input.identity,
        activity: input.activity ?? "active",
        expiresAtMs: now + this.o.timings.sessionTtlMs,
        nodeId: this.nodeId,
        rooms: new Map(),
      };
      this.sessions.set(session.id, session);
      this.owners.set(session.ownerKey, (this.owners.get(session.ownerKey) ?? 0) + 1);
      this.trackUser(session, session.activity, now);
      if (dedupeKey) this.requestIds.set(dedupeKey, { sessionId: session.id, expiresAtMs: now + this.o.timings.sessionTtlMs });
    }
    session.expiresAtMs = now + this.o.timings.sessionTtlMs;
    const roomCreated = !this.rooms.has(input.room);
    const event = this.joinRoom(session, input.room, input.metadata, now);
    return {
      session: { sessionId: session.id, resumeSecret: session.resumeSecret, connectionId: session.connectionId },
      lease: this.lease(session),
      resumed,
      sessionCreated,
      roomCreated,
      event,
      view: this.viewForJoin(input.room, now),
    };
  }

  async leave(input: SessionRef & { room: string; reason: LeaveReason }) {
    const now = this.o.clock.now();
    const s = this.ownedSession(input, now);
    if (!s.rooms.has(input.room)) return { left: false, sessionEnded: false };
    this.leaveRoom(s, input.room, input.reason, now);
    const sessionEnded = s.rooms.size === 0;
    if (sessionEnded) this.endSession(s, now);
    return { left: true, sessionEnded };
  }

  async navigate(input: SessionRef & { fromRoom: string; toRoom: string; metadata: Record<string, string> }) {
    const now = this.o.clock.now();
    const s = this.ownedSession(input, now);
    const leaving = input.fromRoom !== "" && input.fromRoom !== input.toRoom && s.rooms.has(input.fromRoom);
    const roomsAfter = s.rooms.size - (leaving ? 1 : 0) + (s.rooms.has(input.toRoom) ? 0 : 1);
    if (roomsAfter > this.o.limits.maxRoomsPerSession) {
      throw limitExceeded("to_room", this.o.limits.maxRoomsPerSession, roomsAfter, "rooms per session", "TOO_MANY_ROOMS");
    }
    if (leaving) this.leaveRoom(s, input.fromRoom, "left", now);
    s.expiresAtMs = now + this.o.timings.sessionTtlMs;
    this.joinRoom(s, input.toRoom, input.metadata, now);
    return { lease: this.lease(s), view: this.viewForJoin(input.toRoom, now) };
  }

  async heartbeat(input: SessionRef & { activity?: Activity }): Promise<Lease> {
    const now = this.o.clock.now();
    const s = this.ownedSession(input, now);
    const leftMs = s.expiresAtMs - now;
    s.expiresAtMs = now + this.o.timings.sessionTtlMs;
    this.o.onHeartbeatLag?.(Math.max(0, this.o.timings.sessionTtlMs - leftMs) / 1000);
    if (input.activity && input.activity !== s.activity) {
      s.activity = input.activity;
      this.trackUser(s, input.activity, now);
      for (const room of s.rooms.keys()) {
        const entry = this.rooms.get(room);
        if (!entry) continue;
        const ev = applyActivity(entry.state, s.connectionId, input.activity, now);
        if (ev) this.publishEvent(entry, ev, now);
      }
    }
    return this.lease(s);
  }

  async attach(input: SessionRef): Promise<Lease> {
    const now = this.o.clock.now();
    const s = this.ownedSession(input, now);
    s.expiresAtMs = now + this.o.timings.sessionTtlMs;
    s.nodeId = this.nodeId;
    return this.lease(s);
  }

  async refresh(sessionIds: string[]): Promise<{ missing: string[] }> {
    const now = this.o.clock.now();
    const missing: string[] = [];
    for (const id of sessionIds) {
      const s = this.liveSession(id, now);
      if (s) s.expiresAtMs = now + this.o.timings.sessionTtlMs;
      else missing.push(id);
    }
    return { missing };
  }

  async release(input: SessionRef, graceMs: number): Promise<void> {
    const now = this.o.clock.now();
    const s = this.liveSession(input.sessionId, now);
    if (s && s.ownerKey === input.ownerKey) s.expiresAtMs = now + graceMs;
  }

  async setTyping(input: SessionRef & { room: string; typing: boolean }): Promise<void> {
    const now = this.o.clock.now();
    const s = this.ownedSession(input, now);
    const entry = this.rooms.get(input.room);
    if (!s.rooms.has(input.room) || !entry || s.identity.kind !== "user") throw sessionNotFound();
    const userId = s.identity.user.userId;
    const outcome = applyTyping(entry.state, userId, input.typing, now, this.o.timings.typingTtlMs);
    if (outcome !== "changed") return;
    const expiresInMs = input.typing ? this.o.timings.typingTtlMs : 0;
    this.publish(entry, { type: "typing", typing: { room: input.room, userId, typing: input.typing, expiresInMs } });
  }

  async updateCursor(input: SessionRef & { room: string; position: CursorPosition }): Promise<void> {
    const now = this.o.clock.now();
    const s = this.ownedSession(input, now);
    const entry = this.rooms.get(input.room);
    if (!s.rooms.has(input.room) || !entry || s.identity.kind !== "user") throw sessionNotFound();
    entry.state.cursors.set(s.connectionId, {
      connectionId: s.connectionId,
      userId: s.identity.user.userId,
      position: input.position,
      updatedAtMs: now,
    });
    entry.cursorsDirty.add(s.connectionId);
    entry.cursorsRemoved.delete(s.connectionId);
    this.dirtyRooms.add(entry);
  }

  async getView(room: string, opts: { includeMembers: boolean }): Promise<RoomView> {
    const entry = this.rooms.get(room);
    if (!entry) return emptyRoomView(room, opts.includeMembers);
    return buildRoomView(entry.state, { includeMembers: opts.includeMembers, nowMs: this.o.clock.now(), cursorTtlMs: this.o.timings.cursorTtlMs });
  }

  async readLog(room: string, from: { epoch: string; version: number }) {
    const entry = this.rooms.get(room);
    if (!entry) return null;
    trimLog(entry.state, this.o.timings.logMaxEntries, this.o.timings.logMaxAgeMs, this.o.clock.now());
    return readLogFrom(entry.state, from);
  }

  subscribe(room: string, listener: (m: StoreMessage) => void): () => void {
    const entry = this.room(room);
    entry.subscribers.add(listener);
    entry.idleSinceMs = 0;
    return () => {
      if (!entry.subscribers.delete(listener)) return;
      this.markIdleIfUnused(entry, this.o.clock.now());
    };
  }

  async ready(_room: string): Promise<void> {}

  async position(room: string) {
    const s = this.room(room).state;
    return { epoch: s.epoch, version: s.version };
  }

  async reap(): Promise<ReapResult> {
    const now = this.o.clock.now();
    let expiredSessions = 0;
    let leaves = 0;
    for (const s of this.sessions.values()) {
      if (s.expiresAtMs > now) continue;
      expiredSessions++;
      for (const room of [...s.rooms.keys()]) {
        if (this.leaveRoom(s, room, "timeout", now)) leaves++;
      }
      this.endSession(s, now);
    }
    for (const [k, v] of this.requestIds) if (v.expiresAtMs <= now) this.requestIds.delete(k);
    for (const [userId, u] of this.users) {
      if (u.sessions.size === 0 && u.lastSeenMs + this.o.timings.lastSeenRetentionMs <= now && !this.userSubscribers.has(userId)) {
        this.users.delete(userId);
      }
    }
    for (const [name, entry] of this.rooms) {
      if (entry.idleSinceMs > 0 && entry.idleSinceMs + this.o.timings.roomRetentionMs <= now) this.rooms.delete(name);
    }
    return { expiredSessions, leaves };
  }

  stats() {
    let rooms = 0;
    for (const e of this.rooms.values()) if (e.state.members.size > 0) rooms++;
    return { sessions: this.sessions.size, rooms };
  }

  // ---- operator calls ----

  async announceNode(): Promise<void> {
    this.nodes.set(this.nodeId, this.o.clock.now());
  }

  async listRooms(limit: number): Promise<{ rooms: RoomSummary[]; totalRooms: number }> {
    const all: RoomSummary[] = [];
    for (const [room, e] of this.rooms) if (e.state.members.size > 0) all.push({ room, counts: countsOf(e.state) });
    return { rooms: all.sort(compareRooms).slice(0, limit), totalRooms: all.length };
  }

  async listNodes(): Promise<{ nodes: NodeInfo[]; deadAfterMs: number }> {
    const now = this.o.clock.now();
    const bound = deadAfterMs(this.o.timings.nodeRefreshMs);
    const sessions = new Map<string, number>();
    for (const s of this.sessions.values()) if (s.expiresAtMs > now) sessions.set(s.nodeId, (sessions.get(s.nodeId) ?? 0) + 1);
    const ids = new Set([...this.nodes.keys(), ...sessions.keys()]);
    const nodes = [...ids].map((nodeId): NodeInfo => {
      const lastSeenMs = this.nodes.get(nodeId) ?? 0;
      const lastSeenAgeMs = lastSeenMs === 0 ? 0 : now - lastSeenMs;
      return { nodeId, lastSeenMs, lastSeenAgeMs, alive: lastSeenMs > 0 && lastSeenAgeMs < bound, sessions: sessions.get(nodeId) ?? 0 };
    });
    return { nodes: nodes.sort(compareNodes), deadAfterMs: bound };
  }

  async kickSession(sessionId: string, opts: { actor?: string } = {}): Promise<{ roomsLeft: number }> {
    const now = this.o.clock.now();
    const s = this.liveSession(sessionId, now);
    if (!s) throw sessionNotFound();
    const roomsLeft = this.kick(s, now);
    const userId = s.identity.kind === "user" ? s.identity.user.userId : "";
    this.commits.adminAction({ kind: "kick_session", actor: opts.actor ?? "", connectionId: s.connectionId, userId, roomsLeft }, now);
    return { roomsLeft };
  }

  async purgeNode(nodeId: string, opts: { force: boolean; actor?: string }): Promise<{ sessionsKicked: number; roomsLeft: number }> {
    const now = this.o.clock.now();
    const lastSeen = this.nodes.get(nodeId);
    const bound = deadAfterMs(this.o.timings.nodeRefreshMs);
    if (lastSeen !== undefined && now - lastSeen < bound && !opts.force) throw nodeAlive(nodeId, now - lastSeen, bound);
    const victims = [...this.sessions.values()].filter((s) => s.nodeId === nodeId && s.expiresAtMs > now);
    if (lastSeen === undefined && victims.length === 0) throw nodeNotFound(nodeId);
    let roomsLeft = 0;
    for (const s of victims) roomsLeft += this.kick(s, now);
    this.nodes.delete(nodeId);
    this.commits.adminAction({ kind: "purge_node", actor: opts.actor ?? "", nodeId, sessionsKicked: victims.length, roomsLeft }, now);
    return { sessionsKicked: victims.length, roomsLeft };
  }

  async getUserStatus(userIds: string[]): Promise<UserStatusRecord[]> {
    return userIds.map((id) => this.userRecord(id));
  }

  async setStatus(input: SessionRef & { customStatus?: string; invisible?: boolean }): Promise<UserStatusRecord> {
    const now = this.o.clock.now();
    const s = this.ownedSession(input, now);
    if (s.identity.kind !== "user") {
      throw new PresenceError("PERMISSION_DENIED", "session_id: anonymous sessions have no user status", { field: "session_id" });
    }
    const userId = s.identity.user.userId;
    const u = this.users.get(userId)!;
    this.changeUser(userId, now, () => {
      if (input.customStatus !== undefined) u.customStatus = input.customStatus;
      if (input.invisible !== undefined && input.invisible !== u.invisible) {
        u.invisible = input.invisible;
        // Others keep seeing the last time they really saw the user.
        if (u.invisible) u.visibleLastSeenMs = u.sessions.size > 0 ? now : u.lastSeenMs;
      }
    });
    return this.userRecord(userId);
  }

  subscribeUsers(userIds: string[], listener: (r: UserStatusRecord) => void): () => void {
    for (const id of userIds) {
      let set = this.userSubscribers.get(id);
      if (!set) this.userSubscribers.set(id, (set = new Set()));
      set.add(listener);
    }
    return () => {
      for (const id of userIds) {
        const set = this.userSubscribers.get(id);
        if (set?.delete(listener) && set.size === 0) this.userSubscribers.delete(id);
      }
    };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.flushTimer.cancel();
  }

  // ---- internals ----

  private lease(s: SessionRecord): Lease {
    return { ttlMs: this.o.timings.sessionTtlMs, heartbeatIntervalMs: this.o.timings.heartbeatIntervalMs, expiresAtMs: s.expiresAtMs };
  }

  /** A session that exists and has not expired. An expired one is fenced: never refreshed again. */
  private liveSession(id: string, now: number): SessionRecord | undefined {
    const s = this.sessions.get(id);
    return s && s.expiresAtMs > now ? s : undefined;
  }

  private ownedSession(ref: SessionRef, now: number): SessionRecord {
    const s = this.liveSession(ref.sessionId, now);
    if (!s || s.ownerKey !== ref.ownerKey) throw sessionNotFound();
    return s;
  }

  private userRecord(userId: string): UserStatusRecord {
    const u = this.users.get(userId);
    if (!u) return unknownUser(userId);
    return {
      userId,
      state: stateOf(u.sessions.values()),
      lastSeenMs: u.lastSeenMs,
      customStatus: u.customStatus,
      invisible: u.invisible,
      visibleLastSeenMs: u.invisible ? u.visibleLastSeenMs : u.lastSeenMs,
    };
  }

  /** Applies `mutate` to a user's entry and publishes the new status if any viewer would see a change. */
  private changeUser(userId: string, now: number, mutate: () => void): void {
    const before = this.userRecord(userId);
    mutate();
    const after = this.userRecord(userId);
    if (sameStatus(before, after)) return;
    this.commits.userStatus(after, now);
    for (const l of this.userSubscribers.get(userId) ?? []) {
      try {
        l(after);
      } catch {
        // One subscriber's failure must not stop the others.
      }
    }
  }

  /** Records a session's activity under its user (anonymous sessions have no user status). */
  private trackUser(s: SessionRecord, activity: Activity, now: number): void {
    if (s.identity.kind !== "user") return;
    const userId = s.identity.user.userId;
    let u = this.users.get(userId);
    if (!u) {
      u = { sessions: new Map(), lastSeenMs: 0, visibleLastSeenMs: 0, customStatus: "", invisible: false };
      this.users.set(userId, u);
    }
    const entry = u;
    this.changeUser(userId, now, () => entry.sessions.set(s.id, activity));
  }

  /** Leaves every room with reason KICKED and ends the session; returns the leaves published. */
  private kick(s: SessionRecord, now: number): number {
    let leaves = 0;
    for (const room of [...s.rooms.keys()]) if (this.leaveRoom(s, room, "kicked", now)) leaves++;
    this.endSession(s, now);
    return leaves;
  }

  private endSession(s: SessionRecord, now: number): void {
    this.sessions.delete(s.id);
    const owned = (this.owners.get(s.ownerKey) ?? 0) - 1;
    if (owned > 0) this.owners.set(s.ownerKey, owned);
    else this.owners.delete(s.ownerKey);
    if (s.identity.kind !== "user") return;
    const u = this.users.get(s.identity.user.userId);
    if (!u) return;
    this.changeUser(s.identity.user.userId, now, () => {
      u.sessions.delete(s.id);
      if (u.sessions.size === 0) u.lastSeenMs = now;
    });
  }

  private room(name: string): RoomEntry {
    let entry = this.rooms.get(name);
    if (!entry) {
      entry = {
        state: createRoomState(name, this.o.ids.epoch()),
        subscribers: new Set(),
        idleSinceMs: 0,
        cursorsDirty: new Set(),
        cursorsRemoved: new Set(),
      };
      this.rooms.set(name, entry);
    }
    return entry;
  }

  private joinRoom(s: SessionRecord, room: string, metadata: Record<string, string>, now: number): PresenceEvent | null {
    const entry = this.room(room);
    entry.idleSinceMs = 0;
    const prev = entry.state.members.get(s.connectionId);
    const ev = applyJoin(
      entry.state,
      { connectionId: s.connectionId, identity: s.identity, metadata, activity: s.activity, joinedAtMs: prev?.joinedAtMs ?? now },
      now,
    );
    s.rooms.set(room, metadata);
    if (ev) this.publishEvent(entry, ev, now);
    return ev;
  }

  private leaveRoom(s: SessionRecord, room: string, reason: LeaveReason, now: number): boolean {
    s.rooms.delete(room);
    const entry = this.rooms.get(room);
    if (!entry) return false;
    const out = applyLeave(entry.state, s.connectionId, reason, now);
    if (out.event) this.publishEvent(entry, out.event, now);
    if (out.typingStopped) {
      this.publish(entry, { type: "typing", typing: { room, userId: out.typingStopped, typing: false, expiresInMs: 0 } });
    }
    if (out.cursorRemoved) {
      entry.cursorsDirty.delete(s.connectionId);
      entry.cursorsRemoved.add(s.connectionId);
      this.dirtyRooms.add(entry);
    }
    this.markIdleIfUnused(entry, now);
    return out.event !== null;
  }

  private markIdleIfUnused(entry: RoomEntry, now: number): void {
    if (entry.state.members.size === 0 && entry.subscribers.size === 0 && entry.idleSinceMs === 0) entry.idleSinceMs = now;
  }

  private viewForJoin(room: string, now: number): RoomView {
    const entry = this.room(room);
    const includeMembers = entry.state.members.size <= this.o.limits.largeRoomThreshold;
    return buildRoomView(entry.state, { includeMembers, nowMs: now, cursorTtlMs: this.o.timings.cursorTtlMs });
  }

  private publishEvent(entry: RoomEntry, ev: PresenceEvent, now: number): void {
    trimLog(entry.state, this.o.timings.logMaxEntries, this.o.timings.logMaxAgeMs, now);
    this.publish(entry, { type: "event", event: ev });
    this.commits.roomEvent(ev);
  }

  private publish(entry: RoomEntry, message: StoreMessage): void {
    this.o.onPublish?.(message.type === "event" ? message.event.kind : message.type);
    for (const l of entry.subscribers) {
      try {
        l(message);
      } catch {
        // A subscriber's failure must not stop the others; the hub counts its own errors.
      }
    }
  }

  private flushCursors(): void {
    for (const entry of this.dirtyRooms) {
      if (entry.subscribers.size > 0 && (entry.cursorsDirty.size > 0 || entry.cursorsRemoved.size > 0)) {
        const cursors = [];
        for (const id of entry.cursorsDirty) {
          const c = entry.state.cursors.get(id);
          if (c) cursors.push(c);
        }
        this.publish(entry, {
          type: "cursors",
          batch: { room: entry.state.room, cursors, removedConnectionIds: [...entry.cursorsRemoved] },
        });
      }
      entry.cursorsDirty.clear();
      entry.cursorsRemoved.clear();
    }
    this.dirtyRooms.clear();
  }
}

/** Factory in the house style. */
export function createMemoryPresenceStore(options: MemoryStoreOptions): MemoryPresenceStore {
  return new MemoryPresenceStore(options);
}
