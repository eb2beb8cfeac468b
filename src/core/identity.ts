/**
 * Who is calling and who a session belongs to. Identities come from a verified token (or its
 * absence, for anonymous viewers); the core never sees the token itself.
 */
import type { CallerGrants } from "./access-policy.js";
import type { CallerClass } from "./quota.js";

/** Public description of a user, as shown to other members. */
export interface UserInfo {
  userId: string;
  name: string;
  avatarUrl: string;
  metadata: Record<string, string>;
}

export type Role = "user" | "service" | "admin" | "anonymous";

/**
 * The authenticated caller of one request.
 * - `user`: acts for itself (`subject` = user id).
 * - `service` / `admin`: may act on behalf of any user, watch any room.
 * - `anonymous`: no token; counted in rooms, never listed; may not type or send cursors.
 */
export interface Caller {
  role: Role;
  /** JWT `sub`; empty for anonymous callers. */
  subject: string;
  /** Present for `user`, `service` and `admin` callers (from the token claims). */
  user?: UserInfo;
  /** Scopes the token lists (claim `scopes`, scopes.proto): a user's sessions carry them. */
  scopes?: readonly string[];
  /** Rights the token carries (capability and per-room role claims); absent for anonymous callers. */
  grants?: CallerGrants;
  /** When the caller's token expires (ms since the epoch); absent without a token or `exp`. */
  tokenExpiresAtMs?: number;
  /** Where the call comes from, set by the transport for every call (quotas, de-duplication scope). */
  origin?: CallerOrigin;
  /**
   * `u:<subject>` or `s:<subject>` (owner and quota key), made once where the caller is built from
   * a token (its copies share it): sessions, their quota entries and node bindings keep it, and a
   * fresh string for each was ~0.1 KB per idle connection. Absent: made on each use.
   */
  subjectKey?: string;
}

/** The connection a call arrived on. */
export interface CallerOrigin {
  /** The client's address (the socket's peer, or the first untrusted X-Forwarded-For hop behind a trusted proxy). */
  address: string;
  /** This node's id for the connection (unique per process and transport, e.g. `rpc:17`, `ws:42`). */
  connection: string;
}

/**
 * The caller of one call on one connection. Verified callers are cached and shared per token, so
 * the origin goes on a copy; the copy is frozen like the original.
 */
export function withOrigin(caller: Caller, origin: CallerOrigin): Caller {
  return Object.freeze({ ...caller, origin: Object.freeze(origin) });
}

/** Whose quota limits apply to the caller. Admins count as services. */
export function callerClassOf(caller: Caller): CallerClass {
  return caller.role === "anonymous" ? "anonymous" : caller.role === "user" ? "user" : "service";
}

/**
 * The key per-caller quotas count under: the user id, the service identity, or, for anonymous
 * callers, their remote address (the anonymous id is chosen by the client: a quota keyed by it
 * would bind nobody).
 */
export function quotaKeyOf(caller: Caller): string {
  if (caller.role === "anonymous") return `a:${caller.origin?.address ?? ""}`;
  return subjectKeyOf(caller);
}

/** `u:<subject>` or `s:<subject>`: the caller's own key when it carries one (`Caller.subjectKey`). */
function subjectKeyOf(caller: Caller): string {
  return caller.subjectKey ?? makeSubjectKey(caller.role, caller.subject);
}

/** The owner and quota key of a non-anonymous caller with `role` and `subject`. */
export function makeSubjectKey(role: Role, subject: string): string {
  return `${role === "user" ? "u" : "s"}:${subject}`;
}

/** What a member of a room is: a listed user, or an anonymous viewer (counted only). */
export type MemberIdentity =
  | { kind: "user"; user: UserInfo }
  | { kind: "anonymous"; anonymousId: string };

/**
 * The owner key stored on a session and compared on every session call. Anonymous sessions have an
 * empty owner: for them the session id alone is the capability (design §9).
 */
export function ownerKeyOf(caller: Caller): string {
  return caller.role === "anonymous" ? "" : subjectKeyOf(caller);
}

/**
 * The owner key of a call that proved possession of the session's own key instead of presenting
 * the owner's credential: a UDP heartbeat whose HMAC verified (udp.proto). Stores accept it as the
 * session's owner for a heartbeat. `ownerKeyOf` never returns it (it starts with a NUL).
 */
export const VERIFIED_BY_SESSION_KEY = "\u0000session-key";

/** The anonymous caller used when no credential is presented and anonymous access is on. */
export const ANONYMOUS: Caller = Object.freeze({ role: "anonymous", subject: "" }) as Caller;
