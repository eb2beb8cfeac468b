import { describe, expect, it } from "vitest";
import { createFakeClock } from "./fake-clock.js";
import { PresenceError } from "./presence-error.js";
import {
  admitJoin,
  canManageRoom,
  checkEndReason,
  checkRoomSettings,
  endManagedRoom,
  idleDeadline,
  isIdle,
  isTombstoned,
  newManagedRoom,
  updateManagedRoom,
  type RoomLimits,
} from "./room-lifecycle.js";

const limits: RoomLimits = { maxParticipants: 100_000, defaultIdleTimeoutMs: 86_400_000, tombstoneMs: 600_000 };
const errorOf = (fn: () => unknown): PresenceError | null => {
  try {
    fn();
  } catch (e) {
    if (e instanceof PresenceError) return e;
    throw e;
  }
  return null;
};

describe("managed rooms", () => {
  const clock = createFakeClock();
  const room = () => newManagedRoom("ops/42", "ana", { target: "10.0.0.1" }, { maxParticipants: 3, idleTimeoutMs: 0, awayAfterMs: 120_000 }, limits, clock.now());

  it("takes the default idle timeout when none is given", () => {
    expect(room().idleTimeoutMs).toBe(86_400_000);
  });

  it("admits exactly max participants; a second tab of a present participant always gets in", () => {
    const r = room();
    expect(errorOf(() => admitJoin(r, 2, true, clock.now()))).toBeNull();
    const full = errorOf(() => admitJoin(r, 3, true, clock.now()));
    expect(full).toMatchObject({ code: "resource_exhausted", reason: "ROOM_FULL", detail: { field: "room", limit: 3 } });
    expect(full!.message).toBe('room: "ops/42" is full (limit 3 participants)');
    expect(errorOf(() => admitJoin(r, 3, false, clock.now()))).toBeNull();
    expect(errorOf(() => admitJoin({ ...r, maxParticipants: 0 }, 10_000, true, clock.now()))).toBeNull();
    expect(errorOf(() => admitJoin(undefined, 10_000, true, clock.now()))).toBeNull(); // implicit rooms
  });

  it("an ended room refuses joins for the tombstone time, then the name is free", () => {
    const ended = endManagedRoom(room(), "ana", "done", limits, clock.now());
    expect(ended).toMatchObject({ status: "ended", endedBy: "ana", endReason: "done", tombstoneUntilMs: clock.now() + 600_000 });
    expect(endManagedRoom(ended, "bob", "again", limits, clock.now() + 5)).toBe(ended); // idempotent: first end kept
    expect(errorOf(() => admitJoin(ended, 0, true, clock.now()))).toMatchObject({ code: "failed_precondition", reason: "ROOM_ENDED" });
    clock.advance(599_999);
    expect(isTombstoned(ended, clock.now())).toBe(true);
    clock.advance(1);
    expect(isTombstoned(ended, clock.now())).toBe(false);
    expect(errorOf(() => admitJoin(ended, 0, true, clock.now()))).toBeNull();
    expect(errorOf(() => updateManagedRoom(ended, { maxParticipants: 9 }, limits))).toMatchObject({ reason: "ROOM_ENDED" });
  });

  it("is idle after its timeout without activity; activity moves the deadline", () => {
    const c = createFakeClock();
    const r = newManagedRoom("r", "ana", {}, { maxParticipants: 0, idleTimeoutMs: 60_000, awayAfterMs: 0 }, limits, c.now());
    c.advance(59_999);
    expect(isIdle(r, c.now())).toBe(false);
    const touched = { ...r, lastActivityMs: c.now() };
    c.advance(1);
    expect(isIdle(r, c.now())).toBe(true);
    expect(isIdle(touched, c.now())).toBe(false);
    expect(idleDeadline(touched)).toBe(touched.lastActivityMs + 60_000);
    expect(isIdle(endManagedRoom(r, "", "idle", limits, c.now()), c.now() + 1e9)).toBe(false);
  });

  it("owner and operators manage; other users and anonymous viewers do not", () => {
    const r = room();
    expect(canManageRoom({ role: "user", subject: "ana" }, r)).toBe(true);
    expect(canManageRoom({ role: "user", subject: "bob" }, r)).toBe(false);
    expect(canManageRoom({ role: "anonymous", subject: "" }, r)).toBe(false);
    expect(canManageRoom({ role: "service", subject: "backend" }, r)).toBe(true);
    expect(canManageRoom({ role: "admin", subject: "ops" }, undefined)).toBe(true);
    expect(canManageRoom({ role: "user", subject: "ana" }, undefined)).toBe(false);
  });

  it("updates only given fields; 0 idle timeout means the default again", () => {
    const u = updateManagedRoom(room(), { maxParticipants: 10, idleTimeoutMs: 0, metadata: { objective: "x" }, ownerUserId: "bob" }, limits);
    expect(u).toMatchObject({ maxParticipants: 10, idleTimeoutMs: 86_400_000, metadata: { objective: "x" }, ownerUserId: "bob", awayAfterMs: 120_000 });
  });

  it("validates settings and end reasons, naming the field and the limit", () => {
    expect(errorOf(() => checkRoomSettings({ maxParticipants: 100_001 }, limits))!.message).toBe("max_participants: must be at most 100000 participants (got 100001)");
    expect(errorOf(() => checkRoomSettings({ idleTimeoutMs: -1 }, limits))!.message).toMatch(/^idle_timeout_ms: must be from 0 to/);
    expect(errorOf(() => checkRoomSettings({ awayAfterMs: 999 }, limits))!.message).toMatch(/^away_after_ms: must be 0 \(server default\) or from 1000/);
    expect(errorOf(() => checkRoomSettings({ awayAfterMs: 0, maxParticipants: 0, idleTimeoutMs: 0 }, limits))).toBeNull();
    expect(errorOf(() => checkEndReason("x".repeat(129)))!.message).toBe("reason: must be at most 128 bytes (got 129)");
    expect(errorOf(() => checkEndReason("line\nbreak"))!.reason).toBe("INVALID_ARGUMENT");
  });
});
