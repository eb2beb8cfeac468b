import { describe, expect, it } from "vitest";
import { createQuotaLedger } from "./quota.js";

describe("quota ledger", () => {
  it("held quotas: taken up to the limit, given back, forgotten at zero", () => {
    const l = createQuotaLedger({ maxTrackedCallers: 100 });
    expect(l.hold("u:ana", "watches", 2, 3)).toBeNull();
    expect(l.hold("u:ana", "watches", 1, 3)).toBeNull();
    expect(l.hold("u:ana", "watches", 1, 3)).toEqual({ quota: "watches", limit: 3, actual: 4, retryAfterMs: 0 });
    expect(l.hold("u:bob", "watches", 3, 3)).toBeNull(); // per caller
    l.release("u:ana", "watches", 2);
    expect(l.held("u:ana", "watches")).toBe(1);
    l.release("u:ana", "watches", 1);
    expect(l.size().watches).toBe(1); // ana forgotten, bob holds 3
    expect(l.hold("u:ana", "watched_user_ids", 10, 5)?.actual).toBe(10); // one call over the limit at once
  });

  it("rates: a token bucket with a burst, refilled over time, with the time to wait", () => {
    const l = createQuotaLedger({ maxTrackedCallers: 100 });
    let now = 1_000;
    const take = () => l.take("a:10.0.0.1", "requests_per_second", 1, 10, 3, now);
    expect([take(), take(), take()]).toEqual([null, null, null]);
    expect(take()).toEqual({ quota: "requests_per_second", limit: 10, actual: 1, retryAfterMs: 100 });
    now += 100; // one token back
    expect(take()).toBeNull();
    expect(take()?.retryAfterMs).toBe(100);
    now += 10_000; // refilled to the burst, never more
    expect(l.tokens("a:10.0.0.1", "requests_per_second", 10, 3, now)).toBe(3);
    expect(l.tokens("a:other", "requests_per_second", 10, 3, now)).toBe(3); // unknown caller: a full bucket
  });

  it("new rooms per minute: the limit reported is the per-minute number", () => {
    const l = createQuotaLedger({ maxTrackedCallers: 100 });
    const perMinute = 2;
    expect(l.take("u:ana", "new_rooms_per_minute", 1, perMinute / 60, perMinute, 0)).toBeNull();
    expect(l.take("u:ana", "new_rooms_per_minute", 1, perMinute / 60, perMinute, 0)).toBeNull();
    const refused = l.take("u:ana", "new_rooms_per_minute", 1, perMinute / 60, perMinute, 0);
    expect(refused).toEqual({ quota: "new_rooms_per_minute", limit: 2, actual: 1, retryAfterMs: 30_000 });
  });

  it("keeps at most maxTrackedCallers buckets: refilled ones go first, else the least recently used", () => {
    const l = createQuotaLedger({ maxTrackedCallers: 3 });
    for (const k of ["a", "b", "c"]) l.take(k, "requests_per_second", 1, 1, 1, 0); // all empty
    l.take("a", "requests_per_second", 1, 1, 1, 500); // still empty, now most recent
    l.take("d", "requests_per_second", 1, 1, 1, 500); // evicts b (least recently used)
    expect(l.size().requests_per_second).toBe(3);
    expect(l.tokens("b", "requests_per_second", 1, 1, 500)).toBe(1); // forgotten: a full bucket again
    expect(l.tokens("a", "requests_per_second", 1, 1, 500)).toBeLessThan(1);
    // Once refilled, buckets are forgotten before any that still count.
    l.take("e", "requests_per_second", 1, 1, 1, 5_000);
    expect(l.size().requests_per_second).toBeLessThanOrEqual(3);
  });
});
