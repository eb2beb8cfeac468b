import type { Activity } from "../../core/presence-event.js";
import type { JoinInput, JoinResult, Lease, LeaveInput, LeaveResult, NavigateInput, NavigateResult, ReapResult, SessionRef } from "../../core/session.js";
import { sessionNotFound } from "../../core/presence-error.js";
import type { SessionStore } from "../ports/session-store.js";
import { decodeSession, encodeMember, identityKey, type StoredSession } from "./codec.js";
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
  const roomJoin = (room: string, sid: string, s: StoredSession, metadata: Record<string, string>) =>
    ctx.rooms.join(room, { connectionId: s.c, memberJson: encodeMember(s.c, sid, s.id, metadata, s.act), identityKey: identityKey(s.id), epoch: ctx.ids.epoch() });

  async function activityChanged(sid: string, session: StoredSession): Promise<void> {
    const rooms = await ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.sessionRooms(sid)));
    for (const room of Object.keys(rooms)) await ctx.rooms.activity(room, { connectionId: session.c, sessionId: sid, activity: session.act });
    await ctx.users.session(session.id, "set", sid, session.act);
    const known = ctx.known.get(sid);
    if (known) known.session = session;
  }

  /** Heartbeat and attach; only a Heartbeat reports its lag (an attach may follow a release's grace). */
  async function beat(input: SessionRef & { activity?: Activity }, isHeartbeat: boolean): Promise<Lease> {
    const r = await heartbeats.one(input.sessionId, input.ownerKey, input.activity ?? "", ttlMs);
    if (r.status === "not_found") {
      if (await p.recovery.reassertIfDataLost(input.sessionId)) return beat(input, isHeartbeat);
      throw sessionNotFound();
    }
    if (isHeartbeat) ctx.observer.heartbeatLag?.(Math.max(0, ttlMs - r.leftMs) / 1000);
    const known = ctx.known.get(input.sessionId);
    if (known) known.seenAt = ctx.clock.now();
    if (r.changed) await activityChanged(input.sessionId, r.changed);
    return ctx.lease(r.expiresAtMs);
  }

  async function leaveRoom(ref: SessionRef, room: string, session: StoredSession): Promise<"left" | "ended" | "not_in_room"> {
    const status = await ctx.sessions.leaveRoom(ref, room);
    if (status === "not_found") throw sessionNotFound();
    ctx.known.get(ref.sessionId)?.rooms.delete(room);
    if (status === "ended") {
      ctx.known.delete(ref.sessionId);
      await ctx.users.session(session.id, "end", ref.sessionId, session.act);
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
        };
        const r = await ctx.sessions.open({ mode: "new", sid: id, owner: input.ownerKey, arg: JSON.stringify(session), room, metadataJson, nodeId: ctx.nodeId });
        if (r.status !== "ok") throw sessionNotFound();
        opened = { expiresAtMs: r.expiresAtMs, session, sid: id };
        await ctx.users.session(session.id, "set", id, session.act);
      }
      const { session, sid: sessionId, expiresAtMs } = opened;
      remember(sessionId, input.ownerKey, session, room, input.metadata);
      const joined = await roomJoin(room, sessionId, session, input.metadata);
      const view = await readRoomView(ctx, room, "join");
      return {
        session: { sessionId, resumeSecret: session.sec, connectionId: session.c },
        lease: ctx.lease(expiresAtMs),
        resumed,
        sessionCreated,
        roomCreated: joined.created,
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

    async countSessions(ownerKey) {
      const counts = await Promise.all(
        Array.from({ length: SESSION_BUCKETS }, (_, b) => ctx.cmd("hget", () => ctx.client.hget(ctx.keys.bucket(b).owners, ownerKey))),
      );
      return counts.reduce((sum, v) => sum + (v === null ? 0 : Number(v)), 0);
    },
  };
}
