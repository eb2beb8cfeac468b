import type { Clock } from "../core/clock.js";
import { createCoalescingGate } from "../core/coalescing-gate.js";
import type { IdSource } from "../core/ids.js";
import { ownerKeyOf, VERIFIED_BY_SESSION_KEY, type Caller, type MemberIdentity, type UserInfo } from "../core/identity.js";
import { checkMetadata } from "../core/metadata.js";
import type { Limits, Timings } from "../core/options.js";
import { invalidArgument, limitExceeded, PresenceError, sessionNotFound } from "../core/presence-error.js";
import type { Activity, CursorPosition, Position, RoomView } from "../core/presence-event.js";
import { checkText, parseRoomName, utf8Length } from "../core/room-name.js";
import type { Detail, FanoutHub, WatchItem } from "../fanout/fanout-hub.js";
import type { UserWatchHub, UserWatchItem } from "../fanout/user-watch-hub.js";
import { visibleStatus, type UserStatusRecord } from "../core/user-status.js";
import type { DurableUserStatus } from "../history/history-store.js";
import type { JoinResult, Lease, NavigateResult } from "../core/session.js";
import type { RoomStore } from "../store/ports/room-store.js";
import type { SessionStore } from "../store/ports/session-store.js";
import type { UserStatusStore } from "../store/ports/user-status-store.js";
import type { AccessGuard } from "./access-guard.js";
import { guardedUserWatch, guardedWatch, scopedRequestId, visibleStatuses, withRole } from "./access-wrappers.js";
import { checkShortId, memberIdentityFor } from "./join-identity.js";
import { statusReader, validUserIds } from "./user-status-reads.js";
import { createJoinAdmission } from "./join-admission.js";
import type { MemoryGuard } from "./memory-guard.js";

/**
 * The application service: every transport (Connect/gRPC today, the WebSocket bridge later) calls
 * these functions with an authenticated Caller and plain domain values. It validates input before
 * anything is allocated in the store, decides who may do what, applies the per-session rate gates
 * for typing and cursors, and delegates to the store and the fan-out hub. It does no I/O itself.
 */
export interface PresenceService {
  join(caller: Caller, req: JoinCommand): Promise<ServiceJoinResult>;
  leave(caller: Caller, req: { sessionId: string; room: string }): Promise<{ left: boolean }>;
  navigate(caller: Caller, req: { sessionId: string; fromRoom: string; toRoom: string; metadata: Record<string, string> }): Promise<NavigateResult>;
  heartbeat(caller: Caller, req: { sessionId: string; activity?: Activity }): Promise<Lease>;
  setTyping(caller: Caller, req: { sessionId: string; room: string; typing: boolean }): Promise<void>;
  updateCursor(caller: Caller, req: { sessionId: string; room: string; position: CursorPosition }): Promise<void>;
  watch(caller: Caller, req: WatchCommand): AsyncGenerator<WatchItem>;
  getPresence(caller: Caller, req: { room: string; detail: Detail }): Promise<RoomView>;
  batchGetPresence(caller: Caller, req: { rooms: string[]; detail: Detail }): Promise<RoomView[]>;
  getUserStatus(caller: Caller, req: { userIds: string[] }): Promise<UserStatusRecord[]>;
  watchUsers(caller: Caller, req: { userIds: string[]; signal: AbortSignal }): AsyncGenerator<UserWatchItem>;
  setStatus(caller: Caller, req: { sessionId: string; customStatus?: string; invisible?: boolean }): Promise<UserStatusRecord>;
  /** Refreshes every session attached to a stream of this node (the app calls it every `nodeRefreshMs`). */
  refreshAttached(): Promise<{ refreshed: number; missing: number }>;
  /** Sessions attached to streams of this node. */
  attachedCount(): number;
  /**
   * Binds a session of the caller to a transport of this node (a watch stream or a WebSocket): the
   * node keeps it alive until the returned release function is called, then it enters the
   * reconnect grace. Throws SESSION_NOT_FOUND for an unknown, expired or foreign session.
   * `onLost` runs when a node refresh finds the session gone (kicked, purged, or reaped after a
   * long store outage): the transport then ends, so its client learns it is no longer present.
   */
  bind(caller: Caller, sessionId: string, onLost?: () => void): Promise<() => void>;
  /** Resolves when every pending release (stream ended → reconnect grace) has reached the store. */
  drain(): Promise<void>;
  /**
   * Admits a watch that a transport serves itself (a WebSocket watch): checks the `watch` right and
   * takes one unit of the caller's `watches` quota. Resolves with the valid room name and the
   * function that gives the quota back when the watch ends.
   */
  admitWatch(caller: Caller, room: string): Promise<{ room: string; release: () => void }>;
  /**
   * A UDP heartbeat whose MAC verified (udp.proto): refreshes the session exactly like Heartbeat,
   * without an owner check (the key proved it). SESSION_NOT_FOUND when the session is gone.
   */
  udpHeartbeat(sessionId: string, activity: Activity | undefined): Promise<void>;
}

/** A Join's answer: the store's, plus the session's UDP heartbeat key when UDP heartbeats are on. */
export type ServiceJoinResult = JoinResult & { heartbeatKey?: Uint8Array; udpPort?: number };

export interface JoinCommand {
  room: string;
  metadata: Record<string, string>;
  sessionId: string;
  resumeSecret: string;
  activity?: Activity;
  requestId: string;
  /** Service role only: the user the service acts for. */
  onBehalfOf?: UserInfo;
  /** Anonymous callers only: client-kept anonymous id. */
  anonymousId: string;
}

export interface WatchCommand {
  /** Optional: a session of the caller to keep alive while the stream is open (attached binding). */
  sessionId?: string;
  room: string;
  detail: Detail;
  resumeFrom?: Position;
  signal: AbortSignal;
  onStall?: () => void;
}

export interface PresenceServiceOptions {
  sessions: SessionStore;
  rooms: RoomStore;
  users: UserStatusStore;
  /** Rights and quotas: every call is checked here before the store is touched. */
  access: AccessGuard;
  /** The store memory guard: over budget, joins that would create a session or a room are refused. */
  memory?: MemoryGuard;
  hub: FanoutHub;
  userHub: UserWatchHub;
  clock: Clock;
  ids: IdSource;
  limits: Limits;
  timings: Timings;
  /** Called for every heartbeat received (metrics). */
  onHeartbeat?: () => void;
  /** Counts coalesced typing/cursor updates (metrics). */
  onCoalesced?: (kind: "typing" | "cursor") => void;
  /** Errors of deferred (coalesced) updates, which have no caller left to answer. */
  onDeferredError?: (err: unknown) => void;
  /** UDP heartbeats (when on): each session's key and the bound port, told in Join answers. */
  udp?: { keyFor(sessionId: string): Uint8Array; port(): number };
  /**
   * Durable statuses (history) of users the store reports as never seen: after a Redis data loss
   * their last seen, custom status and invisible flag come from here. Never rejects ([] when the
   * history does not answer in time).
   */
  durableStatus?: (userIds: string[]) => Promise<DurableUserStatus[]>;
  /** The history's durable flags of a user (invisible, custom status) laid over the store's record. */
  durableFlags?: (r: UserStatusRecord) => UserStatusRecord;
}


export function createPresenceService(o: PresenceServiceOptions): PresenceService {
  const admission = createJoinAdmission({ access: o.access, sessions: o.sessions, rooms: o.rooms, memory: o.memory });
  const typingGate = createCoalescingGate({ ratePerSec: o.limits.typingRatePerSec, clock: o.clock });
  const cursorGate = createCoalescingGate({ ratePerSec: o.limits.cursorRatePerSec, clock: o.clock });
  const room = (value: string, field = "room") => parseRoomName(value, o.limits.maxRoomNameBytes, field);
  const metadata = (m: Record<string, string>) => checkMetadata(m, o.limits.maxMetadataBytes, o.limits.maxMetadataEntries);

  const sessionId = (value: string) => {
    if (value.length === 0) throw invalidArgument("session_id", "must not be empty");
    if (value.length > 128) throw invalidArgument("session_id", "must be at most 128 characters");
    return value;
  };

  const shortId = (value: string, field: string) => checkShortId(value, field, o.limits.maxIdBytes);
  const identityFor = (caller: Caller, req: JoinCommand) => memberIdentityFor(caller, req, { shortId, metadata, newAnonymousId: () => o.ids.anonymousId() });

  const userIds = (ids: string[]) => validUserIds(ids, o.limits.maxUserIds);

  /**
   * sessionId → streams of this node bound to it (attached binding, design §9). `lost` is replaced,
   * never mutated (a small exact-size array instead of a Set per session: memory per idle
   * connection), so iterating it while a callback releases is safe.
   */
  const attached = new Map<string, { streams: number; ownerKey: string; lost: readonly (() => void)[] }>();
  const releasing = new Set<Promise<void>>();

  /**
   * A watch that keeps a session alive: attach (ownership and fencing checked by the store) before
   * the first message; when the last stream bound to the session ends, the session enters the
   * reconnect grace. Release runs on the signal as well as in `finally`, because a generator's
   * `finally` can be skipped when the client vanishes mid-write (connect-notes §1).
   */
  async function bind(caller: Caller, id: string, onLost?: () => void): Promise<() => void> {
    const ownerKey = ownerKeyOf(caller);
    await o.sessions.attach({ sessionId: id, ownerKey });
    const entry = attached.get(id) ?? { streams: 0, ownerKey, lost: [] };
    entry.streams++;
    if (onLost) entry.lost = entry.lost.concat(onLost); // exact size (spread reserves 17 slots)
    attached.set(id, entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (onLost) {
        const i = entry.lost.indexOf(onLost);
        if (i >= 0) entry.lost = entry.lost.slice(0, i).concat(entry.lost.slice(i + 1));
      }
      // A session found gone by the refresh is no longer held here: nothing to release.
      if (--entry.streams > 0 || attached.get(id) !== entry) return;
      attached.delete(id);
      const p = o.sessions.release({ sessionId: id, ownerKey }, o.timings.reconnectGraceMs).catch((e) => o.onDeferredError?.(e));
      releasing.add(p);
      void p.finally(() => releasing.delete(p));
    };
  }

  /**
   * A watch that keeps a session alive (attached binding): bound before the first message; when
   * the stream ends the session enters the reconnect grace. Release runs on the signal as well as
   * in `finally`, because a generator's `finally` can be skipped when the client vanishes
   * mid-write (connect-notes §1).
   */
  async function* attachedWatch(caller: Caller, id: string, r: string, opts: Parameters<FanoutHub["watch"]>[1]): AsyncGenerator<WatchItem> {
    // When the refresh finds the session gone, the stream ends with SESSION_NOT_FOUND ("join again").
    const lost = new AbortController();
    const release = await bind(caller, id, () => lost.abort(sessionNotFound()));
    opts.signal.addEventListener("abort", release, { once: true });
    try {
      yield* o.hub.watch(r, { ...opts, signal: AbortSignal.any([opts.signal, lost.signal]) });
    } finally {
      release();
    }
  }

  const viewerOf = (caller: Caller) => (caller.role === "user" ? caller.subject : "");

  function noAnonymous(caller: Caller, what: string) {
    if (caller.role === "anonymous") {
      throw new PresenceError("PERMISSION_DENIED", `${what}: anonymous viewers may not ${what === "typing" ? "type" : "send cursors"}`, { field: what });
    }
  }

  const readStatuses = statusReader(o);

  return {
    async join(caller, req) {
      const r = room(req.room);
      const md = metadata(req.metadata);
      shortId(req.requestId, "request_id");
      if (req.anonymousId !== "" && caller.role !== "anonymous") {
        throw invalidArgument("anonymous_id", "is only for anonymous callers");
      }
      const identity = identityFor(caller, req);
      if (req.resumeSecret !== "" && req.sessionId === "") throw invalidArgument("resume_secret", "needs session_id");
      await o.access.authorize(caller, "join", r);
      await admission.admit(caller, { room: r, newSession: req.sessionId === "" });
      const joined = await o.sessions.join({
        room: r,
        ownerKey: ownerKeyOf(caller),
        identity,
        metadata: withRole(md, o.access.roleIn(caller, r)),
        activity: req.activity,
        sessionId: req.sessionId === "" ? undefined : sessionId(req.sessionId),
        resumeSecret: req.resumeSecret === "" ? undefined : req.resumeSecret,
        requestId: scopedRequestId(caller, identity.kind === "anonymous" ? identity.anonymousId : "", req.requestId),
      });
      admission.joined(caller, joined.roomCreated);
      // Anonymous sessions get no UDP key: their session id alone is their capability, and UDP
      // datagrams carry it in clear text.
      if (!o.udp || identity.kind !== "user") return joined;
      return { ...joined, heartbeatKey: o.udp.keyFor(joined.session.sessionId), udpPort: o.udp.port() };
    },

    async udpHeartbeat(id, activity) {
      o.onHeartbeat?.();
      await o.sessions.heartbeat({ sessionId: id, ownerKey: VERIFIED_BY_SESSION_KEY, activity });
    },

    async leave(caller, req) {
      const r = room(req.room);
      const out = await o.sessions.leave({ sessionId: sessionId(req.sessionId), ownerKey: ownerKeyOf(caller), room: r, reason: "left" });
      if (out.sessionEnded) {
        typingGate.forget(req.sessionId);
        cursorGate.forget(req.sessionId);
      }
      return { left: out.left };
    },

    async navigate(caller, req) {
      const from = req.fromRoom === "" ? "" : room(req.fromRoom, "from_room");
      const to = room(req.toRoom, "to_room");
      const md = metadata(req.metadata);
      const id = sessionId(req.sessionId);
      await o.access.authorize(caller, "join", to, "to_room");
      await admission.admit(caller, { room: to, newSession: false });
      const result = await o.sessions.navigate({ sessionId: id, ownerKey: ownerKeyOf(caller), fromRoom: from, toRoom: to, metadata: withRole(md, o.access.roleIn(caller, to)) });
      // Navigate does not say whether it created the room: its first event (version 1) did.
      admission.joined(caller, result.view.version === 1);
      return result;
    },

    async heartbeat(caller, req) {
      o.onHeartbeat?.();
      return o.sessions.heartbeat({ sessionId: sessionId(req.sessionId), ownerKey: ownerKeyOf(caller), activity: req.activity });
    },

    async setTyping(caller, req) {
      const r = room(req.room);
      const id = sessionId(req.sessionId);
      noAnonymous(caller, "typing");
      await o.access.authorize(caller, "typing", r);
      const ref = { sessionId: id, ownerKey: ownerKeyOf(caller), room: r, typing: req.typing };
      let applied: Promise<void> | undefined;
      const outcome = typingGate.submit(`${id}\u0000${r}`, () => {
        applied = o.rooms.setTyping(ref);
        applied.catch((e) => o.onDeferredError?.(e));
      });
      if (outcome === "coalesced") o.onCoalesced?.("typing");
      else await applied;
    },

    async updateCursor(caller, req) {
      const r = room(req.room);
      const id = sessionId(req.sessionId);
      noAnonymous(caller, "cursor");
      const p = req.position;
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) throw invalidArgument("position", "x and y must be finite numbers");
      const elementBytes = utf8Length(p.element);
      if (elementBytes > o.limits.maxCursorElementBytes) {
        throw limitExceeded("position.element", o.limits.maxCursorElementBytes, elementBytes, "bytes", "INVALID_ARGUMENT");
      }
      checkText(p.element, "position.element");
      await o.access.authorize(caller, "cursor", r);
      const ref = { sessionId: id, ownerKey: ownerKeyOf(caller), room: r, position: { ...p } };
      let applied: Promise<void> | undefined;
      const outcome = cursorGate.submit(`${id}\u0000${r}`, () => {
        applied = o.rooms.updateCursor(ref);
        applied.catch((e) => o.onDeferredError?.(e));
      });
      if (outcome === "coalesced") o.onCoalesced?.("cursor");
      else await applied;
    },

    watch(caller, req) {
      const r = room(req.room);
      const id = req.sessionId ? sessionId(req.sessionId) : undefined;
      const opts = { detail: req.detail, resumeFrom: req.detail === "full" ? req.resumeFrom : undefined, signal: req.signal, onStall: req.onStall };
      return guardedWatch(o.access, o.clock, caller, r, req.signal, (signal) =>
        id === undefined ? o.hub.watch(r, { ...opts, signal }) : attachedWatch(caller, id, r, { ...opts, signal }),
      );
    },

    async admitWatch(caller, value) {
      const r = room(value);
      await o.access.authorize(caller, "watch", r);
      return { room: r, release: o.access.hold(caller, "watches") };
    },

    async refreshAttached() {
      const ids = [...attached.keys()];
      if (ids.length === 0) return { refreshed: 0, missing: 0 };
      const { missing } = await o.sessions.refresh(ids);
      for (const id of missing) {
        const entry = attached.get(id);
        attached.delete(id);
        for (const lost of entry?.lost ?? []) lost();
      }
      return { refreshed: ids.length - missing.length, missing: missing.length };
    },

    attachedCount: () => attached.size,

    bind: (caller, id, onLost) => bind(caller, sessionId(id), onLost),

    async drain() {
      // Streams end asynchronously after the hub closed them: give them a turn, then wait.
      await new Promise((r) => setImmediate(r));
      await Promise.all([...releasing]);
    },

    async getPresence(caller, req) {
      const r = room(req.room);
      await o.access.authorize(caller, "read", r);
      return o.rooms.getView(r, { includeMembers: req.detail === "full" });
    },

    async batchGetPresence(caller, req) {
      if (req.rooms.length > o.limits.maxBatchRooms) {
        throw limitExceeded("rooms", o.limits.maxBatchRooms, req.rooms.length, "rooms", "INVALID_ARGUMENT");
      }
      await o.access.authorizeRooms(caller, "read", req.rooms.map((r, i) => room(r, `rooms[${i}]`)));
      const names = [...new Set(req.rooms)];
      return Promise.all(names.map((n) => o.rooms.getView(n, { includeMembers: req.detail === "full" })));
    },

    getUserStatus: (caller, req) => visibleStatuses(o.access, caller, userIds(req.userIds), () => o.clock.now(), readStatuses),

    watchUsers(caller, req) {
      const ids = userIds(req.userIds);
      return guardedUserWatch(o.access, o.clock, caller, ids, req.signal, (visible, signal) => o.userHub.watch(visible, { viewerUserId: viewerOf(caller), signal }));
    },

    async setStatus(caller, req) {
      const id = sessionId(req.sessionId);
      if (caller.role === "anonymous") {
        throw new PresenceError("PERMISSION_DENIED", "session_id: anonymous sessions have no user status", { field: "session_id" });
      }
      if (req.customStatus !== undefined) {
        const n = utf8Length(req.customStatus);
        if (n > o.limits.maxCustomStatusBytes) {
          throw limitExceeded("custom_status", o.limits.maxCustomStatusBytes, n, "bytes", "INVALID_ARGUMENT");
        }
        checkText(req.customStatus, "custom_status");
      }
      const r = await o.users.setStatus({ sessionId: id, ownerKey: ownerKeyOf(caller), customStatus: req.customStatus, invisible: req.invisible });
      return visibleStatus(r, r.userId, o.clock.now()); // the user themself sees everything
    },
  };
}
