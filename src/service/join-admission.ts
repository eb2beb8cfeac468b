/**
 * What a Join or Navigate must pass besides the `join` right (issue 11): the caller's `sessions`
 * and `new_rooms_per_minute` quotas and the store memory guard. Joins into rooms that exist and
 * calls of existing sessions are never refused by these (a caller at its new-rooms quota, or a
 * store over its budget, can still join a room someone is in).
 *
 * - A join without a session id makes a session: refused when the store is over its budget
 *   (STORE_OVER_BUDGET). The caller's `sessions` quota (by quota key: users and services by their
 *   owner key, anonymous callers by remote address, `quotaKeyOf`) is checked by the store in the
 *   step that creates the session (`JoinInput.maxSessions`, `sessionLimit` below), so concurrent
 *   Joins at the limit cannot both pass; `refusedSessions` words its refusal for the caller.
 * - A join that would create a room's state: refused when the caller's new-rooms bucket is empty
 *   (QUOTA_EXCEEDED) or the store is over budget. Whether the room exists is read only then (one
 *   cheap read), so a caller under its quota pays nothing; the token is taken after the store says
 *   the join created the room (`JoinResult.roomCreated`), so joins into busy rooms cost nothing.
 */
import { storeOverBudget } from "../core/access-errors.js";
import type { Caller } from "../core/identity.js";
import { PresenceError } from "../core/presence-error.js";
import type { RoomStore } from "../store/ports/room-store.js";
import type { AccessGuard } from "./access-guard.js";
import type { MemoryGuard } from "./memory-guard.js";

export interface JoinAdmission {
  /** Before the store call: throws QUOTA_EXCEEDED or STORE_OVER_BUDGET. */
  admit(caller: Caller, req: { room: string; newSession: boolean }): Promise<void>;
  /** After the store call: charges a room the join created. */
  joined(caller: Caller, roomCreated: boolean): void;
  /** The caller's `sessions` quota, for `JoinInput.maxSessions`. */
  sessionLimit(caller: Caller): number;
  /** The store's QUOTA_EXCEEDED on `sessions`, worded for the caller and counted; other errors unchanged. */
  refusedSessions(caller: Caller, e: unknown): unknown;
}

export function createJoinAdmission(o: {
  access: AccessGuard;
  rooms: Pick<RoomStore, "getView">;
  memory?: MemoryGuard;
}): JoinAdmission {
  const roomExists = async (room: string) => (await o.rooms.getView(room, { includeMembers: false })).epoch !== "";
  return {
    async admit(caller, req) {
      const over = o.memory?.overBudget() ?? null;
      if (req.newSession) {
        if (over) throw storeOverBudget(over.usedBytes, over.budgetBytes, "session");
      }
      const quotaLeft = o.access.hasTokens(caller, "new_rooms_per_minute");
      if ((quotaLeft && !over) || (await roomExists(req.room))) return;
      if (over) throw storeOverBudget(over.usedBytes, over.budgetBytes, "room");
      o.access.charge(caller, "new_rooms_per_minute"); // empty: refuses with QUOTA_EXCEEDED
    },
    joined(caller, roomCreated) {
      if (roomCreated) o.access.spend(caller, "new_rooms_per_minute");
    },
    sessionLimit: (caller) => o.access.limitsOf(caller).sessions,
    refusedSessions(caller, e) {
      if (e instanceof PresenceError && e.reason === "QUOTA_EXCEEDED" && e.detail.field === "sessions") {
        o.access.checkSessions(caller, (e.detail.actual ?? 1) - 1); // throws the caller's wording
      }
      return e;
    },
  };
}
