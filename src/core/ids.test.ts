import { randomFillSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { base64url, createIdSource, pooledRandomBytes, uuidV4 } from "./ids.js";

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

describe("base64url", () => {
  it("equals Node's base64url encoding (no padding) for every length from 0 to 40 bytes", () => {
    for (let n = 0; n <= 40; n++) {
      const bytes = new Uint8Array(n);
      randomFillSync(bytes);
      expect(base64url(bytes), `${n} bytes`).toBe(Buffer.from(bytes).toString("base64url"));
    }
    expect(base64url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("-_-_");
  });
});

describe("uuidV4", () => {
  it("is the bytes in hex with the version 4 and RFC 4122 variant bits set, in the 8-4-4-4-12 layout", () => {
    const bytes = new Uint8Array(16);
    for (let k = 0; k < 200; k++) {
      randomFillSync(bytes);
      const id = uuidV4(bytes);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const hex = Buffer.from(bytes).toString("hex");
      const expected = hex.slice(0, 12) + (0x40 | (bytes[6]! & 0x0f)).toString(16) + hex.slice(14, 16) + (0x80 | (bytes[8]! & 0x3f)).toString(16) + hex.slice(18);
      expect(id.replaceAll("-", "")).toBe(expected);
    }
  });

  it("refuses fewer than 16 bytes", () => {
    expect(() => uuidV4(new Uint8Array(15))).toThrow(/16 random bytes, got 15/);
  });
});
