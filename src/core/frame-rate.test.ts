import { describe, expect, it } from "vitest";
import { takeFrameToken, type FrameBucket } from "./frame-rate.js";

describe("per-socket frame rate (token bucket)", () => {
  it("allows a burst, then the refill rate, and never more than the burst after a pause", () => {
    const b: FrameBucket = { frameTokens: 5, frameTokensAtMs: 0 };
    const take = (now: number) => takeFrameToken(b, now, 10, 5);
    expect([1, 2, 3, 4, 5, 6].map(() => take(0))).toEqual([true, true, true, true, true, false]);
    expect(take(50)).toBe(false); // half a token
    expect(take(100)).toBe(true); // 10/s: one token per 100 ms
    expect(take(100)).toBe(false);
    // A long pause refills to the burst, not beyond.
    expect(Array.from({ length: 7 }, () => take(60_000)).filter(Boolean)).toHaveLength(5);
  });

  it("ignores a clock that goes backwards", () => {
    const b: FrameBucket = { frameTokens: 1, frameTokensAtMs: 1_000 };
    expect(takeFrameToken(b, 500, 10, 5)).toBe(true);
    expect(takeFrameToken(b, 600, 10, 5)).toBe(false);
    expect(b.frameTokensAtMs).toBe(1_000);
  });
});
