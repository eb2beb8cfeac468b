import { describe, expect, it } from "vitest";
import { PresenceError } from "./presence-error.js";
import { parseRoomName, roomFromUrl, utf8Length } from "./room-name.js";

const reasonOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof PresenceError ? `${e.code}/${e.reason}: ${e.message}` : String(e);
  }
  return "ok";
};

describe("room names", () => {
  it("accepts UTF-8 names up to the byte limit", () => {
    expect(parseRoomName("lobby", 256)).toBe("lobby");
    expect(parseRoomName("é".repeat(128), 256)).toHaveLength(128);
    expect(parseRoomName("🎉", 4)).toBe("🎉");
  });

  it("refuses empty, too long, control characters and invalid UTF-8, naming field and limit", () => {
    expect(reasonOf(() => parseRoomName("", 256))).toBe("invalid_argument/INVALID_ROOM: room: must not be empty");
    expect(reasonOf(() => parseRoomName("x".repeat(257), 256))).toBe("invalid_argument/INVALID_ROOM: room: must be at most 256 bytes (got 257)");
    expect(reasonOf(() => parseRoomName("é".repeat(129), 256))).toContain("(got 258)");
    expect(reasonOf(() => parseRoomName("a\nb", 256))).toContain("control characters (U+000A at index 1)");
    expect(reasonOf(() => parseRoomName("a\u0085", 256))).toContain("control characters");
    expect(reasonOf(() => parseRoomName("a\u007f", 256))).toContain("control characters");
    expect(reasonOf(() => parseRoomName("bad\ufffd", 256))).toContain("valid UTF-8");
    expect(reasonOf(() => parseRoomName("x\ud800y", 256))).toContain("unpaired surrogate");
    expect(reasonOf(() => parseRoomName("to", 256, "to_room"))).toBe("ok");
    expect(reasonOf(() => parseRoomName("", 256, "to_room"))).toContain("to_room:");
  });

  it("counts UTF-8 bytes", () => {
    expect(utf8Length("a")).toBe(1);
    expect(utf8Length("é")).toBe(2);
    expect(utf8Length("€")).toBe(3);
    expect(utf8Length("🎉")).toBe(4);
  });
});

describe("page URL → room", () => {
  it.each([
    ["/tournament/5/players", "/tournament/5/players"],
    ["/tournament/5/players/", "/tournament/5/players"],
    ["/tournament/5/players?tab=2#top", "/tournament/5/players"],
    ["/tournament/5/games", "/tournament/5/games"],
    ["/", "/"],
    ["", "/"],
    ["/?q=1", "/"],
    ["https://Example.com/docs/a/?x#y", "https://example.com/docs/a"],
    ["https://example.com", "https://example.com/"],
    ["https://example.com/", "https://example.com/"],
    ["/a//", "/a"],
  ])("%s → %s", (url, room) => {
    expect(roomFromUrl(url)).toBe(room);
  });

  it("keeps different paths apart", () => {
    expect(roomFromUrl("/tournament/5/players")).not.toBe(roomFromUrl("/tournament/5/games"));
  });
});
