/**
 * The rejections of access control and quotas, one constructor each, so every entry point refuses
 * with the same reason, code and wording (docs/security.md lists them).
 */
import type { Operation } from "./rights.js";
import { PresenceError } from "./presence-error.js";
import type { CallerClass, QuotaRefusal } from "./quota.js";

/** `permission_denied` / ROOM_FORBIDDEN: `field: operation "watch" is not allowed on room "/x"`. */
export function roomForbidden(op: Operation, room: string, field = "room"): PresenceError {
  return new PresenceError("ROOM_FORBIDDEN", `${field}: operation "${op}" is not allowed on room ${JSON.stringify(room)}`, { field });
}

/**
 * `permission_denied` / STATUS_FORBIDDEN: the caller may not read (or watch) other users' status
 * at all. Never raised per user: a user the caller may not see looks like an unknown user.
 */
export function statusForbidden(op: Operation, userId: string, field = "user_ids"): PresenceError {
  return new PresenceError("STATUS_FORBIDDEN", `${field}: operation "${op}" is not allowed on user ${JSON.stringify(userId)} (this caller may not see other users' status)`, { field });
}

const QUOTA_UNITS: Record<QuotaRefusal["quota"], string> = {
  watches: "open watches",
  watched_user_ids: "watched user ids",
  sessions: "live sessions",
  new_rooms_per_minute: "new rooms per minute",
  requests_per_second: "calls per second",
};

/**
 * `resource_exhausted` / QUOTA_EXCEEDED, naming the quota (also as `field`), the limit, the caller
 * class and, for rates, when to retry.
 */
export function quotaExceeded(r: QuotaRefusal, callerClass: CallerClass): PresenceError {
  const per = callerClass === "anonymous" ? "per anonymous address" : `per ${callerClass}`;
  const retry = r.retryAfterMs > 0 ? `; retry in ${r.retryAfterMs} ms` : "";
  const got = r.retryAfterMs > 0 ? "" : ` (got ${r.actual})`;
  return new PresenceError("QUOTA_EXCEEDED", `quota ${r.quota}: at most ${r.limit} ${QUOTA_UNITS[r.quota]} ${per}${got}${retry}`, {
    field: r.quota,
    limit: r.limit,
    actual: r.actual,
  });
}

/**
 * QUOTA_EXCEEDED from the store (`JoinInput.maxSessions`): the quota key already has `count` of at
 * most `limit` sessions. The service re-words it for the caller's class (`AccessGuard.checkSessions`).
 */
export function sessionsQuotaFull(limit: number, count: number): PresenceError {
  return new PresenceError("QUOTA_EXCEEDED", `quota sessions: at most ${limit} ${QUOTA_UNITS.sessions} (got ${count + 1})`, {
    field: "sessions",
    limit,
    actual: count + 1,
  });
}

/** `unavailable` / AUTH_UNAVAILABLE: the authorization hook or the key set could not answer (fail closed). */
export function authUnavailable(what: string, cause?: unknown): PresenceError {
  return new PresenceError("AUTH_UNAVAILABLE", `${what} is unavailable; access is refused until it answers (retry with backoff)`, {}, { cause });
}

/** `resource_exhausted` / STORE_OVER_BUDGET: the memory guard refuses new rooms and sessions. */
export function storeOverBudget(usedBytes: number, budgetBytes: number, what: "room" | "session"): PresenceError {
  return new PresenceError(
    "STORE_OVER_BUDGET",
    `store: over its memory budget (${usedBytes} of ${budgetBytes} bytes): new ${what}s are refused for now, existing ones keep working; retry later`,
    { field: "store", limit: budgetBytes, actual: usedBytes },
  );
}
