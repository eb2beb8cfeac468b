import { describe, expect, it } from "vitest";
import { decide, mayEver, memberRole, type AccessPolicy, type Principal } from "./access-policy.js";
import { PresenceError } from "./presence-error.js";
import { DEFAULT_ROLES } from "../config/access-spec.js";
import { NO_RIGHTS, parseRights, parseRoleClaim, parseRoleTable, rightsAllow, roleFor, type Operation } from "./rights.js";

const rights = (v: unknown) => parseRights(v, "rights", 100);

const production = (over: Partial<AccessPolicy> = {}): AccessPolicy => ({
  mode: "production",
  users: rights({ "**": ["join", "watch", "read", "typing", "cursor"], "user:**": ["status.read", "status.watch"] }),
  anonymous: NO_RIGHTS,
  services: rights({ "**": ["*"], "user:**": ["*"] }),
  roles: parseRoleTable(DEFAULT_ROLES, "roles"),
  hookOperations: new Set(),
  ...over,
});

const anonymous: Principal = { role: "anonymous", subject: "" };
const user = (sub: string, grants?: Principal["grants"]): Principal => ({ role: "user", subject: sub, grants });
const allowed = (p: AccessPolicy, c: Principal, op: Operation, r: string) => decide(p, c, op, r).allowed;

describe("rights maps", () => {
  it("parse room and user patterns, with * as every operation of the kind", () => {
    const r = rights({ "/docs/*": ["join", "watch"], "user:team-*": ["status.read"], "room:user:lobby": ["*"] });
    expect(rightsAllow(r, "join", "/docs/intro")).toBe(true);
    expect(rightsAllow(r, "read", "/docs/intro")).toBe(false);
    expect(rightsAllow(r, "status.read", "team-ana")).toBe(true);
    expect(rightsAllow(r, "status.watch", "team-ana")).toBe(false);
    expect(rightsAllow(r, "status.read", "/docs/intro")).toBe(false);
    expect(rightsAllow(r, "kick", "user:lobby")).toBe(true); // room: prefix escapes a room named "user:…"
  });

  it("refuse malformed maps with a message naming the entry", () => {
    const bad: [unknown, RegExp][] = [
      [[], /^rights: must be a JSON object/],
      [{ "/a": "join" }, /^rights\["\/a"\]: must be an array/],
      [{ "/a": ["fly"] }, /unknown operation "fly"/],
      [{ "/a": ["status.read"] }, /acts on users: put it under a "user:" key/],
      [{ "user:x": ["join"] }, /acts on rooms/],
      [{ "": ["join"] }, /must not be empty/],
    ];
    for (const [value, message] of bad) {
      expect(() => rights(value)).toThrow(PresenceError);
      expect(() => rights(value)).toThrow(message);
    }
    expect(() => parseRights(Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`r${i}`, ["join"]])), "capability", 2)).toThrow(/at most 2 entries \(got 3\)/);
  });

  it("role claims: exact pattern first, then the most specific, then claim order", () => {
    const claim = parseRoleClaim({ "doc-*": "viewer", "doc-17": "commenter", "**": "guest", "doc-1*": "operator" }, "roles", 10);
    expect(roleFor(claim, "doc-17")).toBe("commenter");
    expect(roleFor(claim, "doc-18")).toBe("operator");
    expect(roleFor(claim, "doc-2")).toBe("viewer");
    expect(roleFor(claim, "/elsewhere")).toBe("guest");
    expect(roleFor([], "doc-17")).toBe("");
    expect(() => parseRoleClaim({ x: "not a role!" }, "roles", 10)).toThrow(/roles\["x"\]: must be a role name/);
    expect(() => parseRoleTable({ viewer: ["status.read"] }, "PRESENCE_ROLES")).toThrow(/is not a room operation/);
  });
});

describe("decide", () => {
  it("development mode allows everything, admin always everything", () => {
    const dev = production({ mode: "development" });
    expect(decide(dev, anonymous, "join", "/x")).toEqual({ allowed: true, source: "development" });
    expect(decide(production(), { role: "admin", subject: "ops" }, "kick", "/x")).toEqual({ allowed: true, source: "admin" });
  });

  it("production: anonymous callers have no rights unless configured", () => {
    for (const op of ["join", "watch", "read", "status.read"] as Operation[]) expect(allowed(production(), anonymous, op, op.startsWith("status") ? "ana" : "/x")).toBe(false);
    expect(mayEver(production(), anonymous, "watch")).toBe(false);
  });

  it("the page seed: anonymous viewers on public pages only", () => {
    const p = production({ anonymous: rights({ "/blog/**": ["join", "watch", "read"], "/": ["join", "watch", "read"] }) });
    expect(allowed(p, anonymous, "join", "/blog/2025/presence")).toBe(true);
    expect(allowed(p, anonymous, "watch", "/")).toBe(true);
    expect(allowed(p, anonymous, "join", "/account/settings")).toBe(false);
    expect(allowed(p, anonymous, "typing", "/blog/x")).toBe(false);
    expect(allowed(p, user("ana"), "join", "/account/settings")).toBe(true);
  });

  it("a capability claim replaces the user defaults; roles add to it per room", () => {
    const p = production();
    const capped = user("ana", { capability: rights({ "/docs/*": ["read"] }), roles: parseRoleClaim({ "/docs/plan": "commenter" }, "roles", 10) });
    expect(decide(p, capped, "read", "/docs/intro")).toEqual({ allowed: true, source: "capability" });
    expect(allowed(p, capped, "join", "/docs/intro")).toBe(false); // the defaults would have allowed it
    expect(decide(p, capped, "typing", "/docs/plan")).toEqual({ allowed: true, source: "role" });
    expect(allowed(p, capped, "kick", "/docs/plan")).toBe(false); // commenters do not kick
    expect(memberRole(capped, "/docs/plan")).toBe("commenter");
    expect(memberRole(capped, "/docs/intro")).toBe("");
  });

  it("the collaboration seed: viewer / commenter / operator roles with no other rights", () => {
    const p = production({ users: NO_RIGHTS });
    const roles = parseRoleClaim({ "op-1": "operator", "op-2": "commenter", "op-3": "viewer" }, "roles", 10);
    const ana = user("ana", { roles });
    const table: [string, Operation, boolean][] = [
      ["op-1", "kick", true],
      ["op-1", "audit", true],
      ["op-2", "cursor", true],
      ["op-2", "kick", false],
      ["op-3", "watch", true],
      ["op-3", "typing", false],
      ["op-4", "read", false],
    ];
    for (const [room, op, expected] of table) expect([room, op, allowed(p, ana, op, room)]).toEqual([room, op, expected]);
    expect(mayEver(p, ana, "kick")).toBe(true);
    expect(mayEver(p, user("bob", { roles: [] }), "join")).toBe(false);
  });

  it("status: everyone may see themself; the hook is asked for what the rules do not allow", () => {
    const p = production({ users: rights({ "**": ["join"] }), hookOperations: new Set<Operation>(["status.read", "status.watch"]) });
    expect(decide(p, user("ana"), "status.read", "ana")).toEqual({ allowed: true, source: "self" });
    expect(decide(p, user("ana"), "status.read", "bob")).toEqual({ allowed: false, askHook: true });
    expect(decide(p, user("ana"), "watch", "/x")).toEqual({ allowed: false, askHook: false });
    expect(mayEver(p, user("ana"), "status.watch")).toBe(true);
    expect(decide(p, anonymous, "status.read", "")).toEqual({ allowed: false, askHook: true }); // anonymous has no self
  });

  it("services get the configured service rights", () => {
    const p = production({ services: rights({ "/internal/**": ["*"] }) });
    const svc: Principal = { role: "service", subject: "backend" };
    expect(decide(p, svc, "watch", "/internal/queue")).toEqual({ allowed: true, source: "service" });
    expect(allowed(p, svc, "watch", "/public")).toBe(false);
  });
});
