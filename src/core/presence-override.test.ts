import { describe, expect, it } from "vitest";
import { overrideChanges, shownActivity, userStateOf } from "./presence-override.js";

describe("user state: most present session unless a manual status is set", () => {
  it("computes online > away > offline without an override", () => {
    expect(userStateOf(["away", "active"], "auto")).toBe("online");
    expect(userStateOf(["away", "away"], "auto")).toBe("away");
    expect(userStateOf([], "auto")).toBe("offline");
  });

  it("a manual away wins over an active device, a manual online over idle ones", () => {
    expect(userStateOf(["active", "active"], "away")).toBe("away");
    expect(userStateOf(["away"], "online")).toBe("online");
  });

  it("nobody is online or away without a session, whatever the override", () => {
    expect(userStateOf([], "online")).toBe("offline");
    expect(userStateOf([], "away")).toBe("offline");
  });

  it("connections show their own activity unless the user overrides it", () => {
    expect(shownActivity("active", "auto")).toBe("active");
    expect(shownActivity("active", "away")).toBe("away");
    expect(shownActivity("away", "online")).toBe("active");
  });

  it("lists exactly the connections whose shown activity changes (one updated event each)", () => {
    const sessions = [
      { id: "phone", activity: "active" as const },
      { id: "laptop", activity: "away" as const },
    ];
    expect(overrideChanges(sessions, "auto", "away").map((c) => c.session.id)).toEqual(["phone"]);
    expect(overrideChanges(sessions, "away", "auto").map((c) => [c.session.id, c.shown])).toEqual([["phone", "active"]]);
    expect(overrideChanges(sessions, "auto", "online").map((c) => [c.session.id, c.shown])).toEqual([["laptop", "active"]]);
    expect(overrideChanges(sessions, "away", "away")).toEqual([]);
  });
});
