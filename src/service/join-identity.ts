/**
 * Who a Join makes a member: the caller's own user, the user a service acts for (`on_behalf_of`,
 * service and admin roles only, validated like any input), or an anonymous viewer with the
 * client's anonymous id or a new one. Client-chosen ids (request id, anonymous id) are short and
 * plain.
 */
import type { Caller, MemberIdentity } from "../core/identity.js";
import { invalidArgument, limitExceeded, PresenceError } from "../core/presence-error.js";
import { checkText, utf8Length } from "../core/room-name.js";
import type { JoinCommand } from "./presence-service.js";

const SHORT_ID = /^[A-Za-z0-9_-]+$/;

/** A client-chosen id: at most `maxBytes`, only A-Z, a-z, 0-9, '_' and '-' ("" passes: none given). */
export function checkShortId(value: string, field: string, maxBytes: number): string {
  const n = utf8Length(value);
  if (n > maxBytes) throw limitExceeded(field, maxBytes, n, "bytes", "INVALID_ARGUMENT");
  if (value !== "" && !SHORT_ID.test(value)) throw invalidArgument(field, "must contain only A-Z, a-z, 0-9, '_' and '-'");
  return value;
}

export function memberIdentityFor(
  caller: Caller,
  req: Pick<JoinCommand, "onBehalfOf" | "anonymousId">,
  d: { shortId: (value: string, field: string) => string; metadata: (m: Record<string, string>) => Record<string, string>; maxUserIdBytes: number; newAnonymousId: () => string },
): MemberIdentity {
  if (req.onBehalfOf) {
    if (caller.role !== "service" && caller.role !== "admin") {
      throw new PresenceError("PERMISSION_DENIED", "on_behalf_of: requires the service role", { field: "on_behalf_of" });
    }
    const u = req.onBehalfOf;
    if (u.userId === "") throw invalidArgument("on_behalf_of.user_id", "must not be empty");
    const idBytes = utf8Length(u.userId);
    if (idBytes > d.maxUserIdBytes) throw limitExceeded("on_behalf_of.user_id", d.maxUserIdBytes, idBytes, "bytes", "INVALID_ARGUMENT");
    checkText(u.userId, "on_behalf_of.user_id");
    checkText(u.name, "on_behalf_of.name");
    checkText(u.avatarUrl, "on_behalf_of.avatar_url");
    return { kind: "user", user: { ...u, metadata: d.metadata(u.metadata) } };
  }
  if (caller.role === "anonymous") return { kind: "anonymous", anonymousId: d.shortId(req.anonymousId, "anonymous_id") || d.newAnonymousId() };
  if (!caller.user) throw new PresenceError("INTERNAL", "caller without user");
  return { kind: "user", user: caller.user };
}
