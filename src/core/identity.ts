/**
 * Who is calling and who a session belongs to. Identities come from a verified token (or its
 * absence, for anonymous viewers); the core never sees the token itself.
 */

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
  switch (caller.role) {
    case "anonymous":
      return "";
    case "user":
      return `u:${caller.subject}`;
    default:
      return `s:${caller.subject}`;
  }
}

/**
 * The owner key of a call that proved possession of the session's own key instead of presenting
 * the owner's credential: a UDP heartbeat whose HMAC verified (udp.proto). Stores accept it as the
 * session's owner for a heartbeat. `ownerKeyOf` never returns it (it starts with a NUL).
 */
export const VERIFIED_BY_SESSION_KEY = "\u0000session-key";

/** The anonymous caller used when no credential is presented and anonymous access is on. */
export const ANONYMOUS: Caller = Object.freeze({ role: "anonymous", subject: "" }) as Caller;
