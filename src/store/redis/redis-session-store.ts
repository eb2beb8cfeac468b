import { VERIFIED_BY_SESSION_KEY, type MemberIdentity } from "../../core/identity.js";
import type { Activity } from "../../core/presence-event.js";
import type { JoinInput, JoinResult, Lease, LeaveInput, LeaveResult, NavigateInput, NavigateResult, ReapResult, SessionRef } from "../../core/session.js";
import { PresenceError, sessionNotFound } from "../../core/presence-error.js";
import type { SessionStore } from "../ports/session-store.js";
import { encodeMember, identityKey, sessionScopes, type StoredMember, type StoredSession } from "./codec.js";
import { checkPresenceRecord, mergePresence } from "../../core/typed-presence.js";
import type { PresenceOverride } from "../../core/presence-override.js";
import type { DataLossRecovery } from "./data-loss-recovery.js";
import { firstJoinStatus } from "./first-join-status.js";
import { createHeartbeatBatcher } from "./heartbeat-batcher.js";
import { heartbeatBatch } from "./heartbeat-batch.js";
import type { RedisContext } from "./redis-context.js";
import { createRedisSessionActivity, learnSession, readSession } from "./redis-session-activity.js";
import { createRedisSessionQuota } from "./redis-session-quota.js";
import { viewFromScript } from "./room-reader.js";
import { FINAL_CALL, type RoomReadParts } from "./room-scripts.js";
import type { SessionReaper } from "./session-reaper.js";
import { sessionError, type SessionOpenArgs } from "./session-scripts.js";

/** Tries of a first Join whose request names a session that expires between two calls (practically one). */
const MAX_OPEN_ATTEMPTS = 3;
/** The number of a new session's first membership call (lua/lib/sessions.lua opSeq). */
const FIRST_CALL = 1;

/**
 * The SessionStore on Redis. Sessions live in 64 hash-tagged buckets (expiry zset, record hash,
 * per-owner counts) and each session's rooms in a hash of its bucket's slot, so every session
 * script touches one slot; room membership changes are the room scripts, one slot per room.
 *
 * Ordering that keeps crashes harmless: a session lists a room before it joins the room and keeps
 * listing it until it has left, so every room member can be found (and reaped) through its session.
 *
 * Redis round trips per Join (issue 16; before: `SET NX GET` for the request id, `sessionOpen`,
 * `userSession`, `roomJoin`, a `MULTI` read of the view: five, one after the other):
 * - a first Join without a request id nor a `sessions` quota on standalone Redis: one (three
 *   scripts sent together); with a quota (the service always passes one) two, as below: the
 *   quota is checked by `sessionOpen`, which must answer before the room step runs;
 * - any other Join: two: `sessionOpen` (with the request-id de-duplication inside), then `roomJoin`
 *   (which answers with the view) and, for a new session, `userSession` sent right after it on the
 *   same connection (guarded: a refused Join never shows its user online; first-join-status.ts);
 * - a retry whose request id names a live session: three (the second `sessionOpen` uses it);
 * - Cluster, a first Join: two more (`quotaAdmit` on the quota set's slot, redis-session-quota.ts;
 *   `userSession` once `roomJoin` answered, since masters keep no order between them).
 */
export interface RedisSessionStoreParts {
  recovery: DataLossRecovery;
  reaper: SessionReaper;
  /** Sessions left after the last reaper pass (the gauge). */
  onLiveSessions(n: number): void;
}

export function createRedisSessionStore(ctx: RedisContext, p: RedisSessionStoreParts): SessionStore {
  const ttlMs = ctx.timings.sessionTtlMs;
  const heartbeats = createHeartbeatBatcher(ctx.keys, (b, list) => heartbeatBatch(ctx, b, list));
  const remember = (sid: string, owner: string, session: StoredSession, room: string, md: Record<string, string>, presence?: Record<string, string>) =>
    ctx.known.remember(sid, owner, session, room, md, ctx.clock.now(), presence);
  const activity = createRedisSessionActivity(ctx);
  const quota = createRedisSessionQuota(ctx);
  /**
   * The room step of a join or navigation: `call` is the session step's number and lease end
   * (fencing). The connection shows the session's activity through the user's manual presence from
   * its first event on: on standalone Redis the join script reads it (no round trip); on Cluster it
   * is read before (in parallel with the session step when the caller passes `override`). A managed
   * room's away threshold goes into the session's. Returns the session record to keep. A new
   * session's first member gets the script's join time as last activity (`first`), as in the model.
   */
  type RoomCall = { seq: number; expiresAtMs: number; first?: boolean; override?: Promise<PresenceOverride>; onSent?: () => void };
  const roomJoin = async (room: string, sid: string, s: StoredSession, metadata: Record<string, string>, call: RoomCall, presence?: Record<string, string>) => {
    const override = await overrideFor(s.id, call.override);
    const joining = ctx.rooms.join(room, {
      connectionId: s.c,
      memberJson: encodeMember(s.c, sid, s.id, metadata, s.act, presence, call.first ? undefined : s.la),
      identityKey: identityKey(s.id),
      epoch: ctx.ids.epoch(),
      seq: call.seq,
      validUntilMs: call.expiresAtMs,
      withView: true,
      override,
    });
    call.onSent?.(); // the script is on the connection: what is sent now runs after it (standalone)
    const joined = await joining;
    return { ...joined, session: await activity.roomAway(sid, s, room, joined.roomAwayMs) };
  };
  /** How a join learns the user's manual presence (see roomJoin). */
  const overrideFor = async (id: MemberIdentity, known?: Promise<PresenceOverride>): Promise<PresenceOverride | { readFrom: string }> => {
    if (id.kind !== "user") return "auto";
    if (!ctx.cluster) return { readFrom: ctx.keys.user(id.user.userId).status };
    return known ?? activity.overrideOf(id);
  };
  /** The view a join's room step read (the members are omitted above the large-room threshold). */
  const viewOf = (room: string, joined: { view: RoomReadParts | null }) => viewFromScript(ctx, room, joined.view!);
  /** A room's refusal (ROOM_FULL, ROOM_ENDED): the session no longer lists it (and ends when it was its only room). */
  const refused = async (e: unknown, ref: SessionRef, room: string, session: StoredSession, created: boolean) => {
    if (e instanceof PresenceError && (e.reason === "ROOM_FULL" || e.reason === "ROOM_ENDED")) {
      await leaveRoom(ref, room, session, FINAL_CALL, created).catch(() => undefined);
    }
    return e;
  };
  /** Heartbeat and attach; only a Heartbeat reports its lag (an attach may follow a release's grace). */
  async function beat(input: SessionRef & { activity?: Activity }, isHeartbeat: boolean): Promise<Lease> {
    // A UDP heartbeat proved the session's key (udp.proto): refreshed without an owner check
    // ('*' in sessionsHeartbeat, like a node refresh, but with the datagram's activity).
    const owner = input.ownerKey === VERIFIED_BY_SESSION_KEY ? null : input.ownerKey;
    const r = await heartbeats.one(input.sessionId, owner, input.activity ?? "", ttlMs);
    if (r.status === "not_found") {
      if (await p.recovery.reassertIfDataLost(input.sessionId)) return beat(input, isHeartbeat);
      throw sessionNotFound();
    }
    if (isHeartbeat) ctx.observer.heartbeatLag?.(Math.max(0, ttlMs - r.leftMs) / 1000);
    const known = ctx.known.get(input.sessionId);
    if (known) known.seenAt = ctx.clock.now();
    // Stamp first (as the model): the `updated` event of an activity change carries the new last activity.
    if (input.activity === "active") await activity.stamp(input.sessionId);
    if (r.changed) await activity.activityChanged(input.sessionId, r.changed);
    return ctx.lease(r.expiresAtMs);
  }

  /** `refusedNew`: the session's first Join was refused, so it was never present: its user's last seen is left as it was. */
  async function leaveRoom(ref: SessionRef, room: string, session: StoredSession, seq: number, refusedNew = false): Promise<"left" | "ended" | "not_in_room" | "relisted"> {
    const quotaKey = session.q ?? session.o;
    const status = await ctx.sessions.leaveRoom({ ...ref, quotaKey }, room, seq);
    if (status === "not_found") throw sessionNotFound();
    if (status === "ended" && ctx.cluster) await quota.remove(quotaKey, ref.sessionId); // standalone: in the script
    if (status !== "relisted") ctx.known.left(ref.sessionId, room);
    if (status === "left") await activity.roomAway(ref.sessionId, session, room, 0); // its threshold no longer counts
    if (status === "ended") {
      ctx.known.delete(ref.sessionId);
      await ctx.users.session(session.id, refusedNew ? "forget" : "end", ref.sessionId, session.act);
      if (session.id.kind === "user") await ctx.scopes.removeSession(ref.sessionId, session.id.user.userId, sessionScopes(session));
      await ctx.cmd("zrem", () => ctx.client.zrem(ctx.keys.bucket(ctx.keys.bucketOf(ref.sessionId)).away, ref.sessionId));
    }
    return status;
  }

  const newSession = (input: JoinInput): StoredSession => ({
    sec: ctx.ids.resumeSecret(),
    c: ctx.ids.connectionId(),
    o: input.ownerKey,
    ...(input.quotaKey !== undefined && input.quotaKey !== input.ownerKey ? { q: input.quotaKey } : {}),
    id: input.identity,
    act: input.activity ?? "active",
    n: ctx.nodeId,
    ...(input.identity.kind === "user" && input.scopes && input.scopes.length > 0 ? { sc: [...input.scopes] } : {}),
    ...activity.initialFields(input.scopes),
  });

  /**
   * A first Join without a request id on standalone Redis: the session, the room join and the
   * user's status (guarded: first-join-status.ts) are sent together, answered in one round trip.
   * One connection runs them in that order: the session exists and lists the room before the room
   * has the member (a broken connection ran a prefix: never a member without its session). A new
   * session's first call is number 1, nothing can have ended it (no lease check). On Cluster the
   * three go to different masters, which keep no order: there the session step is answered first.
   */
  async function joinInOneTrip(input: JoinInput, metadataJson: string): Promise<JoinResult> {
    const sid = ctx.ids.sessionId();
    const session = newSession(input);
    const opening = ctx.sessions.open({ mode: "new", sid, owner: input.ownerKey, arg: JSON.stringify(session), room: input.room, metadataJson, nodeId: ctx.nodeId, quotaKey: session.q });
    const status = firstJoinStatus(ctx, input, sid, session);
    const joining = roomJoin(input.room, sid, session, input.metadata, { seq: FIRST_CALL, expiresAtMs: 0, first: true, onSent: status.onSent }, input.presence);
    const [opened, joinedOrNot] = await Promise.allSettled([opening, joining]);
    if (opened.status === "rejected" || opened.value.status !== "ok") {
      // The session step failed while the others ran: Redis checks a script for maxmemory only at
      // its first write, so at maxmemory the session step is refused while the room join (whose
      // first writes need no memory check) runs. Undo what ran, so no member outlives a failed Join
      // (the status step, guarded, saw no session and held back).
      if (joinedOrNot.status === "fulfilled" && joinedOrNot.value.event) {
        await ctx.rooms.leave(input.room, { connectionId: session.c, sessionId: sid, reason: "left", seq: FINAL_CALL, tombstone: false }).catch(() => {});
      }
      if (opened.status === "rejected") throw opened.reason;
      throw sessionNotFound(); // a new session cannot be refused
    }
    remember(sid, input.ownerKey, joinedOrNot.status === "fulfilled" ? joinedOrNot.value.session : session, input.room, input.metadata, input.presence);
    if (joinedOrNot.status === "rejected") throw await refused(joinedOrNot.reason, { sessionId: sid, ownerKey: input.ownerKey }, input.room, session, true);
    await status.joined();
    const joined = joinedOrNot.value;
    await activity.created(sid, joined.session);
    return {
      session: { sessionId: sid, resumeSecret: session.sec, connectionId: session.c },
      lease: ctx.lease(opened.value.expiresAtMs),
      resumed: false,
      sessionCreated: true,
      roomCreated: joined.created,
      scopes: session.sc ?? [],
      awayAfterMs: joined.session.aw ?? 0,
      event: joined.event,
      view: viewOf(input.room, joined),
      implicitRoom: !joined.managed,
    };
  }

  return {
    async join(input: JoinInput): Promise<JoinResult> {
      const { room, ownerKey: owner } = input;
      const metadataJson = JSON.stringify(input.metadata);
      // Cluster: the user's manual presence is read in parallel with the session step (roomJoin).
      const override = ctx.cluster && input.identity.kind === "user" ? activity.overrideOf(input.identity) : undefined;
      override?.catch(() => undefined); // awaited by the room step; a refused session step never gets there
      const open = (a: Omit<SessionOpenArgs, "owner" | "room" | "metadataJson" | "nodeId">) => ctx.sessions.open({ ...a, owner, room, metadataJson, nodeId: ctx.nodeId });
      let opened: { expiresAtMs: number; session: StoredSession; sid: string; seq: number } | null = null;
      let resumed = false;
      if (input.sessionId) {
        const mode = input.resumeSecret ? "reclaim" : "use";
        const r = await open({ mode, sid: input.sessionId, arg: input.resumeSecret ?? "" });
        if (r.status === "too_many_rooms") throw sessionError(r, "room", ctx.limits.maxRoomsPerSession);
        if (r.status === "ok") {
          opened = { expiresAtMs: r.expiresAtMs, session: r.session, sid: input.sessionId, seq: r.seq };
          resumed = mode === "reclaim";
        } else if (mode === "use") {
          throw sessionNotFound();
        } // a failed reclaim makes a new session
      }
      let sessionCreated = false;
      // A first Join with a request id is de-duplicated by the session script itself (F-C4). When
      // it names a live session, that session is used; should it expire before that second call,
      // the next try re-points the request to a new session.
      const request = !input.sessionId && input.requestId ? ctx.keys.request(owner, input.requestId) : undefined;
      // With a `sessions` quota the session step must be answered first: a refused Join changes nothing.
      if (!opened && !request && !ctx.cluster && !input.maxSessions) return joinInOneTrip(input, metadataJson);
      const quotaKey = input.quotaKey ?? owner;
      const maxSessions = input.maxSessions ?? 0;
      for (let attempt = 0; !opened; attempt++) {
        if (attempt === MAX_OPEN_ATTEMPTS) throw sessionNotFound();
        const id = request ? ctx.keys.inBucket(ctx.ids.sessionId(), request.bucket) : ctx.ids.sessionId();
        const session = newSession(input);
        const r = await open({ mode: "new", sid: id, arg: JSON.stringify(session), requestField: request?.field, quotaKey: session.q, maxSessions });
        // Cluster: the quota set is on another slot; the new session (in no room yet) takes its place
        // there or is ended again (redis-session-quota.ts).
        if (ctx.cluster && r.status === "ok") {
          await quota.reserve(quotaKey, id, maxSessions).catch(async (e: unknown) => {
            await ctx.sessions.leaveRoom({ sessionId: id, ownerKey: owner, quotaKey }, room, FINAL_CALL).catch(() => undefined);
            throw e;
          });
        }
        if (r.status === "quota_full") {
          await quota.refused(quotaKey, maxSessions, r); // throws QUOTA_EXCEEDED unless a leftover was freed
          attempt--;
        } else if (r.status === "ok") {
          opened = { expiresAtMs: r.expiresAtMs, session, sid: id, seq: r.seq };
          sessionCreated = true;
        } else if (r.status === "request_hit") {
          const used = await open({ mode: "use", sid: r.sessionId, arg: "" });
          if (used.status === "too_many_rooms") throw sessionError(used, "room", ctx.limits.maxRoomsPerSession);
          if (used.status === "ok") opened = { expiresAtMs: used.expiresAtMs, session: used.session, sid: r.sessionId, seq: used.seq };
        }
      }
      const { session, sid: sessionId, expiresAtMs } = opened;
      remember(sessionId, input.ownerKey, session, room, input.metadata, input.presence);
      // A new session's user status follows the room step (first-join-status.ts): a refused Join never shows the user online.
      const status = sessionCreated ? firstJoinStatus(ctx, input, sessionId, session) : undefined;
      const [joining] = await Promise.allSettled([roomJoin(room, sessionId, session, input.metadata, { ...opened, first: sessionCreated, override, onSent: status?.onSent }, input.presence)]);
      if (joining.status === "rejected") throw await refused(joining.reason, { sessionId, ownerKey: input.ownerKey }, room, session, sessionCreated);
      await status?.joined();
      const joined = joining.value;
      if (sessionCreated) await activity.created(sessionId, joined.session);
      const view = viewOf(room, joined);
      return {
        session: { sessionId, resumeSecret: session.sec, connectionId: session.c },
        lease: ctx.lease(expiresAtMs),
        resumed,
        sessionCreated,
        roomCreated: joined.created,
        scopes: session.sc ?? [],
        awayAfterMs: joined.session.aw ?? 0,
        event: joined.event,
        view,
        implicitRoom: !joined.managed,
      };
    },

    async leave(input: LeaveInput): Promise<LeaveResult> {
      const checked = await ctx.sessions.check(input, true);
      if (checked.status !== "ok") throw sessionNotFound();
      const session = checked.session;
      await ctx.rooms.leave(input.room, { connectionId: session.c, sessionId: input.sessionId, reason: input.reason, seq: checked.seq });
      const status = await leaveRoom(input, input.room, session, checked.seq);
      return { left: status !== "not_in_room", sessionEnded: status === "ended" };
    },

    async navigate(input: NavigateInput): Promise<NavigateResult> {
      const r = await ctx.sessions.navigate(input, { fromRoom: input.fromRoom, toRoom: input.toRoom, metadataJson: JSON.stringify(input.metadata) });
      if (r.status !== "ok") throw sessionError(r, "to_room", ctx.limits.maxRoomsPerSession);
      remember(input.sessionId, input.ownerKey, r.session, input.toRoom, input.metadata);
      // The target first: a managed room may refuse it (ROOM_FULL, ROOM_ENDED), and then the session
      // stays where it was (the source is still listed: only the target's listing is undone).
      const joined = await roomJoin(input.toRoom, input.sessionId, r.session, input.metadata, r).catch(async (e: unknown) => {
        throw await refused(e, input, input.toRoom, r.session, false);
      });
      if (r.leavesFrom) {
        await ctx.rooms.leave(input.fromRoom, { connectionId: r.session.c, sessionId: input.sessionId, reason: "left", seq: r.seq });
        await leaveRoom(input, input.fromRoom, r.session, r.seq);
      }
      return { lease: ctx.lease(r.expiresAtMs), view: viewOf(input.toRoom, joined) };
    },

    heartbeat: (input) => beat(input, true),

    async attach(input, joined) {
      const mine = joined && ctx.known.get(input.sessionId); // created or reclaimed here: sessionOpen recorded this node and the expiry
      if (mine) return (mine.pins++, joined);
      const lease = await beat({ sessionId: input.sessionId, ownerKey: input.ownerKey }, false);
      // Created on another node: learn it, so this node can re-assert it if Redis loses its data.
      const known = ctx.known.get(input.sessionId) ?? (await learnSession(ctx, input.sessionId, input.ownerKey));
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
      await ctx.sessions.release(input, graceMs, ctx.nodeId);
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
      const checked = await ctx.sessions.check(input, true);
      if (checked.status !== "ok") throw sessionNotFound();
      const session = checked.session;
      const json = await ctx.cmd("hget", () => ctx.client.hget(ctx.keys.room(input.room).members, session.c));
      if (!json) throw sessionNotFound(); // not in the room
      const member = JSON.parse(json) as StoredMember;
      const limits = { maxBytes: ctx.limits.maxPresenceBytes, maxKeys: ctx.limits.maxPresenceKeys };
      const next = checkPresenceRecord(mergePresence(member.pr ?? {}, input.presence, input.replace), limits);
      await roomJoin(input.room, input.sessionId, session, member.md ?? {}, { seq: checked.seq, expiresAtMs: 0 }, next);
      ctx.known.presenceChanged(input.sessionId, input.room, next);
    },

    async endRoom(room, ended) {
      const k = ctx.keys.room(room);
      const members = await ctx.cmd("hgetall", () => ctx.client.hgetall(k.members));
      let removed = 0;
      for (const json of Object.values(members)) {
        const m = JSON.parse(json) as StoredMember;
        // Fenced by the call that wrote the entry, not FINAL_CALL: a session in other rooms lives on
        // and may join this one again later (its later calls pass the tombstone and keep their listing).
        const seq = m.q ?? FINAL_CALL;
        const { event } = await ctx.rooms.leave(room, { connectionId: m.c, sessionId: m.s, reason: "ended", seq });
        if (event) removed++;
        const session = await readSession(ctx, m.s);
        if (!session) continue;
        // The session no longer lists the room (and ends when it was its last, like a Leave).
        await leaveRoom({ sessionId: m.s, ownerKey: session.o }, room, session, seq).catch(() => undefined);
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

    sweepAway: () => activity.sweepAway(),

    roomAwayChanged: (room, ms) => activity.roomAwayChanged(room, ms),

    countSessions: (quotaKey) => quota.count(quotaKey),
  };
}
