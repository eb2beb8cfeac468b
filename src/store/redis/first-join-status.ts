import type { JoinInput } from "../../core/session.js";
import type { StoredSession } from "./codec.js";
import type { RedisContext } from "./redis-context.js";

/**
 * The user status of a new session's first Join (`userSession` `set`), so that a refused Join
 * (ROOM_FULL, ROOM_ENDED, a refused session step) never shows its user online, not even for a
 * moment: the status step runs after the room step, never beside it.
 *
 * - Standalone: it is sent right after the room step's script, on the same connection (`onSent`),
 *   which runs it after the session and room steps; guarded (userSession-3.lua), it applies only if
 *   they left the session and its member, so it costs no round trip.
 * - Cluster: the user's key is on another master, which keeps no order with the room's, so it is
 *   sent once the room step succeeded (one more round trip on a first Join).
 * - Held back although the room step succeeded (a NOSCRIPT reload made the room step run after
 *   it), or failed: `joined()` sets it again, unguarded.
 */
export interface FirstJoinStatus {
  /** For `roomJoin`'s `onSent` (standalone; undefined on Cluster). */
  onSent: (() => void) | undefined;
  /** After the room step succeeded: the user's status holds the session when this resolves. */
  joined(): Promise<void>;
}

export function firstJoinStatus(ctx: RedisContext, input: JoinInput, sid: string, session: StoredSession): FirstJoinStatus {
  let sent: Promise<"applied" | "held_back"> | undefined;
  const guard = { membersKey: ctx.keys.room(input.room).members, connectionId: session.c, sessionsKey: ctx.keys.bucket(ctx.keys.bucketOf(sid)).sessions };
  const set = (g?: typeof guard) => ctx.users.session(session.id, "set", sid, session.act, input.restoreStatus, g);
  return {
    onSent: ctx.cluster
      ? undefined
      : () => {
          sent = set(guard);
          sent.catch(() => undefined); // awaited by joined(); a refused Join never asks
        },
    async joined() {
      if ((await sent?.catch(() => "held_back" as const)) !== "applied") await set();
    },
  };
}
