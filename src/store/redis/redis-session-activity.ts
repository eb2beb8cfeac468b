import { scopeBaseThreshold } from "../../core/away-policy.js";
import type { MemberIdentity } from "../../core/identity.js";
import { shownActivity, type PresenceOverride } from "../../core/presence-override.js";
import { decodeListing, decodeSession, sessionScopes, type StoredMember, type StoredSession } from "./codec.js";
import type { KnownSession } from "./known-sessions.js";
import { SESSION_BUCKETS } from "./keys.js";
import type { RedisContext } from "./redis-context.js";

/**
 * Server-side away and last activity on Redis (core/session-activity.ts, core/away-policy.ts,
 * core/presence-seeds.ts `stamp`): what the session store does around activity signals, away
 * thresholds and the away sweep. Session records carry `la` (last activity), `ab` (threshold of
 * their scopes or the default), `ra` (the managed rooms' thresholds) and `aw` (the smallest); the
 * bucket's away index holds each active session's deadline `la + aw` (lua/lib/sessions.lua).
 *
 * Cost of an activity signal (signals reach the store at most once per session per
 * PRESENCE_ACTIVITY_WRITE_INTERVAL_MS from one node, see presence-service.ts; a Heartbeat with
 * ACTIVE is one by itself): one session script, then one small room script per room of the session
 * (its member's `la`, no event) and one per scope shard, sent together.
 */
export interface RedisSessionActivity {
  /** The fields a new session's record starts with: last activity now, its threshold from its scopes. */
  initialFields(scopes: readonly string[] | undefined): Pick<StoredSession, "la" | "ab" | "aw">;
  /** A new session: its user joins its scopes; with a threshold it enters the away index. */
  created(sid: string, session: StoredSession): Promise<void>;
  /** An activity signal: the session's last activity (its members' in its rooms too), away deadline, scopes. */
  stamp(sid: string): Promise<void>;
  /** The session's activity changed: what its connections show (with the user's manual presence) and its user status. */
  activityChanged(sid: string, session: StoredSession): Promise<void>;
  /** After a room step: the managed room's away_after_ms (0 = none) goes into the session's threshold. Returns the record to keep. */
  roomAway(sid: string, session: StoredSession, room: string, ms: number): Promise<StoredSession>;
  /** The user's manual presence (SetStatus), which what its connections show follows ("auto" for anonymous sessions). */
  overrideOf(id: MemberIdentity): Promise<PresenceOverride>;
  sweepAway(): Promise<number>;
  roomAwayChanged(room: string, ms: number): Promise<number>;
}

export function createRedisSessionActivity(ctx: RedisContext): RedisSessionActivity {
  /** The activity stamp of a new record: the store's clock when scripts use it, else this node's. */
  const activityNow = () => (ctx.nowArg() === "0" ? ctx.clock.now() : Number(ctx.nowArg()));
  const keep = (sid: string, session: StoredSession) => {
    const k = ctx.known.get(sid);
    if (k) k.session = session;
  };

  async function overrideOf(id: MemberIdentity): Promise<PresenceOverride> {
    if (id.kind !== "user") return "auto";
    const userId = id.user.userId;
    const ov = await ctx.cmd("hget", () => ctx.client.hget(ctx.keys.user(userId).status, "ov"));
    return ov === "away" || ov === "online" ? ov : "auto";
  }

  async function activityChanged(sid: string, session: StoredSession): Promise<void> {
    const rooms = await ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.sessionRooms(sid)));
    const shown = shownActivity(session.act, await overrideOf(session.id));
    for (const room of Object.keys(rooms)) await ctx.rooms.activity(room, { connectionId: session.c, sessionId: sid, activity: shown });
    await ctx.users.session(session.id, "set", sid, session.act);
    keep(sid, session);
  }

  /** `full`: also the session's members in its rooms and its user's position in its scopes. */
  async function stamp(sid: string, full = true): Promise<void> {
    const r = await ctx.sessions.stamp(sid);
    if (r.status === "not_found") return;
    keep(sid, r.session);
    if (!full) return;
    const s = r.session;
    await Promise.all([
      ...r.rooms.map((room) => ctx.rooms.stamp(room, { connectionId: s.c, sessionId: sid, lastActiveMs: r.lastActiveMs })),
      s.id.kind === "user" ? ctx.scopes.stamp(s.id.user.userId, sessionScopes(s), r.lastActiveMs) : undefined,
    ]);
  }

  return {
    initialFields(scopes) {
      const ab = ctx.awayPolicy ? scopeBaseThreshold(ctx.awayPolicy, scopes ?? []) : 0;
      return { la: activityNow(), ab, aw: ab };
    },
    async created(sid, session) {
      if (session.id.kind === "user") await ctx.scopes.addSession(sid, session.id.user, sessionScopes(session), session.la ?? activityNow());
      // Into the away index with its deadline, computed from the stored record.
      if ((session.aw ?? 0) > 0) await stamp(sid, false);
    },
    stamp: (sid) => stamp(sid),
    activityChanged,
    async roomAway(sid, session, room, ms) {
      if ((session.ra?.[room] ?? 0) === ms) return session;
      const r = await ctx.sessions.roomAway(sid, room, ms);
      if (!r.session) return session;
      keep(sid, r.session);
      return r.session;
    },
    overrideOf,
    async sweepAway() {
      let n = 0;
      for (let b = 0; b < SESSION_BUCKETS; b++) {
        for (const { sid, session } of await ctx.sessions.awayDue(b)) {
          await activityChanged(sid, session);
          n++;
        }
      }
      return n;
    },
    async roomAwayChanged(room, ms) {
      const members = await ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.room(room).members));
      const sids = new Set(Object.values(members).map((json) => (JSON.parse(json) as StoredMember).s));
      await Promise.all([...sids].map((sid) => ctx.sessions.roomAway(sid, room, ms).then((r) => r.session && keep(sid, r.session))));
      return sids.size;
    },
  };
}

/** A session record as read from its bucket (null when gone). */
export async function readSession(ctx: RedisContext, sid: string): Promise<StoredSession | null> {
  const json = await ctx.cmd("hget", () => ctx.client.hget(ctx.keys.bucket(ctx.keys.bucketOf(sid)).sessions, sid));
  return json ? decodeSession(json) : null;
}

/**
 * Reads a live session this node does not know (attached here, created on another node) into
 * `ctx.known`, with its rooms and its typed presence in each (one read per room, together), so that
 * this node can re-assert it if Redis loses its data. Undefined when the record is gone.
 */
export async function learnSession(ctx: RedisContext, sid: string, owner: string): Promise<KnownSession | undefined> {
  const b = ctx.keys.bucket(ctx.keys.bucketOf(sid));
  const [json, rooms] = await Promise.all([
    ctx.cmd("hget", () => ctx.client.hget(b.sessions, sid)),
    ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.sessionRooms(sid))),
  ]);
  if (!json) return undefined;
  const session = decodeSession(json);
  const entries = await Promise.all(Object.keys(rooms).map((room) => ctx.cmd("hget", () => ctx.client.hget(ctx.keys.room(room).members, session.c))));
  Object.entries(rooms).forEach(([room, listed], i) => {
    const member = entries[i] ? (JSON.parse(entries[i]) as StoredMember) : undefined;
    ctx.known.remember(sid, owner, session, room, decodeListing(listed), ctx.clock.now(), member?.s === sid ? member.pr : undefined);
  });
  return ctx.known.get(sid);
}
