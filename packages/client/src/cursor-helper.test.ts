import { describe, expect, it } from "vitest";
import { createFakeClock } from "../../../src/core/fake-clock.js";
import { createCursorHelper, defaultFrameScheduler, type FrameScheduler } from "./cursor-helper.js";
import type { CursorPosition } from "./types.js";

describe("cursor helper", () => {
  it("sends only the latest position, at most once per 16 ms frame without requestAnimationFrame", () => {
    const clock = createFakeClock();
    const sent: CursorPosition[] = [];
    const cursor = createCursorHelper({ send: (p) => void sent.push(p), schedule: defaultFrameScheduler(clock) });
    for (let i = 0; i < 100; i++) {
      cursor.update({ x: i, y: i });
      clock.advance(1); // 100 pointer events in 100 ms
    }
    clock.advance(16);
    expect(sent.length).toBeGreaterThanOrEqual(6);
    expect(sent.length).toBeLessThanOrEqual(7);
    expect(sent.at(-1)).toEqual({ x: 99, y: 99 });
    clock.advance(1_000);
    expect(sent.length).toBeLessThanOrEqual(7); // nothing new, nothing sent
  });

  it("uses the frame scheduler it is given (requestAnimationFrame in browsers)", () => {
    const frames: (() => void)[] = [];
    const raf: FrameScheduler = (fn) => {
      frames.push(fn);
      return () => frames.splice(frames.indexOf(fn), 1);
    };
    const sent: CursorPosition[] = [];
    const cursor = createCursorHelper({ send: (p) => void sent.push(p), schedule: raf });
    cursor.update({ x: 1, y: 1 });
    cursor.update({ x: 2, y: 2 });
    expect(frames).toHaveLength(1);
    frames.shift()!();
    expect(sent).toEqual([{ x: 2, y: 2 }]);
    cursor.update({ x: 3, y: 3 });
    cursor.dispose();
    expect(frames).toHaveLength(0);
    expect(sent).toHaveLength(1);
  });

  it("waits for a send in flight and then sends the freshest position", async () => {
    const frames: (() => void)[] = [];
    const raf: FrameScheduler = (fn) => (frames.push(fn), () => {});
    const sent: CursorPosition[] = [];
    let release = () => {};
    const cursor = createCursorHelper({
      send: (p) => {
        sent.push(p);
        return new Promise<void>((r) => (release = r));
      },
      schedule: raf,
    });
    cursor.update({ x: 1, y: 1 });
    frames.shift()!();
    cursor.update({ x: 2, y: 2 });
    cursor.update({ x: 3, y: 3 });
    expect(frames).toHaveLength(0); // nothing scheduled while the first send is in flight
    release();
    await Promise.resolve();
    await Promise.resolve();
    expect(frames).toHaveLength(1);
    frames.shift()!();
    expect(sent).toEqual([
      { x: 1, y: 1 },
      { x: 3, y: 3 },
    ]);
  });
});
