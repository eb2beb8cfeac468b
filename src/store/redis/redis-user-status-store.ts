import { shownActivity } from "../../core/presence-override.js";
import { decodeSession } from "./codec.js";
import { PresenceError, sessionNotFound } from "../../core/presence-error.js";
import type { UserStatusStore } from "../ports/user-status-store.js";
import { statusFromHash } from "./codec.js";
import type { RedisContext } from "./redis-context.js";

/**
 * The UserStatusStore on Redis: one hash per user (`{u:<id>}`: its sessions' activities, last seen,
 * custom status, invisible), changed by the `userSession` and `userSetStatus` scripts, which
 * publish the new status on the user's channel when it changed. Reads are one HGETALL per user.
 */
export function createRedisUserStatusStore(ctx: RedisContext): UserStatusStore {
  return {
    async getUserStatus(userIds) {
      const hashes = await Promise.all(userIds.map((id) => ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.user(id).status))));
      return userIds.map((id, i) => statusFromHash(id, hashes[i]!));
    },

    async setStatus(input) {
      const r = await ctx.sessions.check(input);
      if (r.status !== "ok") throw sessionNotFound();
      if (r.session.id.kind !== "user") {
        throw new PresenceError("PERMISSION_DENIED", "session_id: anonymous sessions have no user status", { field: "session_id" });
      }
      const out = await ctx.users.setStatus(r.session.id.user.userId, input.customStatus, input.invisible, input.presence);
      const { overrideBefore, sessions, ...status } = out;
      const after = status.presenceOverride ?? "auto";
      if (after !== overrideBefore) {
        // What every connection of the user shows changes with the manual presence: one `updated`
        // per connection and room where it differs (presence-override.ts).
        for (const { sid, activity } of sessions) {
          const was = shownActivity(activity, overrideBefore);
          const now = shownActivity(activity, after);
          if (was === now) continue;
          const b = ctx.keys.bucket(ctx.keys.bucketOf(sid));
          const [json, rooms] = await Promise.all([
            ctx.cmd("hget", () => ctx.client.hget(b.sessions, sid)),
            ctx.cmd("hgetall", () => ctx.client.hgetall(ctx.keys.sessionRooms(sid))),
          ]);
          if (!json) continue;
          const session = decodeSession(json);
          for (const room of Object.keys(rooms)) await ctx.rooms.activity(room, { connectionId: session.c, sessionId: sid, activity: now });
        }
      }
      return status;
    },
  };
}
