import { describe, expect, it } from "vitest";
import { decodePageToken, encodePageToken, parseRoomPattern } from "./activity.js";

describe("ListActivity page tokens", () => {
  const t = { cursor: { timeMs: 1_795_424_400_000, seq: 42 }, sinceMs: 1_795_400_000_000, untilMs: 1_795_500_000_000 };

  it("round-trip for the query they were made for", () => {
    expect(decodePageToken(encodePageToken(t, "q1"), "q1")).toEqual(t);
  });

  it("refuse another query, malformed, oversized, other versions and impossible values", () => {
    const forge = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const good = { v: 1, t: 1, s: 1, a: 0, b: 10, q: "q1" };
    for (const token of [
      encodePageToken(t, "q2"),
      "",
      "not a token!",
      "x".repeat(600),
      Buffer.from("{").toString("base64url"),
      forge(null),
      forge([1, 2]),
      forge({ ...good, v: 2 }),
      forge({ ...good, s: -1 }),
      forge({ ...good, t: 1.5 }),
      forge({ ...good, a: 20 }), // until before since
      forge({ ...good, b: "10" }),
    ]) {
      expect(decodePageToken(token, "q1"), token).toBeUndefined();
    }
    expect(decodePageToken(forge(good), "q1")).toEqual({ cursor: { timeMs: 1, seq: 1 }, sinceMs: 0, untilMs: 10 });
  });
});

describe("room patterns", () => {
  it("a trailing * is a prefix; nothing else is a wildcard", () => {
    expect(parseRoomPattern("/docs/*")).toEqual({ prefix: "/docs/" });
    expect(parseRoomPattern("*")).toEqual({ prefix: "" });
    expect(parseRoomPattern("/a*b")).toEqual({ exact: "/a*b" });
    expect(parseRoomPattern("/docs/intro")).toEqual({ exact: "/docs/intro" });
  });
});
