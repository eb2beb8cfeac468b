import { describe, expect, it } from "vitest";
import { createFakeClock } from "../../../src/core/fake-clock.js";
import { fakeDocument } from "../../../test/support/fake-presence-transport.js";
import { createVisibilityController, type VisibilityState } from "./visibility.js";

const setup = (initial: "visible" | "hidden" = "visible") => {
  const clock = createFakeClock();
  const document = fakeDocument(initial);
  const changes: VisibilityState[] = [];
  const v = createVisibilityController({ clock, document, onChange: (s) => changes.push(s) });
  v.start();
  return { clock, document, changes, v };
};

describe("visibility rules", () => {
  it("hidden 30 s → away; 5 min → disconnected; visible → active", () => {
    const { clock, document, changes, v } = setup();
    document.set("hidden");
    clock.advance(29_999);
    expect(changes).toEqual([]);
    clock.advance(1);
    expect(changes).toEqual(["away"]);
    clock.advance(270_000 - 1);
    expect(changes).toEqual(["away"]);
    clock.advance(1); // 5 min after hiding
    expect(changes).toEqual(["away", "disconnected"]);
    expect(v.state).toBe("disconnected");
    document.set("visible");
    expect(changes).toEqual(["away", "disconnected", "active"]);
  });

  it("a short hide changes nothing", () => {
    const { clock, document, changes } = setup();
    document.set("hidden");
    clock.advance(10_000);
    document.set("visible");
    clock.advance(600_000);
    expect(changes).toEqual([]);
  });

  it("visible after away is active again without a disconnect", () => {
    const { clock, document, changes } = setup();
    document.set("hidden");
    clock.advance(60_000);
    document.set("visible");
    clock.advance(600_000);
    expect(changes).toEqual(["away", "active"]);
  });

  it("a page that starts hidden starts the timers; stop() removes the listener and timers", () => {
    const { clock, document, changes, v } = setup("hidden");
    clock.advance(30_000);
    expect(changes).toEqual(["away"]);
    v.stop();
    expect(document.listeners).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it("is off without a document", () => {
    const clock = createFakeClock();
    const v = createVisibilityController({ clock, document: null, onChange: () => {} });
    v.start();
    expect(v.state).toBe("active");
    expect(clock.pending()).toBe(0);
  });
});
