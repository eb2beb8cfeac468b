import { VERIFIED_BY_SESSION_KEY } from "../../core/identity.js";
import type { Activity } from "../../core/presence-event.js";
import type { JoinInput, JoinResult, Lease, LeaveInput, LeaveResult, NavigateInput, NavigateResult, ReapResult, SessionRef } from "../../core/session.js";
import { PresenceError, sessionNotFound } from "../../core/presence-error.js";
import type { SessionStore } from "../ports/session-store.js";
import { decodeSession, encodeMember, identityKey, sessionScopes, type StoredMember, type StoredSession } from "./codec.js";
import { checkPresenceRecord, mergePresence } from "../../core/typed-presence.js";
import { sessionThreshold } from "../../core/away-policy.js";
import { shownActivity } from "../../core/presence-override.js";
import type { DataLossRecovery } from "./data-loss-recovery.js";
import { createHeartbeatBatcher } from "./heartbeat-batcher.js";
import { SESSION_BUCKETS } from "./keys.js";
import type { RedisContext } from "./redis-context.js";
import { readRoomView } from "./room-reader.js";
import type { SessionReaper } from "./session-reaper.js";
import { sessionError, type SessionOpenMode } from "./session-scripts.js";

/**
 * The SessionStore on Redis. Sessions live in 64 hash-tagged buckets (expiry zset, record hash,
 * per-owner counts) and each session's rooms in a hash of its bucket's slot, so every session
 * script touches one slot; room membership changes are the room scripts, one slot per room.
 *
 * Ordering that keeps crashes harmless: a session lists a room before it joins the room and keeps
 * listing it until it has left, so every room member can be found (and reaped) through its session.
 *
 * Redis commands per Join today (issue 16): a new session with a request id is `SET NX GET`
 * (de-duplication), `sessionOpen`, `userSession`, `roomJoin` and a `MULTI` read of the view: five
 * round trips, one after the other.
 */
export interface RedisSessionStoreParts {
  recovery: DataLossRecovery;
  reaper: SessionReaper;
  /** Sessions left after the last reaper pass (the gauge). */
  onLiveSessions(n: number): void;
}

export function createRedisSessionStore(ctx: RedisContext, p: RedisSessionStoreParts): SessionStore {
  const ttlMs = ctx.timings.sessionTtlMs;
  const heartbeats = createHeartbeatBatcher(ctx.keys, (b, list) => ctx.sessions.heartbeat(b, list));
  const remember = (sid: string, owner: string, session: StoredSession, room: string, md: Record<string, string>) =>
    ctx.known.remember(sid, owner, session, room, md, ctx.clock.now());
  /** The user's manual presence (SetStatus), which what its connections show follows. */
  const overrideOf = async (s: StoredSession): Promise<"auto" | "away" | "online"> => {
    if (s.id.kind !== "user") return "auto";
    const userId = s.id.user.userId;
    const ov = await ctx.cmd("hget", () => ctx.client.hget(ctx.keys.user(userId).status, "ov"));
    return ov === "away" || ov === "online" ? ov : "auto";
  };
  const roomJoin = async (room: string, sid: string, s: StoredSession, metadata: Record<string, string>, presence?: Record<string, string>) => {
    const shown = shownActivity(s.act, await overrideOf(s));
    return ctx.rooms.join(room, { connectionId: s.c, memberJson: encodeMember(s.c, sid, s.id, metadata, shown, presence), identityKey: identityKey(s.id), epoch: ctx.ids.epoch() });
  };

  async function activityChanged(sid: string, session: StoredSession): Promise<void> {
    const rooms = await ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.sessionRooms(sid)));
    const shown = shownActivity(session.act, await overrideOf(session));
    for (const room of Object.keys(rooms)) await ctx.rooms.activity(room, { connectionId: session.c, sessionId: sid, activity: shown });
    await ctx.users.session(session.id, "set", sid, session.act);
    const known = ctx.known.get(sid);
    if (known) known.session = session;
  }

  /** Records the session's last activity in its bucket's away index (the sweep reads it). */
  const markActive = (sid: string) => {
    const b = ctx.keys.bucket(ctx.keys.bucketOf(sid));
    return ctx.cmd("zadd", () => ctx.client.zadd(b.away, activityNow(), sid));
  };
  /** The activity stamp: the store's clock when scripts use it, else this node's. */
  const activityNow = () => (ctx.nowArg() === "0" ? ctx.clock.now() : Number(ctx.nowArg()));

  /** An activity signal: the away index, and the user's position in the session's scopes. */
  async function stamp(sid: string): Promise<void> {
    await markActive(sid);
    const known = ctx.known.get(sid)?.session;
    const json = known ? null : await ctx.cmd("hget", () => ctx.client.hget(ctx.keys.bucket(ctx.keys.bucketOf(sid)).sessions, sid));
    const session = known ?? (json ? decodeSession(json) : null);
    if (session && session.id.kind === "user") await ctx.scopes.stamp(session.id.user.userId, sessionScopes(session), activityNow());
  }

  /** Heartbeat and attach; only a Heartbeat reports its lag (an attach may follow a release's grace). */
  async function beat(input: SessionRef & { activity?: Activity }, isHeartbeat: boolean): Promise<Lease> {
    // A UDP heartbeat proved the session's key (udp.proto): refreshed without an owner check
    // (owner '' in sessionsHeartbeat; becomes '*' with the store track's owner-prefix fix).
    const owner = input.ownerKey === VERIFIED_BY_SESSION_KEY ? "" : input.ownerKey;
    const r = await heartbeats.one(input.sessionId, owner, input.activity ?? "", ttlMs);
    if (r.status === "not_found") {
      if (await p.recovery.reassertIfDataLost(input.sessionId)) return beat(input, isHeartbeat);
      throw sessionNotFound();
    }
    if (isHeartbeat) ctx.observer.heartbeatLag?.(Math.max(0, ttlMs - r.leftMs) / 1000);
    const known = ctx.known.get(input.sessionId);
    if (known) known.seenAt = ctx.clock.now();
    if (r.changed) await activityChanged(input.sessionId, r.changed);
    if (input.activity === "active") await stamp(input.sessionId);
    return ctx.lease(r.expiresAtMs);
  }

  async function leaveRoom(ref: SessionRef, room: string, session: StoredSession): Promise<"left" | "ended" | "not_in_room"> {
    const status = await ctx.sessions.leaveRoom(ref, room);
    if (status === "not_found") throw sessionNotFound();
    ctx.known.get(ref.sessionId)?.rooms.delete(room);
    if (status === "ended") {
      ctx.known.delete(ref.sessionId);
      await ctx.users.session(session.id, "end", ref.sessionId, session.act);
      if (session.id.kind === "user") await ctx.scopes.removeSession(ref.sessionId, session.id.user.userId, sessionScopes(session));
    }
    return status;
  }

  return {
    async join(input: JoinInput): Promise<JoinResult> {
      let sid = input.sessionId;
      let mode: SessionOpenMode = sid ? (input.resumeSecret ? "reclaim" : "use") : "new";
      let newSid: string | undefined;
      if (!sid && input.requestId) {
        const candidate = ctx.ids.sessionId();
        const key = ctx.keys.request(input.ownerKey, input.requestId);
        const prev = await ctx.cmd("set", () => ctx.client.set(key, candidate, "PX", ttlMs, "NX", "GET"));
        if (prev) {
          sid = prev;
          mode = "use";
        } else newSid = candidate;
      }
      const room = input.room;
      const metadataJson = JSON.stringify(input.metadata);
      let opened: { expiresAtMs: number; session: StoredSession; sid: string } | null = null;
      let resumed = false;
      if (sid && mode !== "new") {
        const arg = mode === "reclaim" ? input.resumeSecret! : "";
        const r = await ctx.sessions.open({ mode, sid, owner: input.ownerKey, arg, room, metadataJson, nodeId: ctx.nodeId });
        if (r.status === "too_many_rooms") throw sessionError(r, "room", ctx.limits.maxRoomsPerSession);
        if (r.status === "ok") {
          opened = { expiresAtMs: r.expiresAtMs, session: r.session, sid };
          resumed = mode === "reclaim";
        } else if (mode === "use" && input.sessionId) {
          throw sessionNotFound();
        }
      }
      const sessionCreated = opened === null;
      if (!opened) {
        const id = newSid ?? ctx.ids.sessionId();
        const session: StoredSession = {
          sec: ctx.ids.resumeSecret(),
          c: ctx.ids.connectionId(),
          o: input.ownerKey,
          id: input.identity,
          act: input.activity ?? "active",
          n: ctx.nodeId,
          ...(input.identity.kind === "user" && input.scopes && input.scopes.length > 0 ? { sc: [...input.scopes] } : {}),
          ...(ctx.awayPolicy ? { aw: sessionThreshold(ctx.awayPolicy, input.scopes ?? [], []) } : {}),
        };
        const r = await ctx.sessions.open({ mode: "new", sid: id, owner: input.ownerKey, arg: JSON.stringify(session), room, metadataJson, nodeId: ctx.nodeId });
        if (r.status !== "ok") throw sessionNotFound();
        opened = { expiresAtMs: r.expiresAtMs, session, sid: id };
        await ctx.users.session(session.id, "set", id, session.act);
        if (session.id.kind === "user") await ctx.scopes.addSession(id, session.id.user, sessionScopes(session), ctx.clock.now());
        if ((session.aw ?? 0) > 0) await markActive(id);
      }
      const { session, sid: sessionId, expiresAtMs } = opened;
      remember(sessionId, input.ownerKey, session, room, input.metadata);
      let joined;
      try {
        joined = await roomJoin(room, sessionId, session, input.metadata, input.presence);
      } catch (e) {
        // Refused by the room (ROOM_FULL, ROOM_ENDED): the session no longer lists it (and ends
        // when it was its only room, as if it had left).
        if (e instanceof PresenceError && (e.reason === "ROOM_FULL" || e.reason === "ROOM_ENDED")) {
          await leaveRoom({ sessionId, ownerKey: input.ownerKey }, room, session).catch(() => undefined);
        }
        throw e;
      }
      const view = await readRoomView(ctx, room, "join");
      return {
        session: { sessionId, resumeSecret: session.sec, connectionId: session.c },
        lease: ctx.lease(expiresAtMs),
        resumed,
        sessionCreated,
        roomCreated: joined.created,
        scopes: session.sc ?? [],
        event: joined.event,
        view,
      };
    },

    async leave(input: LeaveInput): Promise<LeaveResult> {
      const checked = await ctx.sessions.check(input);
      if (checked.status !== "ok") throw sessionNotFound();
      const session = checked.session;
      await ctx.rooms.leave(input.room, { connectionId: session.c, sessionId: input.sessionId, reason: input.reason });
      const status = await leaveRoom(input, input.room, session);
      return { left: status !== "not_in_room", sessionEnded: status === "ended" };
    },

    async navigate(input: NavigateInput): Promise<NavigateResult> {
      const r = await ctx.sessions.navigate(input, { fromRoom: input.fromRoom, toRoom: input.toRoom, metadataJson: JSON.stringify(input.metadata) });
      if (r.status !== "ok") throw sessionError(r, "to_room", ctx.limits.maxRoomsPerSession);
      remember(input.sessionId, input.ownerKey, r.session, input.toRoom, input.metadata);
      if (r.leavesFrom) {
        await ctx.rooms.leave(input.fromRoom, { connectionId: r.session.c, sessionId: input.sessionId, reason: "left" });
        await leaveRoom(input, input.fromRoom, r.session);
      }
      await roomJoin(input.toRoom, input.sessionId, r.session, input.metadata);
      return { lease: ctx.lease(r.expiresAtMs), view: await readRoomView(ctx, input.toRoom, "join") };
    },

    heartbeat: (input) => beat(input, true),

    async attach(input) {
      const lease = await beat({ sessionId: input.sessionId, ownerKey: input.ownerKey }, false);
      let known = ctx.known.get(input.sessionId);
      if (!known) {
        // Created on another node: learn it, so this node can re-assert it if Redis loses its data.
        const b = ctx.keys.bucket(ctx.keys.bucketOf(input.sessionId));
        const [json, rooms] = await Promise.all([
          ctx.cmd("hget", () => ctx.client.hget(b.sessions, input.sessionId)),
          ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.sessionRooms(input.sessionId))),
        ]);
        if (json) {
          const session = decodeSession(json);
          for (const [room, md] of Object.entries(rooms)) remember(input.sessionId, input.ownerKey, session, room, JSON.parse(md) as Record<string, string>);
          known = ctx.known.get(input.sessionId);
        }
      }
      if (known) known.pins++;
      await ctx.sessions.setNode(input, ctx.nodeId);
      return lease;
    },

    async refresh(sessionIds) {
      // One promise for the whole call (not one per session): refreshes are the bulk of the traffic.
      const live = await heartbeats.many(sessionIds, ttlMs);
      const now = ctx.clock.now();
      const missing: string[] = [];
      sessionIds.forEach((sid, i) => {
        if (live[i] === 0) return void missing.push(sid);
        const k = ctx.known.get(sid);
        if (k) k.seenAt = now;
      });
      if (missing.length > 0 && (await p.recovery.recoverIfDataLost())) {
        return { missing: missing.filter((sid) => !ctx.known.has(sid)) };
      }
      return { missing };
    },

    async release(input, graceMs) {
      const known = ctx.known.get(input.sessionId);
      if (known) {
        known.pins = Math.max(0, known.pins - 1);
        // Re-assert a released session only while its grace lasts.
        if (known.pins === 0) known.seenAt = ctx.clock.now() - ttlMs + graceMs;
      }
      await ctx.sessions.release(input, graceMs);
    },

    async reap(): Promise<ReapResult> {
      const r = await p.reaper.reap();
      p.onLiveSessions(r.liveSessions);
      // Forget sessions this node has not seen alive for a TTL (they are not re-asserted); those held
      // by a transport of this node are kept even when refreshes failed (an outage).
      ctx.known.forgetStale(ctx.clock.now() - ttlMs);
      return { expiredSessions: r.expiredSessions, leaves: r.leaves };
    },

    async kickSession(sessionId, opts = {}) {
      if ((await ctx.sessions.kick(sessionId, "")) !== "claimed") throw sessionNotFound();
      const { leaves, session } = await p.reaper.finish(sessionId, "kicked");
      const userId = session?.id.kind === "user" ? session.id.user.userId : "";
      ctx.commits.adminAction({ kind: "kick_session", actor: opts.actor ?? "", connectionId: session?.c ?? "", userId, roomsLeft: leaves }, ctx.clock.now());
      return { roomsLeft: leaves };
    },

    async updatePresence(input) {
      const checked = await ctx.sessions.check(input);
      if (checked.status !== "ok") throw sessionNotFound();
      const session = checked.session;
      const json = await ctx.cmd("hget", () => ctx.client.hget(ctx.keys.room(input.room).members, session.c));
      if (!json) throw sessionNotFound(); // not in the room
      const member = JSON.parse(json) as StoredMember;
      const limits = { maxBytes: ctx.limits.maxPresenceBytes, maxKeys: ctx.limits.maxPresenceKeys };
      const next = checkPresenceRecord(mergePresence(member.pr ?? {}, input.presence, input.replace), limits);
      await roomJoin(input.room, input.sessionId, session, member.md ?? {}, next);
    },

    async endRoom(room, ended) {
      const k = ctx.keys.room(room);
      const members = await ctx.cmd("hgetall", () => ctx.client.hgetall(k.members));
      let removed = 0;
      for (const json of Object.values(members)) {
        const m = JSON.parse(json) as StoredMember;
        const { event } = await ctx.rooms.leave(room, { connectionId: m.c, sessionId: m.s, reason: "ended" });
        if (event) removed++;
        const sessionJson = await ctx.cmd("hget", () => ctx.client.hget(ctx.keys.bucket(ctx.keys.bucketOf(m.s)).sessions, m.s));
        if (!sessionJson) continue;
        const session = decodeSession(sessionJson);
        // The session no longer lists the room (and ends when it was its last, like a Leave).
        await leaveRoom({ sessionId: m.s, ownerKey: session.o }, room, session).catch(() => undefined);
      }
      const [epoch, version] = await ctx.cmd("hmget", () => ctx.client.hmget(k.meta, "e", "v"));
      const msg = JSON.stringify({ type: "ended", ended: { ...ended, room, epoch: epoch ?? "", version: Number(version ?? 0) } });
      await ctx.cmd("publish", () => ctx.client.call(ctx.cluster ? "SPUBLISH" : "PUBLISH", k.channel, msg));
      return removed;
    },

    async signalActivity(input) {
      // An ACTIVE heartbeat: owner-checked and fenced, makes an away session active again.
      await beat({ sessionId: input.sessionId, ownerKey: input.ownerKey, activity: "active" }, false);
    },

    async sweepAway() {
      const policy = ctx.awayPolicy;
      if (!policy) return 0;
      const thresholds = [policy.defaultMs, ...policy.scopeOverrides.map(([, ms]) => ms)].filter((ms) => ms > 0);
      if (thresholds.length === 0) return 0;
      const min = Math.min(...thresholds);
      let n = 0;
      for (let b = 0; b < SESSION_BUCKETS; b++) {
        const k = ctx.keys.bucket(b);
        const flat = (await ctx.run("sessionsAwayDue", [k.away, k.sessions, k.expiry], [ctx.nowArg(), min, 1_000])) as string[];
        for (let i = 0; i < flat.length; i += 2) {
          await activityChanged(flat[i]!, decodeSession(flat[i + 1]!));
          n++;
        }
      }
      return n;
    },

    async countSessions(ownerKey) {
      const counts = await Promise.all(
        Array.from({ length: SESSION_BUCKETS }, (_, b) => ctx.cmd("hget", () => ctx.client.hget(ctx.keys.bucket(b).owners, ownerKey))),
      );
      return counts.reduce((sum, v) => sum + (v === null ? 0 : Number(v)), 0);
    },
  };
}
