import { describe, expect, it } from "vitest";
import { PresenceError } from "./presence-error.js";
import { checkPresenceRecord, mergePresence, presenceBytes, presenceFromObject, presenceToObject, samePresence } from "./typed-presence.js";

const limits = { maxBytes: 100, maxKeys: 4 };
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof PresenceError) return e;
    throw e;
  }
  return null;
};

describe("typed presence", () => {
  it("keeps each top-level value as JSON text and reads it back typed", () => {
    const r = presenceFromObject({ cell: "B7", editing: true, tool: { kind: "pen", size: 2 }, tags: [], n: null }, { maxBytes: 1_000, maxKeys: 8 });
    expect(r).toEqual({ cell: '"B7"', editing: "true", tool: '{"kind":"pen","size":2}', tags: "[]", n: "null" });
    expect(presenceToObject(r)).toEqual({ cell: "B7", editing: true, tool: { kind: "pen", size: 2 }, tags: [], n: null });
  });

  it("measures like metadata: key and JSON bytes plus 2 per key", () => {
    expect(presenceBytes({ a: '"é"' })).toBe(1 + 4 + 2);
  });

  it("merges top-level keys (null is a value), or replaces", () => {
    const cur = { a: "1", b: "2" };
    expect(mergePresence(cur, { b: "null", c: "3" }, false)).toEqual({ a: "1", b: "null", c: "3" });
    expect(mergePresence(cur, { c: "3" }, true)).toEqual({ c: "3" });
    expect(samePresence({ a: "1" }, { a: "1" })).toBe(true);
    expect(samePresence({ a: "1" }, { a: "2" })).toBe(false);
  });

  it("refuses over the byte or key limit with PRESENCE_TOO_LARGE naming the limit", () => {
    const big = errorOf(() => presenceFromObject({ text: "x".repeat(200) }, limits));
    expect(big).toMatchObject({ code: "resource_exhausted", reason: "PRESENCE_TOO_LARGE", detail: { field: "presence", limit: 100, actual: 208 } });
    expect(big!.message).toBe("presence: must be at most 100 bytes (got 208)");
    const keys = errorOf(() => presenceFromObject({ a: 1, b: 2, c: 3, d: 4, e: 5 }, limits));
    expect(keys!.message).toBe("presence: must be at most 4 keys (got 5)");
    expect(errorOf(() => checkPresenceRecord({ a: "1", b: "1", c: "1", d: "1", e: "1" }, limits))!.reason).toBe("PRESENCE_TOO_LARGE");
  });

  it("refuses empty or control-character keys and absurd nesting", () => {
    expect(errorOf(() => presenceFromObject({ "": 1 }, limits))!.message).toBe("presence key: must not be empty");
    expect(errorOf(() => presenceFromObject({ "a\u0000": 1 }, limits))!.reason).toBe("INVALID_ARGUMENT");
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = [deep];
    expect(errorOf(() => presenceFromObject({ d: deep as never }, { maxBytes: 10_000, maxKeys: 4 }))!.message).toMatch(/presence.d: must not nest deeper than 16 levels/);
  });
});
