import { describe, expect, it } from "vitest";
import { durableChange, foldDurableStatus, isFlagged, type DurableUserStatus } from "./durable-status.js";
import type { UserStatusRecord } from "./user-status.js";

const rec = (over: Partial<UserStatusRecord> = {}): UserStatusRecord => ({ userId: "eve", state: "online", lastSeenMs: 0, visibleLastSeenMs: 0, customStatus: "", invisible: false, ...over });
const fold = (changes: DurableUserStatus[]) => changes.reduce<DurableUserStatus | undefined>((d, c) => foldDurableStatus(d, c), undefined)!;

describe("durable status (history's copy of users' statuses)", () => {
  it("a SetStatus sets what it set, stamped with its commit time; a session change sets no flags", () => {
    expect(durableChange(rec({ invisible: true, visibleLastSeenMs: 90 }), 100, { invisible: true })).toEqual({
      userId: "eve", lastSeenMs: 0, visibleLastSeenMs: 90, customStatus: "", invisible: true, updatedMs: 100, customStatusMs: 0, invisibleMs: 100,
    });
    expect(durableChange(rec({ customStatus: "x", lastSeenMs: 50, visibleLastSeenMs: 40 }), 100)).toMatchObject({ customStatusMs: 0, invisibleMs: 0, visibleLastSeenMs: 50 });
  });

  it("a blank record after a data loss never erases the flags; un-hiding right after is written through", () => {
    const hidden = fold([durableChange(rec({ lastSeenMs: 10, visibleLastSeenMs: 10 }), 10), durableChange(rec({ lastSeenMs: 10, invisible: true, visibleLastSeenMs: 20, customStatus: "secret" }), 20, { invisible: true, customStatus: "secret" })]);
    expect(hidden).toMatchObject({ invisible: true, customStatus: "secret", visibleLastSeenMs: 20 });
    // The store lost her record: its session commits carry a blank one (even a fresh last seen).
    const afterLoss = foldDurableStatus(hidden, durableChange(rec({ state: "offline", lastSeenMs: 500, visibleLastSeenMs: 500 }), 500));
    expect(afterLoss).toMatchObject({ invisible: true, customStatus: "secret", lastSeenMs: 500, visibleLastSeenMs: 20, updatedMs: 500 });
    // She turns visible before ever going offline: the SetStatus wins though the store saw no other change.
    const shown = foldDurableStatus(afterLoss, durableChange(rec({ lastSeenMs: 500 }), 600, { invisible: false }));
    expect(shown).toMatchObject({ invisible: false, customStatus: "secret", visibleLastSeenMs: 500, invisibleMs: 600 });
    expect(isFlagged(shown)).toBe(true);
    expect(isFlagged(foldDurableStatus(shown, durableChange(rec(), 700, { customStatus: "" })))).toBe(false);
  });

  it("an older SetStatus folded after a newer one changes nothing it set; last seen never goes back", () => {
    const newer = durableChange(rec({ customStatus: "b", lastSeenMs: 300 }), 300, { customStatus: "b" });
    const older = durableChange(rec({ customStatus: "a", lastSeenMs: 100 }), 100, { customStatus: "a" });
    expect(foldDurableStatus(newer, older)).toMatchObject({ customStatus: "b", customStatusMs: 300, lastSeenMs: 300, updatedMs: 300 });
  });

  it("folding is associative for changes in commit order (the queue coalesces, the database folds again)", () => {
    const changes = [
      durableChange(rec({ lastSeenMs: 5 }), 5),
      durableChange(rec({ invisible: true, visibleLastSeenMs: 8, lastSeenMs: 5 }), 8, { invisible: true }),
      durableChange(rec({ state: "offline", invisible: true, visibleLastSeenMs: 8, lastSeenMs: 12 }), 12),
      durableChange(rec({ customStatus: "hi", invisible: true, visibleLastSeenMs: 8, lastSeenMs: 12 }), 15, { customStatus: "hi" }),
      durableChange(rec({ state: "offline", lastSeenMs: 20, visibleLastSeenMs: 20 }), 20),
    ];
    for (let cut = 1; cut < changes.length; cut++) {
      const stored = fold(changes.slice(0, cut));
      const queued = fold(changes.slice(cut));
      expect(foldDurableStatus(stored, queued)).toEqual(fold(changes));
    }
  });
});
