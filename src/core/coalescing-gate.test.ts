import { describe, expect, it } from "vitest";
import { createCoalescingGate } from "./coalescing-gate.js";
import { createFakeClock } from "./fake-clock.js";

describe("coalescing gate", () => {
  it("applies within the rate and coalesces the excess to the last value", () => {
    const clock = createFakeClock();
    const gate = createCoalescingGate({ ratePerSec: 2, clock });
    const applied: number[] = [];
    const results = [1, 2, 3, 4, 5].map((v) => gate.submit("s", () => applied.push(v)));
    expect(results).toEqual(["applied", "applied", "coalesced", "coalesced", "coalesced"]);
    expect(applied).toEqual([1, 2]);
    clock.advance(500);
    expect(applied).toEqual([1, 2, 5]); // last value wins
    clock.advance(5_000);
    expect(applied).toEqual([1, 2, 5]);
    expect(gate.size()).toBe(0); // idle keys are forgotten
  });

  it("keys are independent and forget drops a waiting action", () => {
    const clock = createFakeClock();
    const gate = createCoalescingGate({ ratePerSec: 1, clock });
    const applied: string[] = [];
    gate.submit("a", () => applied.push("a1"));
    gate.submit("b", () => applied.push("b1"));
    gate.submit("a", () => applied.push("a2"));
    gate.forget("a");
    clock.advance(2_000);
    expect(applied).toEqual(["a1", "b1"]);
  });

  it("30/s lets through at most about 30 per second under a flood", () => {
    const clock = createFakeClock();
    const gate = createCoalescingGate({ ratePerSec: 30, clock });
    let applied = 0;
    for (let t = 0; t < 2_000; t += 5) {
      gate.submit("s", () => applied++);
      clock.advance(5);
    }
    expect(applied).toBeGreaterThanOrEqual(55);
    expect(applied).toBeLessThanOrEqual(91); // 30 burst + 30/s × 2 s + 1
  });
});
