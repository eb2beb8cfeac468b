import type { Clock } from "../../../src/core/clock.js";
import type { CursorPosition } from "./types.js";

/**
 * This client's cursor in one room, throttled to animation frames: `update()` may be called on
 * every pointer event; only the latest position is sent, at most once per frame
 * (`requestAnimationFrame` when the platform has it, else every 16 ms), and never while the
 * previous send is still in flight (a slow link gets fewer, fresher positions instead of a queue).
 * The server coalesces above 30/s per session anyway (design §9).
 */

/** Schedules `fn` for the next frame; returns a cancel function. */
export type FrameScheduler = (fn: () => void) => () => void;

/** `requestAnimationFrame` if available (browsers), else a 16 ms timer of `clock`. */
export function defaultFrameScheduler(clock: Clock): FrameScheduler {
  const g = globalThis as { requestAnimationFrame?: (fn: () => void) => number; cancelAnimationFrame?: (id: number) => void };
  if (typeof g.requestAnimationFrame === "function" && typeof g.cancelAnimationFrame === "function") {
    const raf = g.requestAnimationFrame.bind(globalThis);
    const caf = g.cancelAnimationFrame.bind(globalThis);
    return (fn) => {
      const id = raf(fn);
      return () => caf(id);
    };
  }
  return (fn) => {
    const t = clock.setTimeout(fn, 16);
    return () => t.cancel();
  };
}

export interface CursorHelperOptions {
  send: (position: CursorPosition) => void | Promise<unknown>;
  schedule: FrameScheduler;
}

export interface CursorHelper {
  /** Sets the latest position; it is sent on the next frame. */
  update(position: CursorPosition): void;
  /** Drops a pending position (the room was left). */
  dispose(): void;
}

export function createCursorHelper(o: CursorHelperOptions): CursorHelper {
  let latest: CursorPosition | null = null;
  let cancelFrame: (() => void) | null = null;
  let inFlight = false;
  let disposed = false;

  const flush = () => {
    cancelFrame = null;
    if (latest === null || disposed) return;
    if (inFlight) return; // rescheduled when the send settles
    const p = latest;
    latest = null;
    let result: void | Promise<unknown>;
    try {
      result = o.send(p);
    } catch {
      result = undefined;
    }
    if (result && typeof (result as Promise<unknown>).then === "function") {
      inFlight = true;
      const settle = () => {
        inFlight = false;
        if (latest !== null && !cancelFrame && !disposed) cancelFrame = o.schedule(flush);
      };
      (result as Promise<unknown>).then(settle, settle);
    }
  };

  return {
    update(position) {
      if (disposed) return;
      latest = { ...position };
      if (!cancelFrame && !inFlight) cancelFrame = o.schedule(flush);
    },
    dispose() {
      disposed = true;
      latest = null;
      cancelFrame?.();
      cancelFrame = null;
    },
  };
}
