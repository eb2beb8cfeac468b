import type { Clock, TimerHandle } from "../../../src/core/clock.js";

/**
 * The page-presence rules of a browser tab (design §3): a tab hidden for `awayAfterMs` (30 s)
 * becomes `away` (the client reports AWAY and stops heartbeats); hidden for `disconnectAfterMs`
 * (5 min, counted from when it was hidden) it is `disconnected` (the client leaves its rooms and
 * closes its connection); visible again it is `active` at once (the client reports ACTIVE and
 * reconnects if it had disconnected). A short hide (switching tabs for a moment) changes nothing.
 *
 * Pure state machine over an injected clock and a document-like source of visibility, so it is
 * testable without a browser.
 */
export type VisibilityState = "active" | "away" | "disconnected";

/** The part of `document` this module uses. */
export interface VisibilityDocument {
  readonly visibilityState: string;
  addEventListener(type: "visibilitychange", fn: () => void): void;
  removeEventListener(type: "visibilitychange", fn: () => void): void;
}

export interface VisibilityOptions {
  /** Hidden this long → away. Default 30,000 ms. */
  awayAfterMs?: number | undefined;
  /** Hidden this long → disconnect. Default 300,000 ms. */
  disconnectAfterMs?: number | undefined;
  /** The document to observe; default `globalThis.document`; `null` turns the rules off. */
  document?: VisibilityDocument | null | undefined;
}

export const DEFAULT_VISIBILITY = { awayAfterMs: 30_000, disconnectAfterMs: 300_000 } as const;

export interface VisibilityController {
  readonly state: VisibilityState;
  /** True while the page is hidden (whatever the state). */
  readonly hidden: boolean;
  /** Starts observing; applies the current visibility at once. Idempotent. */
  start(): void;
  stop(): void;
}

export function createVisibilityController(
  o: VisibilityOptions & { clock: Clock; onChange: (state: VisibilityState, previous: VisibilityState) => void },
): VisibilityController {
  const doc = o.document === undefined ? defaultDocument() : o.document;
  const awayAfterMs = o.awayAfterMs ?? DEFAULT_VISIBILITY.awayAfterMs;
  const disconnectAfterMs = Math.max(awayAfterMs, o.disconnectAfterMs ?? DEFAULT_VISIBILITY.disconnectAfterMs);
  let state: VisibilityState = "active";
  let timers: TimerHandle[] = [];
  let started = false;

  const set = (next: VisibilityState) => {
    if (next === state) return;
    const previous = state;
    state = next;
    o.onChange(next, previous);
  };
  const cancel = () => {
    for (const t of timers) t.cancel();
    timers = [];
  };
  const isHidden = () => doc?.visibilityState === "hidden";
  const apply = () => {
    cancel();
    if (!isHidden()) {
      set("active");
      return;
    }
    timers = [o.clock.setTimeout(() => set("away"), awayAfterMs), o.clock.setTimeout(() => set("disconnected"), disconnectAfterMs)];
  };

  return {
    get state() {
      return state;
    },
    get hidden() {
      return isHidden();
    },
    start() {
      if (started || !doc) return;
      started = true;
      doc.addEventListener("visibilitychange", apply);
      apply();
    },
    stop() {
      if (!started || !doc) return;
      started = false;
      doc.removeEventListener("visibilitychange", apply);
      cancel();
    },
  };
}

function defaultDocument(): VisibilityDocument | null {
  const d = (globalThis as { document?: VisibilityDocument }).document;
  return d && typeof d.addEventListener === "function" ? d : null;
}
