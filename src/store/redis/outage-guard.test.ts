import { describe, expect, it } from "vitest";
import { createFakeClock } from "../../core/fake-clock.js";
import { createOutageGuard } from "./outage-guard.js";

// TTL 1,000, heartbeat 300, refresh 200: an outage is 700 ms without a successful write.
function guard() {
  const clock = createFakeClock();
  const recovered: [number, number][] = [];
  let mono = 5_000;
  const g = createOutageGuard({ clock, sessionTtlMs: 1_000, heartbeatIntervalMs: 300, nodeRefreshMs: 200, commandTimeoutMs: 250, monotonic: () => mono, onRecovered: (a, b) => recovered.push([a, b]) });
  return { clock, g, recovered, tick: (ms: number) => void (mono += ms) };
}

describe("outage guard (F-R3b)", () => {
  it("a blip shorter than TTL − max(heartbeat, refresh) never pauses the reaper; refreshes may revive during it", () => {
    const { clock, g, recovered } = guard();
    g.ok();
    clock.advance(100);
    g.failed();
    expect([g.reapPaused(), g.reviving()]).toEqual([false, true]);
    clock.advance(599); // 699 ms without a successful write
    expect(g.reapPaused()).toBe(false);
    g.ok();
    expect([g.reapPaused(), g.reviving(), recovered]).toEqual([false, false, []]);
  });

  it("an outage pauses the reaper from its threshold until one TTL after the first successful write", () => {
    const { clock, g, recovered } = guard();
    g.ok();
    g.failed();
    clock.advance(700);
    expect([g.reapPaused(), g.reviving()]).toEqual([true, true]);
    clock.advance(2_300);
    g.ok(); // 3 s without a write
    expect(recovered).toEqual([[3_000, 1_000]]);
    clock.advance(999);
    expect([g.reapPaused(), g.reviving()]).toEqual([true, true]);
    g.ok(); // later successes do not extend the window
    clock.advance(1);
    expect([g.reapPaused(), g.reviving()]).toEqual([false, false]);
  });

  it("claims carry a deadline in Redis time: unknown until an announce told the node Redis' clock, then its estimate plus the command timeout", () => {
    const { g, tick } = guard();
    expect(g.claimDeadline()).toBeNull();
    g.observeRedisTime(1_000_000);
    expect(g.claimDeadline()).toBe(1_000_250);
    tick(400); // the estimate follows the monotonic clock, not the wall clock
    expect(g.claimDeadline()).toBe(1_000_650);
  });

  it("failures without any success since start count from the start", () => {
    const { clock, g } = guard();
    clock.advance(800);
    g.failed();
    expect(g.reapPaused()).toBe(true);
  });
});
