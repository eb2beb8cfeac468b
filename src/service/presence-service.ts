import { createCoalescingGate } from "../core/coalescing-gate.js";
import { ownerKeyOf, quotaKeyOf, VERIFIED_BY_SESSION_KEY, type Caller, type MemberIdentity } from "../core/identity.js";
import { checkMetadata } from "../core/metadata.js";
import { invalidArgument, limitExceeded, PresenceError, sessionNotFound } from "../core/presence-error.js";
import { MAX_SESSION_ID_CHARS, type Lease } from "../core/session.js";
import type { Activity, RoomView } from "../core/presence-event.js";
import { pageUsers, type MemberOrder } from "../core/member-order.js";
import { presenceFromObject } from "../core/typed-presence.js";
import { checkAllowedScopes, checkScopes, pageSizeOf } from "../core/scope.js";
import { checkText, parseRoomName, utf8Length } from "../core/room-name.js";
import type { FanoutHub, WatchItem } from "../fanout/fanout-hub.js";
import { presentUserIds, visibleStatus, withLastActive, type UserStatusRecord } from "../core/user-status.js";
import type { JoinCommand, PresenceService, PresenceServiceOptions, ServiceJoinResult } from "./presence-service-types.js";
import { guardedUserWatch, guardedWatch, scopedRequestId, visibleStatuses, withRole } from "./access-wrappers.js";
import { checkShortId, memberIdentityFor } from "./join-identity.js";
import { statusReader, validUserIds } from "./user-status-reads.js";
import { createJoinAdmission } from "./join-admission.js";

export type { JoinCommand, PresenceService, PresenceServiceOptions, ServiceJoinResult, WatchCommand } from "./presence-service-types.js";


/** One page of a view's users in `order` (GetPresence, BatchGetPresence), with the next page's token. */
function pageView(view: RoomView, order: MemberOrder, pageSize: number, pageToken: string): RoomView {
  if (view.membersOmitted) return { ...view, nextPageToken: "" };
  const page = pageUsers(view.users, order, pageSize, pageToken);
  return { ...view, users: page.users, nextPageToken: page.nextPageToken };
}

export function createPresenceService(o: PresenceServiceOptions): PresenceService {
  const admission = createJoinAdmission({ access: o.access, rooms: o.rooms, memory: o.memory });
  const typingGate = createCoalescingGate({ ratePerSec: o.limits.typingRatePerSec, clock: o.clock });
  const cursorGate = createCoalescingGate({ ratePerSec: o.limits.cursorRatePerSec, clock: o.clock });
  const presenceGate = createCoalescingGate({ ratePerSec: o.limits.presenceRatePerSec, clock: o.clock });
  /** Updates waiting for the presence gate, merged (key: session and room). */
  const pendingPresence = new Map<string, { presence: Record<string, string>; replace: boolean }>();
  const presenceLimits = { maxBytes: o.limits.maxPresenceBytes, maxKeys: o.limits.maxPresenceKeys };

  /**
   * Activity signals (typing, cursor, presence update, re-Join) reach the store at most once per
   * session per interval from this node: the write interval, but never more than half the smallest
   * away threshold (so a signal is never held back long enough to let a session go away).
   */
  const thresholds = [o.timings.awayAfterMs, ...(o.awayScopeThresholds ?? [])].filter((ms) => ms > 0);
  const signalEveryMs = Math.min(o.timings.activityWriteIntervalMs, ...thresholds.map((ms) => Math.floor(ms / 2)));
  const lastSignal = new Map<string, number>();
  /**
   * Sessions whose threshold needs a shorter interval than `signalEveryMs` (a managed room's
   * `away_after_ms` below twice it, told by the Join answer): half their threshold.
   */
  const shortSignal = new Map<string, number>();
  function noteThreshold(id: string, awayAfterMs: number | undefined): void {
    const every = awayAfterMs !== undefined && awayAfterMs > 0 ? Math.floor(awayAfterMs / 2) : signalEveryMs;
    if (every >= signalEveryMs) shortSignal.delete(id);
    else shortSignal.set(id, every);
    if (shortSignal.size > 100_000) shortSignal.delete(shortSignal.keys().next().value!);
  }
  /** A managed room's idle clock, moved at most once per signal interval per room from this node. */
  const lastTouch = new Map<string, number>();
  function touch(room: string, force = false): void {
    if (!o.managedRooms) return;
    const now = o.clock.now();
    const last = lastTouch.get(room);
    if (!force && last !== undefined && now - last < signalEveryMs) return;
    lastTouch.set(room, now);
    if (lastTouch.size > 100_000) for (const [k, t] of lastTouch) if (now - t >= signalEveryMs) lastTouch.delete(k);
    o.managedRooms.touchRoom(room).catch((e) => o.onDeferredError?.(e));
  }
  function signal(caller: Caller, id: string): void {
    const now = o.clock.now();
    const last = lastSignal.get(id);
    if (last !== undefined && now - last < (shortSignal.get(id) ?? signalEveryMs)) return;
    lastSignal.set(id, now);
    if (lastSignal.size > 100_000) for (const [k, t] of lastSignal) if (now - t >= signalEveryMs) lastSignal.delete(k);
    o.sessions.signalActivity({ sessionId: id, ownerKey: ownerKeyOf(caller) }).catch((e) => o.onDeferredError?.(e));
  }
  const room = (value: string, field = "room") => parseRoomName(value, o.limits.maxRoomNameBytes, field);
  const metadata = (m: Record<string, string>) => checkMetadata(m, o.limits.maxMetadataBytes, o.limits.maxMetadataEntries);

  const sessionId = (value: string) => {
    if (value.length === 0) throw invalidArgument("session_id", "must not be empty");
    if (value.length > MAX_SESSION_ID_CHARS) throw invalidArgument("session_id", `must be at most ${MAX_SESSION_ID_CHARS} characters`);
    return value;
  };

  const shortId = (value: string, field: string) => checkShortId(value, field, o.limits.maxIdBytes);
  const identityFor = (caller: Caller, req: JoinCommand) => memberIdentityFor(caller, req, { shortId, metadata, maxUserIdBytes: o.limits.maxUserIdBytes, newAnonymousId: () => o.ids.anonymousId() });

  const userIds = (ids: string[]) => validUserIds(ids, o.limits.maxUserIds, o.limits.maxUserIdBytes);

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
  async function bind(caller: Caller, id: string, onLost?: () => void, joined?: Lease): Promise<() => void> {
    const ownerKey = ownerKeyOf(caller);
    await o.sessions.attach({ sessionId: id, ownerKey }, joined);
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

  /** The scopes a new session of `caller` carries (scopes.proto), validated. */
  function scopesFor(caller: Caller, requested: readonly string[]): string[] {
    const max = o.limits.maxScopesPerSession;
    if (caller.role === "anonymous") {
      if (requested.length > 0) throw new PresenceError("PERMISSION_DENIED", "scopes: anonymous viewers carry no scopes", { field: "scopes" });
      return [];
    }
    if (caller.role === "service" || caller.role === "admin") return checkScopes(requested, max);
    if (requested.length === 0) return checkScopes(caller.scopes ?? [], max, "token scopes");
    const asked = checkScopes(requested, max);
    checkAllowedScopes(asked, caller.scopes ?? []);
    return asked;
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
      const presence = req.presence ? presenceFromObject(req.presence, presenceLimits) : undefined;
      const scopes = scopesFor(caller, req.scopes ?? []);
      const joined = await o.sessions.join({
        presence,
        scopes,
        room: r,
        ownerKey: ownerKeyOf(caller),
        quotaKey: quotaKeyOf(caller),
        maxSessions: admission.sessionLimit(caller),
        identity,
        metadata: withRole(md, o.access.roleIn(caller, r)),
        activity: req.activity,
        sessionId: req.sessionId === "" ? undefined : sessionId(req.sessionId),
        resumeSecret: req.resumeSecret === "" ? undefined : req.resumeSecret,
        requestId: scopedRequestId(caller, identity.kind === "anonymous" ? identity.anonymousId : "", req.requestId),
        // Applied by the store only if this join creates the user's record (after a data loss).
        restoreStatus: identity.kind === "user" ? o.restoreStatus?.(identity.user.userId) : undefined,
      }).catch((e: unknown) => Promise.reject(admission.refusedSessions(caller, e)));
      admission.joined(caller, joined.roomCreated);
      noteThreshold(joined.session.sessionId, joined.awayAfterMs);
      // Anonymous sessions get no UDP key: their session id alone is their capability, and UDP
      // datagrams carry it in clear text.
      if (!joined.sessionCreated) signal(caller, joined.session.sessionId); // a re-Join is a signal
      const managedRoom = joined.implicitRoom ? undefined : ((await o.managedRooms?.getRoom(r)) ?? undefined);
      if (joined.event && managedRoom) touch(r, true); // only a managed room has an idle clock
      const withRoom: ServiceJoinResult = managedRoom ? { ...joined, managedRoom } : joined;
      if (!o.udp || identity.kind !== "user") return withRoom;
      return { ...withRoom, heartbeatKey: o.udp.keyFor(joined.session.sessionId), udpPort: o.udp.port() };
    },

    async udpHeartbeat(id, activity) {
      o.onHeartbeat?.();
      await o.sessions.heartbeat({ sessionId: id, ownerKey: VERIFIED_BY_SESSION_KEY, activity });
    },

    async leave(caller, req) {
      const r = room(req.room);
      const out = await o.sessions.leave({ sessionId: sessionId(req.sessionId), ownerKey: ownerKeyOf(caller), room: r, reason: "left" });
      if (out.sessionEnded) {
        shortSignal.delete(req.sessionId);
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
      if (req.typing) {
        signal(caller, id);
        touch(r);
      }
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
      signal(caller, id);
      touch(r);
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
      const snapshotPageSize = pageSizeOf(req.snapshotPageSize ?? 0, o.limits.snapshotPageSize, o.limits.snapshotPageSize, "snapshot_page_size");
      const opts = { detail: req.detail, resumeFrom: req.detail === "full" ? req.resumeFrom : undefined, signal: req.signal, onStall: req.onStall, order: req.order, snapshotPageSize };
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

    bind: (caller, id, onLost, joined) => bind(caller, sessionId(id), onLost, joined),

    async drain() {
      // Streams end asynchronously after the hub closed them: give them a turn, then wait.
      await new Promise((r) => setImmediate(r));
      await Promise.all([...releasing]);
    },

    async getPresence(caller, req) {
      const r = room(req.room);
      await o.access.authorize(caller, "read", r);
      const size = pageSizeOf(req.pageSize ?? 0, o.limits.snapshotPageSize, o.limits.snapshotPageSize);
      const view = await o.rooms.getView(r, { includeMembers: req.detail === "full" });
      return pageView(view, req.order ?? "joined", size, req.pageToken ?? "");
    },

    async batchGetPresence(caller, req) {
      if (req.rooms.length > o.limits.maxBatchRooms) {
        throw limitExceeded("rooms", o.limits.maxBatchRooms, req.rooms.length, "rooms", "INVALID_ARGUMENT");
      }
      await o.access.authorizeRooms(caller, "read", req.rooms.map((r, i) => room(r, `rooms[${i}]`)));
      const names = [...new Set(req.rooms)];
      const size = pageSizeOf(req.pageSize ?? 0, o.limits.snapshotPageSize, o.limits.snapshotPageSize);
      const views = await Promise.all(names.map((n) => o.rooms.getView(n, { includeMembers: req.detail === "full" })));
      return views.map((v) => pageView(v, req.order ?? "joined", size, ""));
    },

    async getUserStatus(caller, req) {
      const shown = await visibleStatuses(o.access, caller, userIds(req.userIds), () => o.clock.now(), readStatuses);
      const present = presentUserIds(shown);
      return withLastActive(shown, o.lastActive && present.length > 0 ? await o.lastActive(present) : undefined);
    },

    watchUsers(caller, req) {
      const ids = userIds(req.userIds);
      return guardedUserWatch(o.access, o.clock, caller, ids, req.signal, (visible, signal) => o.userHub.watch(visible, { viewerUserId: viewerOf(caller), signal }));
    },

    async updatePresence(caller, req) {
      const r = room(req.room);
      const id = sessionId(req.sessionId);
      if (caller.role === "anonymous") {
        throw new PresenceError("PERMISSION_DENIED", "presence: anonymous viewers have no typed presence", { field: "presence" });
      }
      await o.access.authorize(caller, "join", r);
      const update = presenceFromObject(req.presence, presenceLimits);
      signal(caller, id);
      touch(r);
      const key = `${id}\u0000${r}`;
      const waiting = pendingPresence.get(key);
      // Merged with what is still waiting: a replace starts over, a merge adds its keys.
      pendingPresence.set(key, waiting && !req.replace ? { presence: { ...waiting.presence, ...update }, replace: waiting.replace } : { presence: update, replace: req.replace });
      let applied: Promise<void> | undefined;
      const outcome = presenceGate.submit(key, () => {
        const next = pendingPresence.get(key);
        pendingPresence.delete(key);
        if (!next) return;
        applied = o.sessions.updatePresence({ sessionId: id, ownerKey: ownerKeyOf(caller), room: r, presence: next.presence, replace: next.replace });
        applied.catch((e) => o.onDeferredError?.(e));
      });
      if (outcome === "coalesced") o.onCoalesced?.("presence");
      else await applied;
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
      const r = await o.users.setStatus({ sessionId: id, ownerKey: ownerKeyOf(caller), customStatus: req.customStatus, invisible: req.invisible, presence: req.presence });
      return visibleStatus(r, r.userId, o.clock.now()); // the user themself sees everything
    },
  };
}
