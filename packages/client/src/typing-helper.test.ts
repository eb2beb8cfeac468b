import { describe, expect, it } from "vitest";
import { createFakeClock } from "../../../src/core/fake-clock.js";
import { createTypingHelper } from "./typing-helper.js";

const setup = () => {
  const clock = createFakeClock();
  const sent: boolean[] = [];
  const typing = createTypingHelper({ clock, send: (t) => sent.push(t), idleMs: 3_000, refreshMs: 2_000 });
  return { clock, sent, typing };
};

describe("typing helper", () => {
  it("sends true once for a burst of keystrokes, then false after the idle delay", () => {
    const { clock, sent, typing } = setup();
    for (let i = 0; i < 10; i++) {
      typing.start();
      clock.advance(100);
    }
    expect(sent).toEqual([true]);
    expect(typing.active).toBe(true);
    clock.advance(2_899);
    expect(sent).toEqual([true]);
    clock.advance(1); // 3 s after the last keystroke
    expect(sent).toEqual([true, false]);
    expect(typing.active).toBe(false);
  });

  it("refreshes while typing continues, so the server's 5 s TTL never lapses", () => {
    const { clock, sent, typing } = setup();
    for (let i = 0; i < 70; i++) {
      typing.start();
      clock.advance(100); // 7 s of steady typing
    }
    expect(sent).toEqual([true, true, true, true]); // at 0, 2, 4 and 6 s
  });

  it("stop() ends at once and only once", () => {
    const { clock, sent, typing } = setup();
    typing.stop();
    expect(sent).toEqual([]);
    typing.start();
    typing.stop();
    typing.stop();
    clock.advance(10_000);
    expect(sent).toEqual([true, false]);
    typing.start();
    expect(sent).toEqual([true, false, true]);
  });

  it("dispose() forgets without sending", () => {
    const { clock, sent, typing } = setup();
    typing.start();
    typing.dispose();
    clock.advance(10_000);
    expect(sent).toEqual([true]);
    expect(clock.pending()).toBe(0);
  });
});
