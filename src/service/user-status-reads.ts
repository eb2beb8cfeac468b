/**
 * Reading user status for GetUserStatus: the ids a call may name, and the store's records completed
 * from the history for users the store no longer holds (the chat seed's degraded mode: Redis lost
 * its data, PostgreSQL still knows the last seen and the flags). Users the store holds are as it says
 * (a join that re-created a lost record restored them: JoinInput.restoreStatus). Visibility (who may see
 * whom, invisible users) is applied by the caller (`access-wrappers.ts` `visibleStatuses`).
 */
import { invalidArgument, limitExceeded } from "../core/presence-error.js";
import { checkText, utf8Length } from "../core/room-name.js";
import { withDurable, type UserStatusRecord } from "../core/user-status.js";
import type { UserStatusStore } from "../store/ports/user-status-store.js";
import type { PresenceServiceOptions } from "./presence-service.js";

/** Distinct, validated user ids (1..maxUserIds, each 1..maxUserIdBytes bytes without control characters). */
export function validUserIds(ids: string[], maxUserIds: number, maxUserIdBytes: number): string[] {
  if (ids.length === 0) throw invalidArgument("user_ids", "must not be empty");
  if (ids.length > maxUserIds) throw limitExceeded("user_ids", maxUserIds, ids.length, "ids", "INVALID_ARGUMENT");
  ids.forEach((id, i) => {
    const field = `user_ids[${i}]`;
    if (id === "") throw invalidArgument(field, "must not be empty");
    const n = utf8Length(id);
    if (n > maxUserIdBytes) throw limitExceeded(field, maxUserIdBytes, n, "bytes", "INVALID_ARGUMENT");
    checkText(id, field);
  });
  return [...new Set(ids)];
}

/** Reads records of users (any ids; the store answers unknown users as offline, last seen 0). */
export function statusReader(o: { users: Pick<UserStatusStore, "getUserStatus"> } & Pick<PresenceServiceOptions, "durableStatus">) {
  return async (ids: string[]): Promise<UserStatusRecord[]> => {
    const records = await o.users.getUserStatus(ids);
    const unknown = records.filter((r) => r.state === "offline" && r.lastSeenMs === 0).map((r) => r.userId);
    const durable = new Map(unknown.length > 0 && o.durableStatus ? (await o.durableStatus(unknown)).map((d) => [d.userId, d]) : []);
    return records.map((r) => withDurable(r, durable.get(r.userId)));
  };
}
