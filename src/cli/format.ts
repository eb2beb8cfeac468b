import { formatAge } from "../core/node-id.js";
import { Activity, LeaveReason, UserState, type PresenceEvent, type RoomView, type UserStatus } from "../../gen/presence/v1/types_pb.js";
import type { WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";

/**
 * Human output of the CLI: aligned tables, times as local `HH:MM:SS.mmm` (tail) or ISO with an age
 * (last seen), one line per streamed event. `--json` output does not come through here.
 */

/** Left-aligned columns separated by two spaces; numeric columns (given by index) right-aligned. */
export function table(header: string[], rows: string[][], numeric: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.includes(i) ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

/** `2026-01-02T10:00:00Z (3 min 10 s ago)`, or `never`. */
export function seen(ms: number, nowMs: number): string {
  if (ms === 0) return "never";
  return `${new Date(ms).toISOString().replace(/\.\d+Z$/, "Z")} (${formatAge(nowMs - ms)} ago)`;
}

const activity = (a: Activity) => (a === Activity.AWAY ? "away" : "active");
const userState = (s: UserState) => (s === UserState.ONLINE ? "online" : s === UserState.AWAY ? "away" : "offline");
const reason = (r: LeaveReason) => (r === LeaveReason.KICKED ? "kicked" : r === LeaveReason.TIMEOUT ? "timeout" : "left");
const counts = (c: { users: number; connections: number; anonymous: number } | undefined) =>
  `users=${c?.users ?? 0} connections=${c?.connections ?? 0} anonymous=${c?.anonymous ?? 0}`;

/** A room view: header, counts, one row per user (connections listed), typing. */
export function roomView(v: RoomView): string {
  const out = [`room ${v.room}  epoch ${v.epoch || "-"}  version ${v.version}`, counts(v.counts)];
  if (v.users.length > 0) {
    const rows = v.users.map((u) => [
      u.user?.userId ?? "",
      u.user?.name ?? "",
      activity(u.activity),
      u.connections.map((c) => `${c.connectionId}${c.activity === Activity.AWAY ? " (away)" : ""}`).join(", "),
    ]);
    out.push("", table(["USER", "NAME", "ACTIVITY", "CONNECTIONS"], rows));
  } else if (v.membersOmitted) out.push("(members omitted: a large room)");
  if (v.typing.length > 0) out.push("", `typing: ${v.typing.map((t) => t.userId).join(", ")}`);
  return out.join("\n");
}

export function userStatuses(statuses: UserStatus[], nowMs: number): string {
  const rows = statuses.map((s) => [
    s.userId,
    userState(s.state) + (s.invisible ? " (invisible)" : ""),
    s.state === UserState.OFFLINE ? seen(Number(s.lastSeenMs), nowMs) : "now",
    s.customStatus,
  ]);
  return table(["USER", "STATE", "LAST SEEN", "CUSTOM STATUS"], rows);
}

function event(e: PresenceEvent): string {
  const head = `v${e.version}`;
  switch (e.kind.case) {
    case "joined": {
      const j = e.kind.value;
      return `${head}  joined   ${j.user?.userId} conn=${j.connection?.connectionId}${j.firstOfUser ? " first_of_user" : ""}  ${counts(e.counts)}`;
    }
    case "left": {
      const l = e.kind.value;
      return `${head}  left     ${l.userId} conn=${l.connectionId} reason=${reason(l.reason)}${l.lastOfUser ? " last_of_user" : ""}  ${counts(e.counts)}`;
    }
    case "updated": {
      const u = e.kind.value;
      return `${head}  updated  ${u.user?.userId} conn=${u.connection?.connectionId} activity=${activity(u.connection?.activity ?? Activity.ACTIVE)}  ${counts(e.counts)}`;
    }
    case "anonymous": {
      const a = e.kind.value;
      return `${head}  anonymous viewers${a.viewersDelta >= 0 ? "+" : ""}${a.viewersDelta} connections${a.connectionsDelta >= 0 ? "+" : ""}${a.connectionsDelta}  ${counts(e.counts)}`;
    }
    default:
      return `${head}  (unknown event)`;
  }
}

/**
 * One line for a streamed message, or null for messages not shown (keepalives, later snapshot
 * pages). `resync` marks a snapshot after the first: the server sent a fresh view (gap, epoch
 * change or overflow).
 */
export function watchLine(m: WatchPresenceResponse, nowMs: number, resync: boolean): string | null {
  const t = clock(nowMs);
  switch (m.message.case) {
    case "snapshot": {
      const s = m.message.value;
      if (!s.first) return null;
      const v = s.view;
      const users = v?.users.map((u) => u.user?.userId).join(", ") ?? "";
      return `${t}  ${resync ? "resync   fresh snapshot" : "snapshot"}  epoch=${v?.epoch || "-"} v${v?.version ?? 0}  ${counts(v?.counts)}${users ? `  [${users}]` : ""}`;
    }
    case "event":
      return `${t}  ${event(m.message.value)}`;
    case "typing": {
      const ty = m.message.value.state;
      return `${t}  typing   ${ty?.userId} ${ty?.typing ? `started (${Number(ty.expiresInMs)} ms)` : "stopped"}`;
    }
    case "cursors": {
      const c = m.message.value;
      return `${t}  cursors  ${c.cursors.length} moved${c.removedConnectionIds.length ? `, ${c.removedConnectionIds.length} removed` : ""}`;
    }
    case "counts":
      return `${t}  counts   v${m.message.value.version}  ${counts(m.message.value.counts)}`;
    default:
      return null;
  }
}
