import { randomFillSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { base64url, createIdSource, pooledRandomBytes } from "./ids.js";

describe("pooledRandomBytes", () => {
  it("refills the pool only when it runs out, and hands out every pool byte once, in order", () => {
    let fills = 0;
    let counter = 0;
    const take = pooledRandomBytes((into) => {
      fills++;
      for (let i = 0; i < into.length; i++) into[i] = counter++ & 0xff;
    }, 32);
    const a = take(18);
    const b = take(9);
    expect(fills).toBe(1);
    expect([...a]).toEqual(Array.from({ length: 18 }, (_, i) => i));
    expect([...b]).toEqual(Array.from({ length: 9 }, (_, i) => 18 + i));
    const c = take(18); // 27 + 18 > 32: a fresh pool, the 5 bytes left are skipped
    expect(fills).toBe(2);
    expect(c[0]).toBe(32);
  });

  it("returns copies: a later refill never changes what a caller kept", () => {
    const take = pooledRandomBytes((into) => randomFillSync(into), 16);
    const kept = take(16);
    const copy = [...kept];
    for (let i = 0; i < 10; i++) take(16);
    expect([...kept]).toEqual(copy);
  });

  it("serves requests larger than the pool with their own fill", () => {
    let fills = 0;
    const take = pooledRandomBytes((into) => {
      fills++;
      into.fill(7);
    }, 8);
    expect(take(20)).toHaveLength(20);
    expect(fills).toBe(1);
  });

  it("ids from a pooled source are distinct and of the documented size", () => {
    const ids = createIdSource(pooledRandomBytes((into) => randomFillSync(into)));
    const seen = new Set(Array.from({ length: 2_000 }, () => ids.sessionId()));
    expect(seen.size).toBe(2_000);
    expect(ids.sessionId()).toHaveLength(base64url(new Uint8Array(18)).length);
  });
});
