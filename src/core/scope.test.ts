import { describe, expect, it } from "vitest";
import {
  addScopeSession,
  checkAllowedScopes,
  checkQueryScopes,
  checkScopes,
  compareOnline,
  createScopeMembership,
  decodePageToken,
  encodePageToken,
  isAfter,
  pageSizeOf,
  removeScopeSession,
  scopeCountOf,
  shardOf,
  stampScopeUser,
  type OnlinePosition,
} from "./scope.js";
import { PresenceError } from "./presence-error.js";

const reasonOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof PresenceError ? `${e.code}/${e.reason}: ${e.message}` : String(e);
  }
  return "no error";
};

describe("scope names", () => {
  it("accepts zone/org style names and refuses the rest, naming the index", () => {
    expect(checkScopes(["zone:10", "org:100", "zone:10"], 8)).toEqual(["zone:10", "org:100"]);
    expect(reasonOf(() => checkScopes(["zone 10"], 8))).toMatch(/^invalid_argument\/INVALID_ARGUMENT: scopes\[0\]: must contain only/);
    expect(reasonOf(() => checkScopes([""], 8))).toMatch(/scopes\[0\]: must not be empty/);
    expect(reasonOf(() => checkScopes(["x".repeat(129)], 8))).toMatch(/scopes\[0\]: must be at most 128 bytes \(got 129\)/);
  });

  it("caps scopes per session with TOO_MANY_SCOPES and query lists with INVALID_ARGUMENT", () => {
    expect(reasonOf(() => checkScopes(["a", "b", "c"], 2))).toBe("resource_exhausted/TOO_MANY_SCOPES: scopes: must be at most 2 scopes per session (got 3)");
    expect(reasonOf(() => checkQueryScopes(["a", "b", "c"], 2))).toMatch(/^invalid_argument\/INVALID_ARGUMENT: scopes: must be at most 2 scopes/);
  });

  it("lets a user name only scopes of its token; services any", () => {
    expect(() => checkAllowedScopes(["zone:1"], ["zone:1", "org:2"])).not.toThrow();
    expect(reasonOf(() => checkAllowedScopes(["org:2", "zone:9"], ["org:2"]))).toMatch(/^permission_denied\/PERMISSION_DENIED: scopes\[1\]: scope "zone:9" is not in the caller's token/);
    expect(() => checkAllowedScopes(["anything"], null)).not.toThrow();
  });
});

describe("shards", () => {
  it("spreads 100,000 users evenly over 16 shards and always puts a user in the same one", () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 100_000; i++) counts[shardOf(`user-${i}`, 16)]++;
    for (const c of counts) expect(c).toBeGreaterThan(6_250 * 0.9);
    expect(shardOf("ana", 16)).toBe(shardOf("ana", 16));
  });
});

describe("online order and page tokens", () => {
  it("orders by last activity (most recent first), then user id", () => {
    const list: OnlinePosition[] = [
      { lastActiveMs: 5, userId: "b" },
      { lastActiveMs: 9, userId: "z" },
      { lastActiveMs: 5, userId: "a" },
    ];
    expect(list.sort(compareOnline).map((p) => p.userId)).toEqual(["z", "a", "b"]);
    expect(isAfter({ lastActiveMs: 5, userId: "b" }, { lastActiveMs: 5, userId: "a" })).toBe(true);
    expect(isAfter({ lastActiveMs: 9, userId: "b" }, { lastActiveMs: 5, userId: "a" })).toBe(false);
    expect(isAfter({ lastActiveMs: 1, userId: "x" }, null)).toBe(true);
  });

  it("round-trips tokens (ids with colons and non-ASCII) and refuses tokens of another list", () => {
    const p = { lastActiveMs: 1_700_000_000_123, userId: "org:ü:42" };
    const t = encodePageToken("o", p);
    expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken("o", t)).toEqual(p);
    expect(decodePageToken("o", "")).toBeNull();
    expect(reasonOf(() => decodePageToken("a", t))).toMatch(/page_token: is not a page token of this list/);
    expect(reasonOf(() => decodePageToken("o", "!!"))).toMatch(/page_token/);
    expect(reasonOf(() => decodePageToken("o", encodePageToken("o", p).slice(0, 5)))).toMatch(/page_token/);
  });

  it("validates page sizes: 0 is the default, above the maximum is refused naming it", () => {
    expect(pageSizeOf(0, 50, 1_000)).toBe(50);
    expect(pageSizeOf(7, 50, 1_000)).toBe(7);
    expect(reasonOf(() => pageSizeOf(1_001, 50, 1_000))).toMatch(/page_size: must be at most 1000 entries \(got 1001\)/);
  });
});

describe("scope membership", () => {
  it("counts a user once for several sessions, keeps the highest stamp, and leaves with the last session", () => {
    const m = createScopeMembership();
    expect(addScopeSession(m, "s1", "ana", 100)).toBe(true);
    expect(addScopeSession(m, "s2", "ana", 50)).toBe(false);
    expect(addScopeSession(m, "s2", "ana", 50)).toBe(false); // idempotent
    expect(addScopeSession(m, "s3", "bob", 70)).toBe(true);
    expect(scopeCountOf(m, "zone:1")).toEqual({ scope: "zone:1", users: 2, connections: 3 });
    expect(m.users.get("ana")!.lastActiveMs).toBe(100);
    expect(stampScopeUser(m, "ana", 90)).toBe(100);
    expect(m.users.get("ana")!.lastActiveMs).toBe(100); // never lowered
    stampScopeUser(m, "ana", 200);
    expect(m.users.get("ana")!.lastActiveMs).toBe(200);
    expect(removeScopeSession(m, "s1")).toBe(false);
    expect(removeScopeSession(m, "s1")).toBe(false); // idempotent
    expect(removeScopeSession(m, "s2")).toBe(true);
    expect(stampScopeUser(m, "ana", 300)).toBeNull();
    expect(scopeCountOf(m, "zone:1")).toEqual({ scope: "zone:1", users: 1, connections: 1 });
  });

  it("a keyset walk under churn never returns a user twice (stamps only grow)", () => {
    // Model of ListOnline over the membership: pages below the token, with users acting, leaving
    // and arriving between pages. The invariant of scopes.proto must hold for any interleaving.
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) % n);
    for (let round = 0; round < 50; round++) {
      const m = createScopeMembership();
      let now = 1_000;
      let nextUser = 0;
      for (let i = 0; i < 200; i++) addScopeSession(m, `s${nextUser}`, `u${nextUser++}`, now + rnd(500));
      const seen = new Set<string>();
      let token: OnlinePosition | null = null;
      for (;;) {
        const page = [...m.users.entries()]
          .map(([userId, u]) => ({ userId, lastActiveMs: u.lastActiveMs }))
          .filter((p) => isAfter(p, token))
          .sort(compareOnline)
          .slice(0, 17);
        for (const p of page) {
          expect(seen.has(p.userId)).toBe(false);
          seen.add(p.userId);
        }
        if (page.length < 17) break;
        token = page[page.length - 1]!;
        for (let c = 0; c < 10; c++) {
          now += rnd(50);
          const op = rnd(3);
          const ids = [...m.sessions.keys()];
          if (op === 0 && ids.length > 0) stampScopeUser(m, m.sessions.get(ids[rnd(ids.length)]!)!, now);
          else if (op === 1 && ids.length > 0) removeScopeSession(m, ids[rnd(ids.length)]!);
          else addScopeSession(m, `s${nextUser}`, `u${nextUser++}`, now);
        }
      }
    }
  });
});
