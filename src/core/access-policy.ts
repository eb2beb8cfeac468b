/**
 * The access decision (design §10 "Rights"): one pure function, `decide`, combines every source of
 * a caller's rights. The service layer (`service/access-guard.ts`) calls it before any store
 * access, and asks the application's authorization hook when it answers `askHook`.
 *
 * Sources, in the order they are consulted:
 * 1. the `admin` role: everything;
 * 2. development mode (no key configured): everything, for everybody;
 * 3. a user's own status (`status.read` / `status.watch` on their own id): always;
 * 4. the `service` role: the configured service rights (default: everything);
 * 5. anonymous callers: the configured anonymous rights (default in production: none);
 *    authenticated users: the token's capability claim when it has one (exactly those rights),
 *    else the configured user defaults;
 * 6. the per-room role claim: the role's operations in the rooms its pattern matches;
 * 7. otherwise denied; `askHook` says whether the hook decides this operation.
 */
import type { Role } from "./identity.js";
import { resourceKindOf, roleFor, rightsAllow, rightsMention, type Operation, type RoleGrant, type RoleTable, type Rights } from "./rights.js";

/** Development: no key configured, everything allowed (said loudly at start). Production: a key is configured. */
export type AccessMode = "development" | "production";

/** The server's configured rules (from PRESENCE_* options). */
export interface AccessPolicy {
  readonly mode: AccessMode;
  /** Rights of authenticated users whose token has no capability claim. */
  readonly users: Rights;
  /** Rights of anonymous callers (no token). */
  readonly anonymous: Rights;
  /** Rights of callers with the `service` role. */
  readonly services: Rights;
  /** Role name → room operations, for per-room role claims. */
  readonly roles: RoleTable;
  /** Operations the authorization hook decides when the rules above do not allow them. */
  readonly hookOperations: ReadonlySet<Operation>;
}

/** What a caller's token says about its rights (parsed once, when the token is verified). */
export interface CallerGrants {
  /** The capability claim, when the token has one: the user's rights instead of the user defaults. */
  readonly capability?: Rights;
  /** The per-room role claim. */
  readonly roles: readonly RoleGrant[];
}

/** The parts of a caller the decision reads. */
export interface Principal {
  readonly role: Role;
  readonly subject: string;
  readonly grants?: CallerGrants;
}

/** Why an operation was allowed (for tests and debugging; never sent to clients). */
export type AllowSource = "admin" | "development" | "self" | "service" | "capability" | "defaults" | "role";

export type Decision = { readonly allowed: true; readonly source: AllowSource } | { readonly allowed: false; readonly askHook: boolean };

const allow = (source: AllowSource): Decision => ({ allowed: true, source });

/** The one decision function: may `caller` do `op` on `resource` (a room name, or a user id for `status.*`)? */
export function decide(policy: AccessPolicy, caller: Principal, op: Operation, resource: string): Decision {
  if (caller.role === "admin") return allow("admin");
  if (policy.mode === "development") return allow("development");
  const onUser = resourceKindOf(op) === "user";
  if (onUser && caller.role !== "anonymous" && resource === caller.subject) return allow("self");
  if (caller.role === "service") {
    if (rightsAllow(policy.services, op, resource)) return allow("service");
  } else if (caller.role === "anonymous") {
    if (rightsAllow(policy.anonymous, op, resource)) return allow("defaults");
  } else {
    const capability = caller.grants?.capability;
    if (rightsAllow(capability ?? policy.users, op, resource)) return allow(capability ? "capability" : "defaults");
  }
  if (!onUser && caller.grants && caller.grants.roles.length > 0) {
    const role = roleFor(caller.grants.roles, resource);
    if (role !== "" && policy.roles.get(role)?.has(op as never)) return allow("role");
  }
  return { allowed: false, askHook: policy.hookOperations.has(op) };
}

/**
 * Whether `caller` could be allowed `op` on some resource (other than their own status): false
 * means every such call is refused whatever it names, which the service says plainly (e.g.
 * STATUS_FORBIDDEN for a GetUserStatus by a caller without any status right) instead of answering
 * user by user.
 */
export function mayEver(policy: AccessPolicy, caller: Principal, op: Operation): boolean {
  if (caller.role === "admin" || policy.mode === "development" || policy.hookOperations.has(op)) return true;
  if (caller.role === "service") return rightsMention(policy.services, op);
  if (caller.role === "anonymous") return rightsMention(policy.anonymous, op);
  if (rightsMention(caller.grants?.capability ?? policy.users, op)) return true;
  if (resourceKindOf(op) === "user") return false;
  return (caller.grants?.roles ?? []).some((g) => policy.roles.get(g.role)?.has(op as never));
}

/** The caller's role name in `room` (shown on the member in room views); "" when none. */
export function memberRole(caller: Principal, room: string): string {
  return caller.grants ? roleFor(caller.grants.roles, room) : "";
}
