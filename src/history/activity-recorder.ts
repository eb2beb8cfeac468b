import { createHash } from "node:crypto";
import type { ActivityRecord } from "../core/activity.js";
import type { Commit } from "../core/commit.js";
import { durableChange } from "../core/durable-status.js";
import type { DurableUserStatus } from "./history-store.js";

/**
 * Turns the store's commits on this node into activity rows (and durable user statuses), the only
 * way anything is recorded: from the commit feed of the node that committed (never from pub/sub,
 * where every node would see, and record, every event). Synchronous and cheap: it builds the row
 * and hands it to the write queue.
 *
 * Origin (remote address, user agent) is recorded on joins, leaves with reason `left`, status
 * changes and admin actions: the commits of one direct call. Updates and timeouts come from
 * batched heartbeats and reaps, which serve many clients at once, so they carry none.
 *
 * Keys: a membership event's key is derived from (room, epoch, version), unique in the store, so a
 * row written twice (a retried batch, or a recovery that writes it again) is stored once; other
 * rows get `<kind>:<node>:<boot>:<n>`, unique per process start.
 */
export interface ActivityRecorderOptions {
  nodeId: string;
  bootId: string;
  record(row: ActivityRecord): void;
  /** Durable user status written through on every status change (optional). */
  saveStatus?(status: DurableUserStatus): void;
  /** The origin of the call being committed (remote address and user agent), if known. */
  origin(): { remoteAddr: string; userAgent: string } | undefined;
}

/** The idempotency key of a membership event. */
export function membershipKey(room: string, epoch: string, version: number): string {
  return "m:" + createHash("sha256").update(room).update("\0").update(epoch).update("\0").update(String(version)).digest("base64url").slice(0, 32);
}

export function createActivityRecorder(o: ActivityRecorderOptions): (commit: Commit) => void {
  let n = 0;
  const base = (timeMs: number, nodeId: string, direct: boolean): Omit<ActivityRecord, "key" | "kind"> => {
    const origin = direct ? o.origin() : undefined;
    return {
      timeMs,
      room: "",
      userId: "",
      connectionId: "",
      reason: "",
      nodeId,
      remoteAddr: origin?.remoteAddr ?? "",
      userAgent: origin?.userAgent ?? "",
      epoch: "",
      version: 0,
      invisible: false,
      users: 0,
      connections: 0,
      anonymous: 0,
      detail: {},
    };
  };
  return (c) => {
    switch (c.type) {
      case "room_event": {
        const e = c.event;
        const direct = e.kind === "joined" || (e.kind === "left" && e.reason === "left");
        const row: ActivityRecord = {
          ...base(e.timeMs, c.nodeId, direct),
          key: membershipKey(e.room, e.epoch, e.version),
          kind: "join",
          room: e.room,
          epoch: e.epoch,
          version: e.version,
          users: e.counts.users,
          connections: e.counts.connections,
          anonymous: e.counts.anonymous,
        };
        switch (e.kind) {
          case "joined":
            o.record({ ...row, userId: e.user.userId, connectionId: e.member.connectionId, detail: { name: e.user.name, activity: e.member.activity, firstOfUser: e.firstOfUser } });
            return;
          case "left":
            o.record({ ...row, kind: "leave", userId: e.userId, connectionId: e.connectionId, reason: e.reason, detail: { lastOfUser: e.lastOfUser } });
            return;
          case "updated":
            o.record({ ...row, kind: "update", userId: e.user.userId, connectionId: e.member.connectionId, detail: { name: e.user.name, activity: e.member.activity } });
            return;
          case "anonymous":
            o.record({ ...row, kind: "anonymous", detail: { viewersDelta: e.viewersDelta, connectionsDelta: e.connectionsDelta } });
            return;
        }
        return;
      }
      case "user_status": {
        const s = c.status;
        o.record({
          ...base(c.timeMs, c.nodeId, true),
          key: `s:${o.nodeId}:${o.bootId}:${++n}`,
          kind: "status",
          userId: s.userId,
          reason: s.state,
          invisible: s.invisible,
          detail: { customStatus: s.customStatus, lastSeenMs: s.lastSeenMs },
        });
        o.saveStatus?.(durableChange(s, c.timeMs, c.settings));
        return;
      }
      case "admin_action": {
        const a = c.action;
        const row = { ...base(c.timeMs, c.nodeId, true), key: `a:${o.nodeId}:${o.bootId}:${++n}`, kind: "admin" as const, userId: a.actor };
        if (a.kind === "kick_session") o.record({ ...row, reason: "kick", connectionId: a.connectionId, detail: { target: a.connectionId, targetUserId: a.userId, roomsLeft: a.roomsLeft } });
        else o.record({ ...row, reason: "purge_node", detail: { target: a.nodeId, sessionsKicked: a.sessionsKicked, roomsLeft: a.roomsLeft } });
        return;
      }
    }
  };
}
