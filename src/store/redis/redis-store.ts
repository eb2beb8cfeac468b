import type { Cluster, Redis } from "ioredis";
import type { Clock, TimerHandle } from "../../core/clock.js";
import type { IdSource } from "../../core/ids.js";
import type { MemberIdentity } from "../../core/identity.js";
import type { Limits, Timings } from "../../core/options.js";
import { limitExceeded, PresenceError, sessionNotFound } from "../../core/presence-error.js";
import type { Activity, CursorPosition, LeaveReason, Position, PresenceEvent, RoomView, StoreMessage } from "../../core/presence-event.js";
import type { UserStatusRecord } from "../../core/user-status.js";
import type { JoinInput, JoinResult, Lease, NavigateResult, PresenceStore, ReapResult, SessionRef } from "../presence-store.js";
import { decodeRoomMessage, encodeMember, identityKey, type StoredSession } from "./codec.js";
import { createHeartbeatBatcher, type HeartbeatBatcher, type HeartbeatResult } from "./heartbeat-batcher.js";
import { redisConfigWarnings } from "./config-warnings.js";
import { createKeys, type Keys } from "./keys.js";
import { KnownSessions } from "./known-sessions.js";
import { createSessionReaper, type SessionReaper } from "./session-reaper.js";
import { createAdminOps, type AdminOps } from "./admin-ops.js";
import { createDataLossRecovery, type DataLossRecovery } from "./data-loss-recovery.js";
import { createCursorBatcher, type CursorBatcher } from "./cursor-batcher.js";
import { createUserStatusOps, type UserStatusOps } from "./user-status-ops.js";
import { redisErrorKind } from "./redis-error-kind.js";
import { eventsFromReplies, viewFromReplies } from "./room-reader.js";
import { loadScripts, type ScriptName, type ScriptRunner } from "./scripts.js";
import { createSubscriber, type Subscriber } from "./subscriber.js";

/**
 * RedisPresenceStore: the PresenceStore over standalone Redis or Redis Cluster, shared by any
 * number of nodes. Each mutation of a room is one Lua script (members, version, log, publish in one
 * step, time from Redis); sessions live in 64 hash-tagged buckets (expiry zset + record hash) and
 * user statuses in per-user hashes, so every call touches one slot.
 *
 * Ordering that keeps crashes harmless: a session lists a room before it joins the room and keeps
 * listing it until it has left, so every room member can be found (and reaped) through its session.
 * Reaping is shared by the nodes: a node claims expired sessions of a bucket (fencing them: from
 * then on heartbeats are refused), leaves their rooms with reason TIMEOUT (idempotent, fenced per
 * member by session id), then deletes them; a claim not finished in time is claimed again.
 *
 * Failure behaviour: request-path commands fail fast (no offline queue) and surface as
 * `unavailable` / STORE_UNAVAILABLE; background work reports through `observer`.
 */
export interface RedisStoreObserver {
  scriptReload?(name: string): void;
  redisError?(kind: string): void;
  commandDuration?(command: string, seconds: number): void;
  subscriberReconnect?(): void;
  published?(kind: string): void;
  reassert?(sessions: number): void;
  /** A Heartbeat (not an attach or refresh) found the session last refreshed `seconds` ago (TTL minus the time it had left). */
  heartbeatLag?(seconds: number): void;
}

export interface RedisStoreOptions {
  client: Redis | Cluster;
  /** The pub/sub connection (a `duplicate()` of a standalone client, or a Cluster with shardedSubscribers). */
  subscriberConnection: Redis | Cluster;
  cluster: boolean;
  prefix: string;
  ids: IdSource;
  timings: Timings;
  limits: Limits;
  /** Local timers (cursor flush, position checks) and, when `fixedTime` is set, the time given to scripts. */
  clock: Clock;
  /** Tests only: scripts take their time from `clock` instead of Redis TIME. */
  fixedTime?: boolean;
  observer?: RedisStoreObserver;
  /** This process's node id, recorded on the sessions it creates, attaches or reclaims (default "local"). */
  nodeId?: string;
  /** Bound of the subscriber round trip in `ping()` (the command timeout). */
  probeTimeoutMs: number;
}


export class RedisPresenceStore implements PresenceStore {
  private readonly keys: Keys;
  private readonly scripts: ScriptRunner;
  private readonly sub: Subscriber;
  private readonly pub: "PUBLISH" | "SPUBLISH";
  private readonly heartbeats: HeartbeatBatcher;
  private readonly cursors: CursorBatcher;
  private readonly users: UserStatusOps;
  private readonly reaper: SessionReaper;
  private readonly admin: AdminOps;
  private readonly cursorTimer: TimerHandle;
  private readonly known = new KnownSessions();
  private get nodeId(): string {
    return this.o.nodeId ?? "local";
  }
  private readonly recovery: DataLossRecovery;
  /** Settles when the work after the last subscriber reconnect is done (snapshot reads wait for it). */
  private recovered: Promise<void> = Promise.resolve();
  private sessionCount = 0;
  private closed = false;

  constructor(private readonly o: RedisStoreOptions) {
    this.keys = createKeys(o.prefix);
    this.scripts = loadScripts(o.client, (name) => o.observer?.scriptReload?.(name));
    this.pub = o.cluster ? "SPUBLISH" : "PUBLISH";
    this.sub = createSubscriber({
      connection: o.subscriberConnection,
      sharded: o.cluster,
      clock: o.clock,
      onReconnect: () => {
        o.observer?.subscriberReconnect?.();
        this.recovered = this.recovery.afterReconnect(() => this.readiness.keys());
      },
      onError: () => o.observer?.redisError?.("subscriber"),
    });
    this.heartbeats = createHeartbeatBatcher(this.keys, (b, list) => {
      const bk = this.keys.bucket(b);
      const args: (string | number)[] = [this.nowArg(), this.o.timings.sessionTtlMs];
      for (const h of list) args.push(h.sid, h.owner, h.activity, h.ttlMs);
      return this.run("sessionsHeartbeat", [bk.expiry, bk.sessions], args);
    });
    this.cursors = createCursorBatcher((room, cursors) => {
      const k = this.keys.room(room);
      const args: (string | number)[] = [this.nowArg(), k.channel, this.pub, room];
      for (const [conn, c] of cursors) args.push(conn, c.sid, c.userId, JSON.stringify(c.position));
      return this.run("roomCursors", [k.members, k.cursors], args).then((r) => {
        if ((r as [number])[0] > 0) this.o.observer?.published?.("cursors");
      });
    });
    this.users = createUserStatusOps({
      keys: this.keys,
      read: (key) => this.cmd("hgetall", () => this.o.client.hgetall(key)),
      run: (name, keys, args) => this.run(name, keys, args),
      subscriber: this.sub,
      pub: this.pub,
      nowArg: () => this.nowArg(),
      lastSeenRetentionMs: o.timings.lastSeenRetentionMs,
    });
    this.reaper = createSessionReaper({
      keys: this.keys,
      run: (name, keys, args) => this.run(name, keys, args),
      cmd: (name, fn) => this.cmd(name, fn),
      client: o.client,
      nowArg: () => this.nowArg(),
      leaveRoom: (room, conn, sid, reason) => this.roomLeave(room, conn, sid, reason),
      endUserSession: (session, sid) => this.userSession(session.id, "end", sid, session.act),
      forget: (sid) => this.known.delete(sid),
    });
    this.admin = createAdminOps({
      ...{ keys: this.keys, client: o.client, cluster: o.cluster, nodeId: this.nodeId, nodeRefreshMs: o.timings.nodeRefreshMs },
      ...{ run: (name, keys, args) => this.run(name, keys, args), cmd: (name, fn) => this.cmd(name, fn), nowArg: () => this.nowArg() },
      finish: (sid, reason) => this.reaper.finish(sid, reason),
    });
    this.recovery = createDataLossRecovery({
      ...{ client: o.client, clock: o.clock, known: this.known, incarnationKey: this.keys.incarnation(), newIncarnation: () => o.ids.epoch() },
      ...{ sessionTtlMs: o.timings.sessionTtlMs, nodeId: this.nodeId, cmd: (name, fn) => this.cmd(name, fn) },
      sessionOpen: (mode, sid, owner, arg, room, mdJson) => this.sessionOpen(mode, sid, owner, arg, room, mdJson),
      roomJoin: (room, sid, session, md) => this.roomJoin(room, sid, session, md),
      userSession: (identity, op, sid, act) => this.userSession(identity, op, sid, act),
      touch: (room) => this.touch(room),
      reassertFailed: () => o.observer?.redisError?.("reassert"),
      reasserted: (n) => o.observer?.reassert?.(n),
    });
    this.cursorTimer = o.clock.setInterval(() => void this.flushCursors(), o.timings.cursorFlushMs);
  }

  /** Checks (or sets) the dataset's incarnation marker. Call once at start-up. */
  async init(): Promise<void> {
    await this.recovery.init();
  }

  /** Warnings about the Redis configuration (an evicting `maxmemory-policy`), for the start-up log. */
  configWarnings(): Promise<string[]> {
    return redisConfigWarnings(this.o.client, this.o.cluster);
  }

  // ---- sessions and rooms ----

  async join(input: JoinInput): Promise<JoinResult> {
    let sid = input.sessionId;
    let mode: "use" | "reclaim" | "new" = sid ? (input.resumeSecret ? "reclaim" : "use") : "new";
    let newSid: string | undefined;
    if (!sid && input.requestId) {
      const candidate = this.o.ids.sessionId();
      const prev = (await this.cmd("set", () =>
        this.o.client.call("SET", this.keys.request(input.ownerKey, input.requestId!), candidate, "PX", String(this.o.timings.sessionTtlMs), "NX", "GET"),
      )) as string | null;
      if (prev) {
        sid = prev;
        mode = "use";
      } else newSid = candidate;
    }
    const room = input.room;
    const mdJson = JSON.stringify(input.metadata);
    let opened: { expiresAt: number; session: StoredSession; sid: string } | null = null;
    let resumed = false;
    if (sid && mode !== "new") {
      const r = await this.sessionOpen(mode, sid, input.ownerKey, mode === "reclaim" ? input.resumeSecret! : "", room, mdJson);
      if (r.status === -2) {
        throw limitExceeded("room", this.o.limits.maxRoomsPerSession, r.expiresAt + 1, "rooms per session", "TOO_MANY_ROOMS");
      }
      if (r.status === 1) {
        opened = { expiresAt: r.expiresAt, session: r.session!, sid };
        resumed = mode === "reclaim";
      } else if (mode === "use" && input.sessionId) {
        throw sessionNotFound();
      }
    }
    if (!opened) {
      const id = newSid ?? this.o.ids.sessionId();
      const session: StoredSession = {
        sec: this.o.ids.resumeSecret(),
        c: this.o.ids.connectionId(),
        o: input.ownerKey,
        id: input.identity,
        act: input.activity ?? "active",
        n: this.nodeId,
      };
      const r = await this.sessionOpen("new", id, input.ownerKey, JSON.stringify(session), room, mdJson);
      opened = { expiresAt: r.expiresAt, session, sid: id };
      await this.userSession(session.id, "set", id, session.act);
    }
    const { session, sid: sessionId, expiresAt } = opened;
    this.remember(sessionId, input.ownerKey, session, room, input.metadata);
    const event = await this.roomJoin(room, sessionId, session, input.metadata);
    const view = await this.readView(room, "join");
    return {
      session: { sessionId, resumeSecret: session.sec, connectionId: session.c },
      lease: this.lease(expiresAt),
      resumed,
      event,
      view,
    };
  }

  async leave(input: SessionRef & { room: string; reason: LeaveReason }) {
    const session = await this.check(input);
    await this.roomLeave(input.room, session.c, input.sessionId, input.reason);
    const r = (await this.run("sessionLeaveRoom", this.sessionKeys(input.sessionId), [input.sessionId, input.ownerKey, this.nowArg(), input.room])) as [number, string];
    if (r[0] === -1) throw sessionNotFound();
    this.known.get(input.sessionId)?.rooms.delete(input.room);
    if (r[0] === 2) {
      this.known.delete(input.sessionId);
      await this.userSession(session.id, "end", input.sessionId, session.act);
    }
    return { left: r[0] >= 1, sessionEnded: r[0] === 2 };
  }

  async navigate(input: SessionRef & { fromRoom: string; toRoom: string; metadata: Record<string, string> }): Promise<NavigateResult> {
    const r = (await this.run("sessionNavigate", this.sessionKeys(input.sessionId), [
      input.sessionId,
      input.ownerKey,
      this.nowArg(),
      this.o.timings.sessionTtlMs,
      input.fromRoom,
      input.toRoom,
      JSON.stringify(input.metadata),
      this.o.limits.maxRoomsPerSession,
    ])) as [number, number, string, number];
    if (r[0] === -1) throw sessionNotFound();
    if (r[0] === -2) throw limitExceeded("to_room", this.o.limits.maxRoomsPerSession, r[1], "rooms per session", "TOO_MANY_ROOMS");
    const session = JSON.parse(r[2]) as StoredSession;
    this.remember(input.sessionId, input.ownerKey, session, input.toRoom, input.metadata);
    if (r[3] === 1) {
      await this.roomLeave(input.fromRoom, session.c, input.sessionId, "left");
      await this.run("sessionLeaveRoom", this.sessionKeys(input.sessionId), [input.sessionId, input.ownerKey, this.nowArg(), input.fromRoom]);
      this.known.get(input.sessionId)?.rooms.delete(input.fromRoom);
    }
    await this.roomJoin(input.toRoom, input.sessionId, session, input.metadata);
    return { lease: this.lease(r[1]), view: await this.readView(input.toRoom, "join") };
  }

  async heartbeat(input: SessionRef & { activity?: Activity }): Promise<Lease> {
    return this.beat(input, true);
  }

  /** Heartbeat and attach; only a Heartbeat reports its lag (an attach may follow a release's grace). */
  private async beat(input: SessionRef & { activity?: Activity }, isHeartbeat: boolean): Promise<Lease> {
    const ttlMs = this.o.timings.sessionTtlMs;
    const r = await this.queueHeartbeat(input.sessionId, input.ownerKey, input.activity ?? "", ttlMs);
    if (r.status === -1) {
      if (await this.recovery.reassertIfDataLost(input.sessionId)) return this.beat(input, isHeartbeat);
      throw sessionNotFound();
    }
    if (isHeartbeat) this.o.observer?.heartbeatLag?.(Math.max(0, ttlMs - r.leftMs) / 1000);
    const known = this.known.get(input.sessionId);
    if (known) known.seenAt = this.o.clock.now();
    if (r.status === 2) await this.activityChanged(input.sessionId, JSON.parse(r.changed) as StoredSession);
    return this.lease(r.expiresAt);
  }

  async attach(input: SessionRef): Promise<Lease> {
    const lease = await this.beat({ sessionId: input.sessionId, ownerKey: input.ownerKey }, false);
    let known = this.known.get(input.sessionId);
    if (!known) {
      // Created on another node: learn it, so this node can re-assert it if Redis loses its data.
      const b = this.keys.bucket(this.keys.bucketOf(input.sessionId));
      const [json, rooms] = await Promise.all([
        this.cmd("hget", () => this.o.client.hget(b.sessions, input.sessionId)),
        this.cmd("hgetall", () => this.o.client.hgetall(this.keys.sessionRooms(input.sessionId))),
      ]);
      if (json) {
        const session = JSON.parse(json) as StoredSession;
        for (const [room, md] of Object.entries(rooms)) this.remember(input.sessionId, input.ownerKey, session, room, JSON.parse(md) as Record<string, string>);
        known = this.known.get(input.sessionId);
      }
    }
    if (known) known.pins++;
    const bk = this.keys.bucket(this.keys.bucketOf(input.sessionId));
    await this.run("sessionSetNode", [bk.expiry, bk.sessions], [input.sessionId, input.ownerKey, this.nodeId, this.nowArg()]);
    return lease;
  }

  async refresh(sessionIds: string[]): Promise<{ missing: string[] }> {
    // One promise for the whole call (not one per session): refreshes are the bulk of the traffic.
    const ttlMs = this.o.timings.sessionTtlMs;
    const status = await this.heartbeats.many(sessionIds, ttlMs);
    const now = this.o.clock.now();
    const missing: string[] = [];
    sessionIds.forEach((sid, i) => {
      if (status[i] === -1) return void missing.push(sid);
      const k = this.known.get(sid);
      if (k) k.seenAt = now;
    });
    if (missing.length > 0 && (await this.recovery.recoverIfDataLost())) {
      return { missing: missing.filter((sid) => !this.known.has(sid)) };
    }
    return { missing };
  }

  async release(input: SessionRef, graceMs: number): Promise<void> {
    const known = this.known.get(input.sessionId);
    if (known) {
      known.pins = Math.max(0, known.pins - 1);
      // Re-assert a released session only while its grace lasts.
      if (known.pins === 0) known.seenAt = this.o.clock.now() - this.o.timings.sessionTtlMs + graceMs;
    }
    const b = this.keys.bucket(this.keys.bucketOf(input.sessionId));
    await this.run("sessionRelease", [b.expiry, b.sessions], [input.sessionId, input.ownerKey, this.nowArg(), graceMs]);
  }

  async setTyping(input: SessionRef & { room: string; typing: boolean }): Promise<void> {
    const session = await this.check(input);
    if (session.id.kind !== "user") throw sessionNotFound();
    const k = this.keys.room(input.room);
    const r = (await this.run("roomTyping", [k.meta, k.members, k.typing], [
      session.c,
      input.sessionId,
      session.id.user.userId,
      input.typing ? "1" : "0",
      this.nowArg(),
      this.o.timings.typingTtlMs,
      k.channel,
      this.pub,
      input.room,
    ])) as [number];
    if (r[0] === -1) throw sessionNotFound();
    if (r[0] === 1) this.o.observer?.published?.("typing");
  }

  async updateCursor(input: SessionRef & { room: string; position: CursorPosition }): Promise<void> {
    const session = await this.check(input);
    if (session.id.kind !== "user") throw sessionNotFound();
    this.cursors.add(input.room, session.c, { sid: input.sessionId, userId: session.id.user.userId, position: input.position });
  }

  async getView(room: string, opts: { includeMembers: boolean }): Promise<RoomView> {
    const view = await this.readView(room, opts.includeMembers ? "full" : "counts");
    return view;
  }

  async readLog(room: string, from: Position): Promise<PresenceEvent[] | null> {
    const k = this.keys.room(room);
    const res = (await this.cmd("multi", () => this.o.client.multi().hmget(k.meta, "e", "v").xrange(k.log, "-", "+").exec())) as [Error | null, unknown][];
    return eventsFromReplies(res, from);
  }

  subscribe(room: string, listener: (m: StoreMessage) => void): () => void {
    const k = this.keys.room(room);
    const s = this.sub.add(k.channel, {
      message: (payload) => {
        const m = decodeRoomMessage(payload);
        if (m) listener(m);
      },
      reset: () => listener({ type: "reset" }),
    });
    // A watched room keeps (or gets) its state, like the memory store; errors surface on reads.
    // Ready only once touched too: a snapshot read before the touch (e.g. while the script is
    // reloaded after NOSCRIPT) would show no epoch, and the first event would force a resync.
    const touched = this.touch(room).catch(() => {});
    this.readiness.set(room, Promise.all([s.ready, touched]).then(() => {}));
    return () => {
      s.remove();
      this.readiness.delete(room);
    };
  }

  private readonly readiness = new Map<string, Promise<void>>();

  async ready(room: string): Promise<void> {
    try {
      await this.readiness.get(room);
      await this.recovered;
    } catch (e) {
      this.o.observer?.redisError?.("subscriber");
      throw new PresenceError("STORE_UNAVAILABLE", "presence store unavailable (subscribe failed); retry with backoff", {}, { cause: e });
    }
  }

  async position(room: string): Promise<Position> {
    return this.touch(room);
  }

  // ---- operator calls (admin-ops.ts) ----

  announceNode = () => this.admin.announce();
  listRooms = (limit: number) => this.admin.listRooms(limit);
  listNodes = () => this.admin.listNodes();
  kickSession = (sessionId: string) => this.admin.kickSession(sessionId);
  purgeNode = (nodeId: string, opts: { force: boolean }) => this.admin.purgeNode(nodeId, opts.force);

  // ---- user status (user-status-ops.ts) ----

  getUserStatus(userIds: string[]): Promise<UserStatusRecord[]> {
    return this.users.read(userIds);
  }

  async setStatus(input: SessionRef & { customStatus?: string; invisible?: boolean }): Promise<UserStatusRecord> {
    const session = await this.check(input);
    if (session.id.kind !== "user") {
      throw new PresenceError("PERMISSION_DENIED", "session_id: anonymous sessions have no user status", { field: "session_id" });
    }
    return this.users.set(session.id.user.userId, input.customStatus, input.invisible);
  }

  subscribeUsers(userIds: string[], listener: (r: UserStatusRecord) => void): () => void {
    return this.users.subscribe(userIds, listener);
  }

  // ---- reaping ----

  async reap(): Promise<ReapResult> {
    const r = await this.reaper.reap();
    this.sessionCount = r.liveSessions;
    // Forget sessions this node has not seen alive for a TTL (they are not re-asserted); those held
    // by a transport of this node are kept even when refreshes failed (an outage).
    this.known.forgetStale(this.o.clock.now() - this.o.timings.sessionTtlMs);
    return { expiredSessions: r.expiredSessions, leaves: r.leaves };
  }

  stats() {
    return { sessions: this.sessionCount, rooms: this.readiness.size };
  }

  /** Whether the pub/sub subscriber is connected right now (cached flag; `presence_redis_subscriber_up`). */
  subscriberHealthy(): boolean {
    return this.sub.healthy();
  }

  /**
   * Readiness: a real write (fails when Redis is unreachable or refuses writes), then a fresh
   * round trip on the subscriber connection(s), bounded by `probeTimeoutMs`: a subscriber that is
   * down or frozen means this node would miss events, so it is not ready either.
   */
  async ping(): Promise<void> {
    await this.cmd("set", () => this.o.client.set(`${this.o.prefix}:ping`, String(Date.now()), "PX", 10_000));
    await this.sub.probe(this.o.probeTimeoutMs).catch((e: unknown) => {
      this.o.observer?.redisError?.("subscriber");
      throw new PresenceError("STORE_UNAVAILABLE", `redis subscriber probe failed: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cursorTimer.cancel();
    await this.flushCursors().catch(() => {});
    await this.sub.close();
    this.o.client.disconnect();
  }

  // ---- internals ----

  private nowArg(): string {
    return this.o.fixedTime ? String(this.o.clock.now()) : "0";
  }

  private lease(expiresAt: number): Lease {
    return { ttlMs: this.o.timings.sessionTtlMs, heartbeatIntervalMs: this.o.timings.heartbeatIntervalMs, expiresAtMs: expiresAt };
  }

  private sessionKeys(sid: string): string[] {
    const b = this.keys.bucket(this.keys.bucketOf(sid));
    return [b.expiry, b.sessions, this.keys.sessionRooms(sid)];
  }

  /** Runs one script; Redis failures become `unavailable` (request paths fail fast). */
  private async run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.cmd(name, () => this.scripts.run(name, keys, args));
  }

  private async cmd<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } catch (e) {
      if (e instanceof PresenceError) throw e;
      const kind = redisErrorKind(e);
      this.o.observer?.redisError?.(kind);
      throw new PresenceError("STORE_UNAVAILABLE", `presence store unavailable (${kind}); retry with backoff`, {}, { cause: e });
    } finally {
      this.o.observer?.commandDuration?.(name, (performance.now() - t0) / 1000);
    }
  }

  private async sessionOpen(mode: "new" | "use" | "reclaim", sid: string, owner: string, arg: string, room: string, mdJson: string) {
    const r = (await this.run("sessionOpen", this.sessionKeys(sid), [
      mode,
      sid,
      owner,
      arg,
      this.nowArg(),
      this.o.timings.sessionTtlMs,
      room,
      mdJson,
      this.o.limits.maxRoomsPerSession,
      this.nodeId,
    ])) as [number, number, string];
    return { status: r[0], expiresAt: Number(r[1]), session: r[2] ? (JSON.parse(r[2]) as StoredSession) : null };
  }

  /** A live session of this owner (no refresh); SESSION_NOT_FOUND otherwise. */
  private async check(ref: SessionRef): Promise<StoredSession> {
    const b = this.keys.bucket(this.keys.bucketOf(ref.sessionId));
    const r = (await this.run("sessionCheck", [b.expiry, b.sessions], [ref.sessionId, ref.ownerKey, this.nowArg()])) as [number, string];
    if (r[0] !== 1) throw sessionNotFound();
    return JSON.parse(r[1]) as StoredSession;
  }

  private async roomJoin(room: string, sid: string, session: StoredSession, metadata: Record<string, string>): Promise<PresenceEvent | null> {
    const k = this.keys.room(room);
    const r = (await this.run("roomJoin", [k.meta, k.members, k.counters, k.log, k.typing, k.cursors], [
      session.c,
      encodeMember(session.c, sid, session.id, metadata, session.act),
      identityKey(session.id),
      this.o.ids.epoch(),
      this.nowArg(),
      this.o.timings.logMaxEntries,
      this.o.timings.logMaxAgeMs,
      k.channel,
      this.pub,
      room,
    ])) as [number, string, number, string];
    if (r[0] === 0) return null;
    const msg = decodeRoomMessage(r[3]);
    if (msg?.type === "event") this.o.observer?.published?.(msg.event.kind);
    return msg?.type === "event" ? msg.event : null;
  }

  private async roomLeave(room: string, conn: string, sid: string, reason: LeaveReason): Promise<boolean> {
    const k = this.keys.room(room);
    const r = (await this.run("roomLeave", [k.meta, k.members, k.counters, k.log, k.typing, k.cursors], [
      conn,
      sid,
      reason,
      this.nowArg(),
      this.o.timings.logMaxEntries,
      this.o.timings.logMaxAgeMs,
      k.channel,
      this.pub,
      room,
      this.o.timings.roomRetentionMs,
    ])) as [number, number];
    if (r[0] === 1) this.o.observer?.published?.("left");
    return r[0] === 1;
  }

  private userSession(identity: MemberIdentity, op: "set" | "end", sid: string, activity: Activity): Promise<void> {
    return this.users.session(identity, op, sid, activity);
  }

  private async activityChanged(sid: string, session: StoredSession): Promise<void> {
    const rooms = await this.cmd("hgetall", () => this.o.client.hgetall(this.keys.sessionRooms(sid)));
    for (const room of Object.keys(rooms)) {
      const k = this.keys.room(room);
      const r = (await this.run("roomActivity", [k.meta, k.members, k.log], [
        session.c,
        sid,
        session.act,
        this.nowArg(),
        this.o.timings.logMaxEntries,
        this.o.timings.logMaxAgeMs,
        k.channel,
        this.pub,
        room,
      ])) as [number];
      if (r[0] === 1) this.o.observer?.published?.("updated");
    }
    await this.userSession(session.id, "set", sid, session.act);
    const known = this.known.get(sid);
    if (known) known.session = session;
  }

  /** One heartbeat through the per-bucket batch. */
  private queueHeartbeat(sid: string, owner: string, activity: string, ttlMs: number): Promise<HeartbeatResult> {
    return this.heartbeats.one(sid, owner, activity, ttlMs);
  }

  private lastCursorFlush: Promise<void> = Promise.resolve();

  /**
   * Tests only: resolves when every call issued so far (cursor flushes included) has completed and
   * what it published has reached this node's subscriber.
   */
  async settleForTests(): Promise<void> {
    await this.lastCursorFlush;
    await new Promise((r) => setImmediate(r));
    if (this.o.cluster) await new Promise((r) => setTimeout(r, 60));
    else await (this.o.subscriberConnection as Redis).ping();
  }

  private flushCursors(): Promise<void> {
    this.lastCursorFlush = this.cursors.flush();
    return this.lastCursorFlush;
  }

  private async touch(room: string): Promise<Position> {
    const k = this.keys.room(room);
    const r = (await this.run("roomTouch", [k.meta, k.members, k.counters, k.log, k.typing, k.cursors], [this.o.ids.epoch(), this.o.timings.roomRetentionMs])) as [string, number];
    return { epoch: r[0], version: Number(r[1]) };
  }

  /** Reads a room atomically (MULTI on its slot) and builds the view. */
  private async readView(room: string, detail: "full" | "counts" | "join"): Promise<RoomView> {
    const k = this.keys.room(room);
    const res = (await this.cmd("multi", () =>
      this.o.client.multi().hmget(k.meta, "e", "v", "nu", "nc", "na").hgetall(k.members).hgetall(k.typing).hgetall(k.cursors).exec(),
    )) as [Error | null, unknown][];
    return viewFromReplies(room, res, detail, this.o.clock.now(), this.o.limits.largeRoomThreshold, this.o.timings.cursorTtlMs);
  }

  private remember(sid: string, owner: string, session: StoredSession, room: string, md: Record<string, string>): void {
    this.known.remember(sid, owner, session, room, md, this.o.clock.now());
  }
}
