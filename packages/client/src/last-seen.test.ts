import { describe, expect, it } from "vitest";
import { formatAgo, formatLastSeen, nextLastSeenChangeMs } from "./last-seen.js";

const now = Date.UTC(2026, 2, 20, 12, 0, 0);

describe("last seen", () => {
  it("says online and away as they are, and how long ago an offline user was seen", () => {
    expect(formatLastSeen({ state: "online", lastSeenMs: now }, now)).toBe("online");
    expect(formatLastSeen({ state: "away", lastSeenMs: now }, now)).toBe("away");
    expect(formatLastSeen({ state: "offline", lastSeenMs: now - 5 * 60_000 }, now)).toBe("last seen 5 min ago");
    expect(formatLastSeen({ state: "offline", lastSeenMs: 0 }, now)).toBe("offline");
    expect(formatLastSeen({ state: "offline", lastSeenMs: 0 }, now, { never: "never seen" })).toBe("never seen");
  });

  it("steps from just now to minutes, hours, yesterday, days, then a date", () => {
    expect(formatAgo(now - 30_000, now)).toBe("just now");
    expect(formatAgo(now - 59 * 60_000, now)).toBe("59 min ago");
    expect(formatAgo(now - 3 * 3_600_000, now)).toBe("3 h ago");
    expect(formatAgo(now - 30 * 3_600_000, now)).toBe("yesterday");
    expect(formatAgo(now - 4 * 86_400_000, now)).toBe("4 days ago");
    expect(formatAgo(Date.UTC(2026, 2, 1), now)).toBe("on 1 Mar 2026");
    expect(formatAgo(now + 5_000, now)).toBe("just now"); // a server clock slightly ahead
  });

  it("localises through Intl when asked", () => {
    expect(formatAgo(now - 5 * 60_000, now, "en")).toBe("5 minutes ago");
    expect(formatAgo(now - 86_400_000, now, "fr")).toBe("hier");
  });

  it("tells when the wording changes next", () => {
    expect(nextLastSeenChangeMs(now - 90_000, now)).toBe(30_000);
    expect(nextLastSeenChangeMs(now - 2 * 3_600_000 - 60_000, now)).toBe(59 * 60_000);
  });
});
