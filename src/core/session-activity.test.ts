import { describe, expect, it } from "vitest";
import { applyActivity, awayAt, effectiveActivity, heartbeatInput, mustWriteSignal, newSessionActivity, sweepActivity, type SessionActivity } from "./session-activity.js";
import { combineThresholds, sessionThreshold, parseScopeOverrides, scopeThreshold, type AwayPolicy } from "./away-policy.js";
import { createFakeClock } from "./fake-clock.js";

/** A session driven by a fake clock and an away sweep every `sweepMs`, recording what it publishes. */
function simulate(thresholdMs: number, sweepMs: number) {
  const clock = createFakeClock();
  let s: SessionActivity = newSessionActivity(clock.now());
  const published: { at: number; shown: string }[] = [];
  const record = (changed: string | null) => changed && published.push({ at: clock.now(), shown: changed });
  clock.setInterval(() => {
    const r = sweepActivity(s, thresholdMs, clock.now());
    s = r.next;
    record(r.changed);
  }, sweepMs);
  return {
    clock,
    published,
    state: () => s,
    input(input: "signal" | "away" | "keep") {
      const r = applyActivity(s, input, thresholdMs, clock.now());
      s = r.next;
      record(r.changed);
    },
  };
}

describe("server-decided away (fake clock)", () => {
  it("a silent session becomes away once, within one sweep of the threshold, and a signal brings it back at once", () => {
    const sim = simulate(120_000, 1_000);
    sim.clock.advance(119_000);
    expect(sim.state().shown).toBe("active");
    sim.clock.advance(1_000);
    expect(sim.published).toEqual([{ at: sim.clock.now(), shown: "away" }]);
    sim.clock.advance(600_000); // staying silent publishes nothing more
    expect(sim.published).toHaveLength(1);
    sim.input("signal");
    expect(sim.published.at(-1)).toEqual({ at: sim.clock.now(), shown: "active" });
    expect(sim.state().lastActiveMs).toBe(sim.clock.now());
  });

  it("signals before the threshold keep the session active (no event)", () => {
    const sim = simulate(60_000, 1_000);
    for (let i = 0; i < 10; i++) {
      sim.clock.advance(50_000);
      sim.input("signal");
    }
    expect(sim.published).toEqual([]);
  });

  it("a liveness heartbeat (UNSPECIFIED) is not a signal: the session still goes away", () => {
    const sim = simulate(60_000, 1_000);
    for (let i = 0; i < 4; i++) {
      sim.clock.advance(20_000);
      sim.input(heartbeatInput(undefined));
    }
    expect(sim.published.map((p) => p.shown)).toEqual(["away"]);
  });

  it("a reported away is immediate and lasts until a signal, whatever the threshold", () => {
    const sim = simulate(0, 1_000); // threshold 0: never away by silence
    sim.clock.advance(10_000_000);
    expect(sim.published).toEqual([]);
    sim.input(heartbeatInput("away"));
    expect(sim.published.map((p) => p.shown)).toEqual(["away"]);
    sim.input("keep");
    sim.clock.advance(5_000);
    expect(sim.state().shown).toBe("away");
    sim.input(heartbeatInput("active"));
    expect(sim.published.map((p) => p.shown)).toEqual(["away", "active"]);
  });

  it("a session joined as away stays away until its first signal", () => {
    const s = newSessionActivity(1_000, "away");
    expect(effectiveActivity(s, 60_000, 1_000)).toBe("away");
    expect(awayAt(s, 60_000)).toBe(Number.POSITIVE_INFINITY);
    expect(applyActivity(s, "signal", 60_000, 2_000).changed).toBe("active");
  });

  it("an activity stamp never goes backwards (a late signal from another node)", () => {
    const s = newSessionActivity(5_000);
    expect(applyActivity(s, "signal", 60_000, 4_000).next.lastActiveMs).toBe(5_000);
    expect(awayAt(s, 60_000)).toBe(65_000);
  });

  it("bounds shared-store writes to one per interval, except when the session shows away", () => {
    expect(mustWriteSignal(10_000, false, 5_000, 14_999)).toBe(false);
    expect(mustWriteSignal(10_000, false, 5_000, 15_000)).toBe(true);
    expect(mustWriteSignal(10_000, true, 5_000, 10_001)).toBe(true);
  });
});

describe("away thresholds: default, per-scope and per-room overrides", () => {
  const policy: AwayPolicy = { defaultMs: 300_000, scopeOverrides: parseScopeOverrides("zone:=600000, zone:vip=900000 ,org:=120000", 1_000, 86_400_000) };

  it("takes the longest matching scope prefix", () => {
    expect(scopeThreshold(policy, "zone:10")).toBe(600_000);
    expect(scopeThreshold(policy, "zone:vip-1")).toBe(900_000);
    expect(scopeThreshold(policy, "team:1")).toBeUndefined();
  });

  it("uses the smallest threshold of a session's scopes and managed rooms, else the default", () => {
    expect(sessionThreshold(policy, [], [])).toBe(300_000);
    expect(sessionThreshold(policy, ["team:1"], [0])).toBe(300_000); // room without its own value
    expect(sessionThreshold(policy, ["zone:10"], [])).toBe(600_000); // a scope may lengthen it
    expect(sessionThreshold(policy, ["zone:10", "org:100"], [])).toBe(120_000);
    expect(sessionThreshold(policy, ["zone:10"], [120_000, 0])).toBe(120_000); // a 2-min collaboration room
    expect(sessionThreshold(policy, [], [600_000])).toBe(300_000); // a room only shortens the default
    expect(sessionThreshold(policy, ["zone:10"], [400_000])).toBe(400_000); // … or a scope's longer value
  });

  it("treats 0 as never: a room's value applies in a never-away scope; never-away scopes do not hide the others", () => {
    const never: AwayPolicy = { defaultMs: 0, scopeOverrides: [["kiosk:", 0], ["org:", 120_000]] };
    expect(sessionThreshold(never, [], [])).toBe(0);
    expect(sessionThreshold(never, ["kiosk:1"], [])).toBe(0);
    expect(sessionThreshold(never, ["kiosk:1"], [60_000])).toBe(60_000);
    expect(sessionThreshold(never, ["kiosk:1", "org:1"], [])).toBe(120_000);
    expect(sessionThreshold(never, [], [0, 90_000, 30_000])).toBe(30_000);
    expect(combineThresholds(0, [])).toBe(0);
  });

  it("refuses malformed override lists, naming the entry", () => {
    expect(() => parseScopeOverrides("zone:", 1_000, 10_000)).toThrow(/entry "zone:" must be prefix=milliseconds/);
    expect(() => parseScopeOverrides("zone:=5", 1_000, 10_000)).toThrow(/0 or an integer from 1000 to 10000/);
    expect(parseScopeOverrides("zone:=0", 1_000, 10_000)).toEqual([["zone:", 0]]);
  });
});
