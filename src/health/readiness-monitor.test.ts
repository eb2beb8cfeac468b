import { describe, expect, it } from "vitest";
import { createFakeClock } from "../core/fake-clock.js";
import { createReadinessMonitor, type ReadinessMonitorOptions } from "./readiness-monitor.js";

/** A check whose outcome the test sets; `pending` holds calls not settled yet. */
function controlledCheck() {
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let mode: "ok" | "fail" | "hang" = "ok";
  return {
    set: (m: typeof mode) => void (mode = m),
    pending,
    check: () =>
      mode === "ok" ? Promise.resolve() : mode === "fail" ? Promise.reject(new Error("redis down")) : new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
  };
}

/** Lets every pending promise chain run (the fake clock does not touch setImmediate). */
const flush = () => new Promise<void>((r) => setImmediate(r));

function monitor(check: () => Promise<void>, extra: Partial<ReadinessMonitorOptions> = {}) {
  const clock = createFakeClock();
  const results: boolean[] = [];
  const changes: boolean[] = [];
  const loopErrors: unknown[] = [];
  const m = createReadinessMonitor({
    check,
    clock,
    intervalMs: 100,
    timeoutMs: 50,
    onResult: (s) => results.push(s),
    onLoopError: (e) => loopErrors.push(e),
    ...extra,
  });
  m.onChange((s) => changes.push(s));
  return { m, clock, results, changes, loopErrors };
}

describe("readiness monitor", () => {
  it("is not serving before the first probe, follows the periodic probe, and tells listeners only changes", async () => {
    const c = controlledCheck();
    const { m, clock, results, changes } = monitor(c.check);
    expect(m.serving()).toBe(false);
    expect(m.current()).toEqual({ ok: false, detail: "not probed yet" });
    expect(await m.probe()).toEqual({ ok: true });
    clock.advance(100);
    await flush();
    c.set("fail");
    clock.advance(100);
    await flush();
    expect(m.current()).toEqual({ ok: false, detail: "redis down" });
    clock.advance(100);
    await flush();
    c.set("ok");
    clock.advance(100);
    await flush();
    expect(m.serving()).toBe(true);
    expect(results).toEqual([true, true, false, false, true]);
    expect(changes).toEqual([true, false, true]);
    m.close();
    expect(clock.pending()).toBe(0);
  });

  it("fails a probe that exceeds the timeout", async () => {
    const c = controlledCheck();
    const { m, clock } = monitor(c.check);
    c.set("hang");
    const slow = m.probe();
    clock.advance(50);
    expect(await slow).toEqual({ ok: false, detail: "readiness probe timed out after 50 ms" });
    c.set("ok");
    expect(await m.probe()).toEqual({ ok: true });
    c.pending.at(-1)!.reject(new Error("late failure")); // the timed-out check settling late changes nothing
    await flush();
    expect(m.serving()).toBe(true);
  });

  it("coalesces probes: callers while one is in flight share it (one store write however many /readyz)", async () => {
    const c = controlledCheck();
    let calls = 0;
    const { m, clock } = monitor(() => {
      calls++;
      return c.check();
    });
    c.set("hang");
    const many = Array.from({ length: 100 }, () => m.probe());
    await flush();
    expect(calls).toBe(1);
    c.pending[0]!.resolve();
    const answers = await Promise.all(many);
    expect(answers.every((a) => a.ok)).toBe(true);
    c.set("ok");
    await m.probe(); // the next one is a new probe
    expect(calls).toBe(2);
    clock.advance(100); // the background tick is a probe like any other
    await flush();
    expect(calls).toBe(3);
  });

  it("skips a tick while the previous background probe is still running", async () => {
    let calls = 0;
    const { clock } = monitor(() => {
      calls++;
      return new Promise<void>(() => {}); // never settles; the timeout ends it
    }, { timeoutMs: 250 });
    clock.advance(100); // t=100: probe 1 starts, times out at 350
    clock.advance(100); // t=200: skipped
    await flush();
    expect(calls).toBe(1);
    clock.advance(150); // t=300: skipped; t=350: probe 1 times out
    await flush();
    expect(calls).toBe(1);
    clock.advance(50); // t=400: probe 2
    await flush();
    expect(calls).toBe(2);
  });

  it("drain forces not serving for good and notifies listeners even when already not serving", async () => {
    const { m, changes, results } = monitor(() => Promise.resolve());
    await m.probe();
    m.drain();
    expect(m.serving()).toBe(false);
    expect(m.draining()).toBe(true);
    expect(await m.probe()).toEqual({ ok: false, detail: "draining" });
    expect(changes).toEqual([true, false]);
    expect(results.at(-1)).toBe(false);

    const failing = monitor(() => Promise.reject(new Error("down")));
    await failing.m.probe();
    failing.m.drain();
    failing.m.drain();
    expect(failing.changes).toEqual([false]);
  });

  it("counts a throwing listener as a loop error and still tells the others", async () => {
    const { m, changes, loopErrors } = monitor(() => Promise.resolve());
    const seen: boolean[] = [];
    m.onChange(() => {
      throw new Error("listener bug");
    });
    m.onChange((s) => seen.push(s));
    await m.probe();
    expect(changes).toEqual([true]);
    expect(seen).toEqual([true]);
    expect(loopErrors).toHaveLength(1);
  });
});
