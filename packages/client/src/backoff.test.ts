import { describe, expect, it } from "vitest";
import { backoffDelay, createBackoff } from "./backoff.js";

describe("backoff", () => {
  it("doubles from baseMs up to capMs (no jitter)", () => {
    const delays = Array.from({ length: 8 }, (_, i) => backoffDelay(i, { baseMs: 1_000, capMs: 30_000, jitter: 0 }));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoffDelay(5_000, { jitter: 0 })).toBe(30_000); // 2^5000 overflows, the cap holds
  });

  it("randomises the jittered fraction of each delay", () => {
    expect(backoffDelay(2, { baseMs: 1_000, jitter: 0.5, random: () => 0 })).toBe(4_000);
    expect(backoffDelay(2, { baseMs: 1_000, jitter: 0.5, random: () => 0.999 })).toBe(2_002);
    expect(backoffDelay(2, { baseMs: 1_000, jitter: true, random: () => 0.5 })).toBe(2_000); // full jitter
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(3, { baseMs: 1_000 })));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) {
      expect(d).toBeGreaterThanOrEqual(4_000);
      expect(d).toBeLessThanOrEqual(8_000);
    }
  });

  it("counts attempts, gives up after maxAttempts, starts over after reset", () => {
    const b = createBackoff({ baseMs: 100, capMs: 1_000, jitter: 0, maxAttempts: 3 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, null]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it("defaults to 1 s doubling to 30 s with half jitter", () => {
    const b = createBackoff({ random: () => 0 });
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });
});
