import type { UserInfo } from "./identity.js";
import type { Counts, LeaveReason, Member, PresenceEvent, RoomBroadcastMessage } from "./presence-event.js";
import type { UserState, UserStatusRecord } from "./user-status.js";

/**
 * Backend events (webhooks, WatchEvents) derived from committed changes, pure. The kinds:
 * room occupied / vacated (first / last connection, anonymous viewers included), member added /
 * removed (a user's first / last connection in a room), user online / away / offline, broadcast.
 *
 * Flaps never fire: "removed", "vacated" and "offline" are only candidates when their change
 * commits; they fire `graceMs` later if the state still holds then (the caller re-reads the store,
 * `confirm`). A return inside the grace cancels the candidate and is not announced either (no
 * "added" after a suppressed "removed"). This node's candidates are known here; a return committed
 * on another node is caught by the re-read (no "removed"), but that node announces the return.
 *
 * Event ids are stable, so a redelivery carries the same id: room events are named by the commit's
 * (room, epoch, version) and kind, user events by (user, commit time, state).
 */
export type BackendEventKind = "room_occupied" | "room_vacated" | "member_added" | "member_removed" | "user_online" | "user_away" | "user_offline" | "broadcast";

export type BackendEventDetail =
  | { kind: "room_occupied"; counts: Counts }
  | { kind: "room_vacated" }
  | { kind: "member_added"; user: UserInfo; member: Member; counts: Counts }
  | { kind: "member_removed"; reason: LeaveReason; counts: Counts }
  | { kind: "user_online" | "user_away" | "user_offline"; status: UserStatusRecord }
  | { kind: "broadcast"; broadcast: RoomBroadcastMessage };

export type BackendEvent = { id: string; timeMs: number; room: string; userId: string } & BackendEventDetail;

/** A candidate that fires at `dueMs` if `confirm` says its state still holds. */
export type Candidate =
  | { what: "member_removed"; key: string; dueMs: number; event: BackendEvent; room: string; userId: string }
  | { what: "room_vacated"; key: string; dueMs: number; event: BackendEvent; room: string }
  | { what: "user_offline"; key: string; dueMs: number; event: BackendEvent; userId: string };

export interface Derived {
  /** Events to announce now. */
  now: BackendEvent[];
  /** Candidates to confirm after the grace. */
  later: Candidate[];
}

const roomId = (e: PresenceEvent, kind: string) => `${e.room}/${e.epoch}/${e.version}/${kind}`;
const memberKey = (room: string, userId: string) => `m\u0000${room}\u0000${userId}`;
const roomKey = (room: string) => `r\u0000${room}`;
const userKey = (userId: string) => `u\u0000${userId}`;

/**
 * The candidates waiting on this node, and the derivation of new commits against them. One per
 * node; `take(nowMs)` hands out the candidates that are due.
 */
export class BackendEventRules {
  private readonly pending = new Map<string, Candidate>();
  /** The last state announced per user on this node (suppresses repeats such as away → away). */
  private readonly userState = new Map<string, UserState>();

  constructor(private readonly graceMs: number) {}

  /** Events of one committed membership event. */
  roomEvent(e: PresenceEvent): Derived {
    const out: Derived = { now: [], later: [] };
    const arrived = e.kind === "joined" || (e.kind === "anonymous" && e.connectionsDelta > 0);
    const departed = e.kind === "left" || (e.kind === "anonymous" && e.connectionsDelta < 0);
    if (arrived && e.counts.connections === 1 && !this.cancel(roomKey(e.room))) {
      out.now.push({ id: roomId(e, "occupied"), timeMs: e.timeMs, room: e.room, userId: "", kind: "room_occupied", counts: e.counts });
    }
    if (e.kind === "joined" && e.firstOfUser && !this.cancel(memberKey(e.room, e.user.userId))) {
      out.now.push({ id: roomId(e, "added"), timeMs: e.timeMs, room: e.room, userId: e.user.userId, kind: "member_added", user: e.user, member: e.member, counts: e.counts });
    }
    if (e.kind === "left" && e.lastOfUser) {
      const event: BackendEvent = { id: roomId(e, "removed"), timeMs: e.timeMs, room: e.room, userId: e.userId, kind: "member_removed", reason: e.reason, counts: e.counts };
      out.later.push(this.hold({ what: "member_removed", key: memberKey(e.room, e.userId), dueMs: e.timeMs + this.graceMs, event, room: e.room, userId: e.userId }));
    }
    if (departed && e.counts.connections === 0) {
      const event: BackendEvent = { id: roomId(e, "vacated"), timeMs: e.timeMs, room: e.room, userId: "", kind: "room_vacated" };
      out.later.push(this.hold({ what: "room_vacated", key: roomKey(e.room), dueMs: e.timeMs + this.graceMs, event, room: e.room }));
    }
    return out;
  }

  /** Events of one committed user-status change (the real record, before visibility). */
  userStatus(s: UserStatusRecord, timeMs: number): Derived {
    const out: Derived = { now: [], later: [] };
    const kind = `user_${s.state}` as const;
    const event: BackendEvent = { id: `user/${s.userId}/${timeMs}/${s.state}`, timeMs, room: "", userId: s.userId, kind, status: s };
    if (s.state === "offline") {
      out.later.push(this.hold({ what: "user_offline", key: userKey(s.userId), dueMs: timeMs + this.graceMs, event, userId: s.userId }));
      return out;
    }
    const flapped = this.cancel(userKey(s.userId));
    if (flapped && this.userState.get(s.userId) === s.state) return out; // back as before: nothing happened
    if (this.userState.get(s.userId) !== s.state) {
      this.userState.set(s.userId, s.state);
      out.now.push(event);
    }
    return out;
  }

  /** Candidates due at `nowMs` (removed from the pending set; confirm each, then `announced`). */
  take(nowMs: number): Candidate[] {
    const due: Candidate[] = [];
    for (const [key, c] of this.pending) {
      if (c.dueMs <= nowMs) {
        due.push(c);
        this.pending.delete(key);
      }
    }
    return due;
  }

  /** Records that a confirmed candidate was announced (an offline user's next online is news). */
  announced(c: Candidate): void {
    if (c.what === "user_offline") this.userState.delete(c.userId); // absent = offline: the map holds only users seen online here
  }

  /** Candidates waiting (for metrics and tests). */
  pendingCount(): number {
    return this.pending.size;
  }

  private hold(c: Candidate): Candidate {
    this.pending.set(c.key, c);
    return c;
  }

  private cancel(key: string): boolean {
    return this.pending.delete(key);
  }
}
