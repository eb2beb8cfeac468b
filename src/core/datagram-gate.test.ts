import { describe, expect, it } from "vitest";
import { createDatagramGate } from "./datagram-gate.js";
import { createFakeClock } from "./fake-clock.js";

describe("UDP datagram gate: replay window, replays, per-session rate", () => {
  const opts = { replayWindowMs: 30_000, minIntervalMs: 10_000, maxSessions: 1_000 };

  it("accepts one datagram per session per interval, with strictly increasing timestamps", () => {
    const clock = createFakeClock();
    const g = createDatagramGate(opts);
    expect(g.check("s1", clock.now(), clock.now())).toBe("accepted");
    expect(g.check("s1", clock.now(), clock.now())).toBe("replay"); // an exact copy
    clock.advance(5_000);
    expect(g.check("s1", clock.now(), clock.now())).toBe("rate_limited");
    expect(g.check("s2", clock.now(), clock.now())).toBe("accepted"); // other sessions are independent
    clock.advance(5_000);
    expect(g.check("s1", clock.now(), clock.now())).toBe("accepted");
    expect(g.check("s1", clock.now() - 20_000, clock.now())).toBe("replay"); // older than the last accepted
  });

  it("refuses timestamps outside the window, in both directions", () => {
    const clock = createFakeClock();
    const g = createDatagramGate(opts);
    expect(g.check("s", clock.now() - 30_001, clock.now())).toBe("stale");
    expect(g.check("s", clock.now() + 30_001, clock.now())).toBe("stale");
    expect(g.check("s", Number.NaN, clock.now())).toBe("stale");
    expect(g.check("s", clock.now() + 30_000, clock.now())).toBe("accepted"); // a client clock ahead, within the window
  });

  it("a copy of an accepted datagram is never accepted again, even after its entry is forgotten", () => {
    const clock = createFakeClock();
    const g = createDatagramGate(opts);
    const ts = clock.now() + 29_000; // client clock ahead
    expect(g.check("s", ts, clock.now())).toBe("accepted");
    for (let t = 0; t < 200; t++) {
      clock.advance(1_000);
      g.check(`other-${t}`, clock.now(), clock.now()); // traffic that triggers eviction sweeps
      const v = g.check("s", ts, clock.now());
      expect(v === "replay" || v === "stale").toBe(true);
    }
  });

  it("keeps memory bounded: oldest sessions go first past the cap", () => {
    const clock = createFakeClock();
    const g = createDatagramGate({ ...opts, maxSessions: 100 });
    for (let i = 0; i < 1_000; i++) g.check(`s${i}`, clock.now(), clock.now());
    expect(g.size()).toBeLessThanOrEqual(100);
    expect(g.check("s999", clock.now(), clock.now())).toBe("replay"); // the newest are kept
    clock.advance(3_600_000);
    for (let i = 0; i < 1_024; i++) g.check(`late${i}`, clock.now(), clock.now());
    expect(g.size()).toBeLessThanOrEqual(100);
  });

  it("forget lets a session retry at once (its refresh failed)", () => {
    const clock = createFakeClock();
    const g = createDatagramGate(opts);
    g.check("s", clock.now(), clock.now());
    g.forget("s");
    clock.advance(1);
    expect(g.check("s", clock.now(), clock.now())).toBe("accepted");
  });
});
