import type { ActivityRecord } from "../../src/core/activity.js";

/**
 * Activity rows for history tests: builders with defaults, and a scripted day in one room whose
 * statistics are computed by hand in the tests (history-store.contract.ts).
 */

export const H = 3_600_000;
export const MIN = 60_000;
/** 2026-11-23T00:00:00Z. */
export const DAY = Date.UTC(2026, 10, 23);

export function row(over: Partial<ActivityRecord> & Pick<ActivityRecord, "key" | "timeMs" | "kind">): ActivityRecord {
  return {
    room: "",
    userId: "",
    connectionId: "",
    reason: "",
    nodeId: "node-a",
    remoteAddr: "",
    userAgent: "",
    epoch: "",
    version: 0,
    invisible: false,
    users: 0,
    connections: 0,
    anonymous: 0,
    detail: {},
    ...over,
  };
}

/** A membership event of `room` at (epoch, version) with the counts after it. */
export function member(
  room: string,
  epoch: string,
  version: number,
  timeMs: number,
  kind: "join" | "leave" | "update",
  userId: string,
  connectionId: string,
  counts: [users: number, connections: number, anonymous: number],
  over: Partial<ActivityRecord> = {},
): ActivityRecord {
  return row({
    key: `m:${room}:${epoch}:${version}`,
    timeMs,
    kind,
    room,
    userId,
    connectionId,
    epoch,
    version,
    reason: kind === "leave" ? "left" : "",
    users: counts[0],
    connections: counts[1],
    anonymous: counts[2],
    detail: kind === "join" ? { name: userId.toUpperCase() } : {},
    ...over,
  });
}

/** An anonymous arrival (+1) or departure (-1), as counts only. */
export function anonymous(room: string, epoch: string, version: number, timeMs: number, delta: 1 | -1, counts: [number, number, number]): ActivityRecord {
  return row({
    key: `m:${room}:${epoch}:${version}`,
    timeMs,
    kind: "anonymous",
    room,
    epoch,
    version,
    users: counts[0],
    connections: counts[1],
    anonymous: counts[2],
    detail: { viewersDelta: delta, connectionsDelta: delta },
  });
}

/**
 * The scripted day in room `/doc/1`, epoch `e1` (times on DAY, UTC):
 *   09:00 ana joins (c1)          users 1, connections 1
 *   09:30 bob joins (c2)          2, 2
 *   09:45 an anonymous viewer     2, 3, anonymous 1
 *   10:00 ana leaves (c1)         1, 2, 1
 *   10:15 ana joins again (c3)    2, 3, 1
 *   10:20 the viewer leaves       2, 2, 0
 *   11:00 bob times out (c2)      1, 1
 *   12:00 ana leaves (c3)         0, 0
 * Plus noise the statistics must ignore: another room, a status change, an admin action.
 */
export function scriptedDay(room = "/doc/1"): ActivityRecord[] {
  const at = (h: number, m: number) => DAY + h * H + m * MIN;
  return [
    member(room, "e1", 1, at(9, 0), "join", "ana", "c1", [1, 1, 0]),
    member(room, "e1", 2, at(9, 30), "join", "bob", "c2", [2, 2, 0]),
    anonymous(room, "e1", 3, at(9, 45), 1, [2, 3, 1]),
    member(room, "e1", 4, at(10, 0), "leave", "ana", "c1", [1, 2, 1]),
    member(room, "e1", 5, at(10, 15), "join", "ana", "c3", [2, 3, 1]),
    anonymous(room, "e1", 6, at(10, 20), -1, [2, 2, 0]),
    member(room, "e1", 7, at(11, 0), "leave", "bob", "c2", [1, 1, 0], { reason: "timeout" }),
    member(room, "e1", 8, at(12, 0), "leave", "ana", "c3", [0, 0, 0]),
    member("/doc/2", "x1", 1, at(9, 50), "join", "cy", "c9", [1, 1, 0]),
    row({ key: "s:1", timeMs: at(9, 1), kind: "status", userId: "ana", reason: "online" }),
    row({ key: "a:1", timeMs: at(10, 30), kind: "admin", userId: "ops", reason: "kick", detail: { target: "c2" } }),
  ];
}
