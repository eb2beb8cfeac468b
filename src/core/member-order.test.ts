import { describe, expect, it } from "vitest";
import type { UserPresence } from "./presence-event.js";
import { orderUsers, pageUsers } from "./member-order.js";

function user(id: string, conns: { joined: number; active?: number }[]): UserPresence {
  return {
    user: { userId: id, name: id, avatarUrl: "", metadata: {} },
    activity: "active",
    connections: conns.map((c, i) => ({
      connectionId: `${id}-${i}`,
      identity: { kind: "user", user: { userId: id, name: id, avatarUrl: "", metadata: {} } },
      metadata: {},
      activity: "active",
      joinedAtMs: c.joined,
      lastActiveMs: c.active,
    })),
  };
}

describe("member order and pages", () => {
  const users = [user("c", [{ joined: 30, active: 90 }]), user("a", [{ joined: 10, active: 20 }, { joined: 50, active: 95 }]), user("b", [{ joined: 10 }])];

  it("orders by first join (oldest first) or by last activity (most recent first), ties by user id", () => {
    expect(orderUsers(users, "joined").map((u) => u.user.userId)).toEqual(["a", "b", "c"]);
    expect(orderUsers(users, "last_active").map((u) => u.user.userId)).toEqual(["a", "c", "b"]);
  });

  it("pages with tokens until the last page, each user once", () => {
    const many = Array.from({ length: 25 }, (_, i) => user(`u${String(i).padStart(2, "0")}`, [{ joined: i % 5, active: 1_000 - i }]));
    for (const order of ["joined", "last_active"] as const) {
      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const p = pageUsers(many, order, 10, token);
        seen.push(...p.users.map((u) => u.user.userId));
        token = p.nextPageToken;
        pages++;
      } while (token !== "");
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(25);
      expect(seen).toEqual(orderUsers(many, order).map((u) => u.user.userId));
    }
  });

  it("a user who becomes active during a LAST_ACTIVE walk is not listed again", () => {
    const list = Array.from({ length: 6 }, (_, i) => user(`u${i}`, [{ joined: 0, active: 100 - i }]));
    const first = pageUsers(list, "last_active", 3, "");
    const moved = list.map((u) => (u.user.userId === "u1" ? user("u1", [{ joined: 0, active: 500 }]) : u));
    const second = pageUsers(moved, "last_active", 3, first.nextPageToken);
    expect(first.users.map((u) => u.user.userId)).toEqual(["u0", "u1", "u2"]);
    expect(second.users.map((u) => u.user.userId)).toEqual(["u3", "u4", "u5"]);
    expect(second.nextPageToken).toBe("");
  });

  it("refuses a token of the other order", () => {
    const t = pageUsers(users, "joined", 1, "").nextPageToken;
    expect(() => pageUsers(users, "last_active", 1, t)).toThrow(/page_token: is not a page token of this list/);
  });
});
