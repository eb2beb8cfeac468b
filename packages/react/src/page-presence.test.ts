import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { PresenceUser, RoomViewState } from "@presence-platform/client";
import { initialsOf, PagePresence, PagePresenceAvatars, viewersLabel } from "./page-presence.js";
import type { PagePresenceState } from "./use-page-presence.js";
import { typingLabel } from "./use-typing.js";

const user = (userId: string, name: string, extra: Partial<PresenceUser> = {}): PresenceUser => ({
  userId,
  name,
  avatarUrl: "",
  metadata: {},
  activity: "active",
  connections: [],
  isSelf: false,
  ...extra,
});

function presenceOf(users: PresenceUser[], anonymousCount = 0, userCount = users.length): PagePresenceState {
  const view: RoomViewState = { room: "/doc", epoch: "e", version: 1, users, userCount, anonymousCount, connectionCount: userCount + anonymousCount, membersOmitted: false, typing: [], cursors: [] };
  return {
    room: null,
    view,
    users,
    userCount,
    anonymousCount,
    connectionCount: view.connectionCount,
    viewerCount: userCount + anonymousCount,
    connected: true,
    status: "connected",
    self: null,
    isUserHere: (id) => users.some((u) => u.userId === id),
  };
}

const html = (el: ReturnType<typeof createElement>) => renderToStaticMarkup(el);

describe("PagePresence", () => {
  it("counts everyone viewing, yourself and guests included", () => {
    expect(html(createElement(PagePresence, { presence: presenceOf([user("me", "Me", { isSelf: true })]) }))).toContain("You&#x27;re the only one here");
    expect(html(createElement(PagePresence, { presence: presenceOf([user("me", "Me", { isSelf: true }), user("ana", "Ana")], 1) }))).toContain("3 people viewing");
    expect(html(createElement(PagePresence, { presence: presenceOf([user("me", "Me")]), format: (n) => `${n} here` }))).toContain("1 here");
    expect(viewersLabel(2)).toBe("2 people viewing");
  });

  it("renders nothing before the first view", () => {
    const empty = { ...presenceOf([]), view: null };
    expect(html(createElement(PagePresence, { presence: empty }))).toBe("");
    expect(html(createElement(PagePresence, { client: null, room: "/doc" }))).toBe("");
  });
});

describe("PagePresenceAvatars", () => {
  it("shows maxDisplay avatars, then +N, then the guests", () => {
    const users = [user("me", "Me Myself", { isSelf: true }), user("ana", "Ana Lima", { avatarUrl: "https://example.com/ana.png" }), user("bob", "bob"), user("cy", "Cy")];
    const out = html(createElement(PagePresenceAvatars, { presence: presenceOf(users, 3), maxDisplay: 2 }));
    expect(out.match(/class="presence-avatar"/g)).toHaveLength(2);
    expect(out).toContain('title="Me Myself (you)"');
    expect(out).toContain(">MM</span>"); // initials fallback
    expect(out).toContain('<img class="presence-avatar" title="Ana Lima"');
    expect(out).toContain('src="https://example.com/ana.png"');
    expect(out).toContain(">+2</span>");
    expect(out).toContain("+ 3 guests");
  });

  it("counts unlisted users of a large room in +N and hides guests on request", () => {
    const out = html(createElement(PagePresenceAvatars, { presence: presenceOf([], 1, 1_200), showGuests: false }));
    expect(out).toContain(">+1200</span>");
    expect(out).not.toContain("guest");
  });

  it("marks away users", () => {
    const out = html(createElement(PagePresenceAvatars, { presence: presenceOf([user("ana", "Ana", { activity: "away" })]) }));
    expect(out).toContain('data-activity="away"');
    expect(out).toContain("opacity:0.5");
  });
});

describe("labels", () => {
  it("initials and typing wording", () => {
    expect(initialsOf("Ana Lima")).toBe("AL");
    expect(initialsOf("jean-luc picard")).toBe("JP");
    expect(initialsOf("bob")).toBe("B");
    expect(typingLabel([])).toBe("");
    expect(typingLabel([{ userId: "a", name: "Ana", isSelf: false }])).toBe("Ana is typing…");
    expect(typingLabel([{ userId: "a", name: "Ana", isSelf: false }, { userId: "b", name: "", isSelf: false }])).toBe("Ana and Someone are typing…");
    expect(typingLabel(["a", "b", "c"].map((userId) => ({ userId, name: userId, isSelf: false })))).toBe("3 people are typing…");
  });
});
