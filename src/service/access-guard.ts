/**
 * The one place where access control and per-caller quotas are applied (design §10). Every entry
 * point (the PresenceService for Connect, gRPC and gRPC-Web; the WebSocket bridge through the same
 * service; the admin API; and any entry point added later) asks it before touching the store:
 *
 * - `authorize(caller, op, room)`: may the caller do `op` on `room`? Resolves, or rejects with
 *   ROOM_FORBIDDEN (`permission_denied`) or AUTH_UNAVAILABLE (`unavailable`: the hook could not
 *   answer, fail closed).
 * - `visibleUsers(caller, op, userIds)`: which of these users' status the caller may see. The
 *   others are to be answered as unknown users (no oracle). STATUS_FORBIDDEN only when the caller
 *   has no status right at all (then the answer does not depend on the ids).
 * - `hold(caller, quota, n)` / `charge(caller, quota, n)`: per-caller quotas, QUOTA_EXCEEDED
 *   (`resource_exhausted`, naming the quota) when used up. `hold` returns the release function.
 * - `chargeRequest(caller)`: one Connect/gRPC call against the request-rate quota.
 *
 * The decision itself is pure (`core/access-policy.ts`); this module adds the authorization hook
 * (cached, in `auth/authorization-hook.ts`), the quota ledger and the metrics.
 */
import type { Clock } from "../core/clock.js";
import { authUnavailable, quotaExceeded, roomForbidden, statusForbidden } from "../core/access-errors.js";
import { decide, mayEver, memberRole, type AccessPolicy, type Principal } from "../core/access-policy.js";
import { callerClassOf, quotaKeyOf, type Caller } from "../core/identity.js";
import { PresenceError } from "../core/presence-error.js";
import { createQuotaLedger, type CallerClass, type HeldQuota, type QuotaLedger, type QuotaLimits, type QuotaName, type QuotaTable, type RateQuota } from "../core/quota.js";
import type { Operation, RoomOperation, UserOperation } from "../core/rights.js";

/**
 * The application's authorization backend (PRESENCE_AUTHZ_HOOK_URL), asked about operations the
 * configured rules do not allow. One decision per resource, in order. Rejects with a PresenceError
 * AUTH_UNAVAILABLE when the hook cannot answer and failing open is not configured.
 */
export interface AuthorizationHook {
  decide(principal: Principal, op: Operation, resources: readonly string[]): Promise<boolean[]>;
}

export interface AccessGuardOptions {
  policy: AccessPolicy;
  quotas: QuotaTable;
  clock: Clock;
  hook?: AuthorizationHook;
  ledger?: QuotaLedger;
  /** Callers whose rate buckets the ledger keeps per quota (when it makes the ledger). */
  maxTrackedCallers: number;
  /** A check refused an operation (`rules`: no right; `hook`: the hook said no). Metrics. */
  onDenied?: (op: Operation, by: "rules" | "hook") => void;
  /** A quota refused a caller. Metrics. */
  onQuotaRefused?: (quota: QuotaName, callerClass: CallerClass) => void;
}

export interface AccessGuard {
  readonly policy: AccessPolicy;
  authorize(caller: Caller, op: RoomOperation, room: string, field?: string): Promise<void>;
  /** `authorize` for several rooms; refuses naming the first forbidden one (`rooms[i]`). */
  authorizeRooms(caller: Caller, op: RoomOperation, rooms: readonly string[], field?: string): Promise<void>;
  visibleUsers(caller: Caller, op: UserOperation, userIds: readonly string[]): Promise<ReadonlySet<string>>;
  /**
   * A stream's filter question, asked per item (WatchEvents: `watch` on an event's room,
   * `status.watch` on its user): true or false, never a refusal, and a "no" is not counted as a
   * denial (the caller asked for nothing in particular). Rejects with AUTH_UNAVAILABLE when the
   * hook cannot answer (fail closed: the stream ends, the client resumes from its cursor).
   */
  allows(caller: Caller, op: Operation, resource: string): Promise<boolean>;
  /** Whether `caller` could be allowed `op` anywhere (rules, hook or development mode). */
  mayEver(caller: Caller, op: Operation): boolean;
  /** The caller's role in `room` from its per-room role claim ("" when none): shown on its member. */
  roleIn(caller: Caller, room: string): string;
  /** Takes `n` units of a concurrent quota until the returned function is called (idempotent). */
  hold(caller: Caller, quota: HeldQuota, n?: number): () => void;
  /** Takes `n` tokens of a rate quota. */
  charge(caller: Caller, quota: RateQuota, n?: number): void;
  /** Takes `n` tokens of a rate quota when there are, else nothing (charging what already happened). */
  spend(caller: Caller, quota: RateQuota, n?: number): void;
  /** Whether a rate quota has `n` tokens left, without taking them. */
  hasTokens(caller: Caller, quota: RateQuota, n?: number): boolean;
  /** One RPC call against the caller's `requests_per_second` quota. */
  chargeRequest(caller: Caller): void;
  /** The caller's limits. */
  limitsOf(caller: Caller): Readonly<QuotaLimits>;
  /** Refuses with QUOTA_EXCEEDED (counted) when `count` reaches the caller's `sessions` quota. */
  checkSessions(caller: Caller, count: number): void;
}

export function createAccessGuard(o: AccessGuardOptions): AccessGuard {
  const ledger = o.ledger ?? createQuotaLedger({ maxTrackedCallers: o.maxTrackedCallers });
  const { policy } = o;

  /** Decisions for several resources of one operation; the hook is asked once for the undecided ones. */
  async function decideAll(caller: Caller, op: Operation, resources: readonly string[], countDenials = true): Promise<boolean[]> {
    const out = new Array<boolean>(resources.length).fill(false);
    const ask: number[] = [];
    resources.forEach((r, i) => {
      const d = decide(policy, caller, op, r);
      if (d.allowed) out[i] = true;
      else if (d.askHook && o.hook) ask.push(i);
      else if (countDenials) o.onDenied?.(op, "rules");
    });
    if (ask.length > 0) {
      let answers: boolean[];
      try {
        answers = await o.hook!.decide(caller, op, ask.map((i) => resources[i]!));
      } catch (err) {
        throw err instanceof PresenceError ? err : authUnavailable("the authorization hook", err);
      }
      ask.forEach((i, k) => {
        out[i] = answers[k] === true;
        if (!out[i] && countDenials) o.onDenied?.(op, "hook");
      });
    }
    return out;
  }

  function refuse(caller: Caller, r: NonNullable<ReturnType<QuotaLedger["hold"]>>): never {
    const cls = callerClassOf(caller);
    o.onQuotaRefused?.(r.quota, cls);
    throw quotaExceeded(r, cls);
  }

  const limitsOf = (caller: Caller) => o.quotas[callerClassOf(caller)];
  const rate = (caller: Caller, quota: RateQuota) => {
    const l = limitsOf(caller);
    return quota === "requests_per_second" ? { perSec: l.requestsPerSecond, burst: l.requestBurst } : { perSec: l.newRoomsPerMinute / 60, burst: l.newRoomsPerMinute };
  };

  const guard: AccessGuard = {
    policy,

    async authorize(caller, op, room, field = "room") {
      // The common case (allowed by the rules) costs no promise of its own beyond this function's.
      if (decide(policy, caller, op, room).allowed) return;
      if (!(await decideAll(caller, op, [room]))[0]) throw roomForbidden(op, room, field);
    },

    async authorizeRooms(caller, op, rooms, field = "rooms") {
      const i = (await decideAll(caller, op, rooms)).indexOf(false);
      if (i >= 0) throw roomForbidden(op, rooms[i]!, `${field}[${i}]`);
    },

    async visibleUsers(caller, op, userIds) {
      const others = userIds.filter((id) => caller.role === "anonymous" || id !== caller.subject);
      if (others.length > 0 && !mayEver(policy, caller, op)) {
        o.onDenied?.(op, "rules");
        throw statusForbidden(op, others[0]!);
      }
      const ok = await decideAll(caller, op, userIds);
      return new Set(userIds.filter((_, i) => ok[i]));
    },

    async allows(caller, op, resource) {
      if (decide(policy, caller, op, resource).allowed) return true;
      return (await decideAll(caller, op, [resource], false))[0] === true;
    },

    mayEver: (caller, op) => mayEver(policy, caller, op),

    roleIn: (caller, room) => memberRole(caller, room),

    hold(caller, quota, count) {
      // No default parameter: with one, the release closure would keep two contexts (parameters
      // and body) per held unit, i.e. per watching socket.
      const n = count ?? 1;
      const key = quotaKeyOf(caller);
      const l = limitsOf(caller);
      const r = ledger.hold(key, quota, n, quota === "watches" ? l.watches : l.watchedUserIds);
      if (r) refuse(caller, r);
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        ledger.release(key, quota, n);
      };
    },

    charge(caller, quota, n = 1) {
      const { perSec, burst } = rate(caller, quota);
      const r = ledger.take(quotaKeyOf(caller), quota, n, perSec, burst, o.clock.now());
      if (r) refuse(caller, r);
    },

    spend(caller, quota, n = 1) {
      const { perSec, burst } = rate(caller, quota);
      ledger.take(quotaKeyOf(caller), quota, n, perSec, burst, o.clock.now());
    },

    hasTokens(caller, quota, n = 1) {
      const { perSec, burst } = rate(caller, quota);
      return ledger.tokens(quotaKeyOf(caller), quota, perSec, burst, o.clock.now()) >= n;
    },

    chargeRequest: (caller) => guard.charge(caller, "requests_per_second"),

    limitsOf,

    checkSessions(caller, count) {
      const limit = limitsOf(caller).sessions;
      if (count >= limit) refuse(caller, { quota: "sessions", limit, actual: count + 1, retryAfterMs: 0 });
    },
  };
  return guard;
}
