import { BackendEventRules, type BackendEvent, type Candidate } from "../core/backend-events.js";
import type { Clock } from "../core/clock.js";
import type { RoomBroadcastMessage } from "../core/presence-event.js";
import type { BackendEventFeed, CommitFeed, RoomStore, UserStatusStore } from "../store/presence-store.js";

/**
 * Turns this node's commits (the store's commit feed: each commit reported once, by the node that
 * made it) into backend events for the webhook sink and the deployment's event feed (WatchEvents
 * streams on every node read it), with the rules of
 * core/backend-events.ts: arrivals at once, departures after the reconnect grace if the store still
 * shows them then. Never from pub/sub, so each event is announced by one node only.
 *
 * Confirmation reads: a departed member is absent from the room's view, a vacated room has no
 * connection, an offline user's status is offline. A failed read (store down) retries at the next
 * tick, for at most `maxConfirmDelayMs` past the due time; then the candidate is dropped and counted.
 * On drain, every pending candidate is confirmed at once (the node will not be there after the
 * grace), so a drained node loses nothing it committed.
 */
export interface BackendEventsOptions {
  feed: CommitFeed;
  rooms: Pick<RoomStore, "getView">;
  users: Pick<UserStatusStore, "getUserStatus">;
  clock: Clock;
  /** This node's id (part of broadcast event ids). */
  nodeId: string;
  graceMs: number;
  /** How often due candidates are confirmed. */
  tickMs: number;
  maxConfirmDelayMs: number;
  /** Receives every event at once (webhooks). */
  sink?(event: BackendEvent): void;
  /** The deployment's feed (WatchEvents): events are appended in batches every `flushMs`. */
  publish: Pick<BackendEventFeed, "appendBackendEvents">;
  retentionMs: number;
  flushMs: number;
  onError?(err: unknown): void;
  onDropped?(candidate: Candidate): void;
}

export interface BackendEvents {
  /** Announces a broadcast this node accepted (kind `broadcast`). */
  broadcast(message: RoomBroadcastMessage): void;
  /** Candidates waiting for their grace to pass. */
  pending(): number;
  /** Confirms every pending candidate now (shutdown), then stops. */
  drain(): Promise<void>;
}

export function createBackendEvents(o: BackendEventsOptions): BackendEvents {
  const rules = new BackendEventRules(o.graceMs);
  const retrying: Candidate[] = [];
  let stopped = false;
  let outbox: BackendEvent[] = [];
  let flushing: Promise<void> = Promise.resolve();
  const emit = (e: BackendEvent) => {
    o.sink?.(e);
    outbox.push(e);
  };
  /** Appends what waits to the feed, in order (one append at a time). */
  const flush = () => {
    if (outbox.length === 0) return flushing;
    const batch = outbox;
    outbox = [];
    flushing = flushing.then(() => o.publish.appendBackendEvents(batch, o.retentionMs)).catch((err: unknown) => o.onError?.(err));
    return flushing;
  };
  const flusher = o.clock.setInterval(() => void flush(), o.flushMs);

  const off = o.feed.onCommit((c) => {
    if (stopped) return;
    const derived = c.type === "room_event" ? rules.roomEvent(c.event) : c.type === "user_status" ? rules.userStatus(c.status, c.timeMs) : undefined;
    for (const e of derived?.now ?? []) emit(e);
  });

  const announce = (c: Candidate) => {
    emit(c.event);
    rules.announced(c);
  };
  const failed = (cs: Candidate[], err: unknown) => {
    o.onError?.(err);
    for (const c of cs) {
      if (o.clock.now() - c.dueMs < o.maxConfirmDelayMs) retrying.push(c);
      else o.onDropped?.(c);
    }
  };

  /**
   * Confirms due candidates with as few reads as possible: one view per room (members listed only
   * when a member's departure is among them) and one status read for all users.
   */
  async function confirm(batch: Candidate[]): Promise<void> {
    const byRoom = new Map<string, Candidate[]>();
    const users: Array<Candidate & { what: "user_offline" }> = [];
    for (const c of batch) {
      if (c.what === "user_offline") users.push(c);
      else byRoom.set(c.room, [...(byRoom.get(c.room) ?? []), c]);
    }
    const rooms = [...byRoom].map(async ([room, cs]) => {
      try {
        const v = await o.rooms.getView(room, { includeMembers: cs.some((c) => c.what === "member_removed") });
        for (const c of cs) {
          const holds = c.what === "member_removed" ? !v.users.some((u) => u.user.userId === c.userId) : v.counts.connections === 0;
          if (holds) announce(c);
        }
      } catch (err) {
        failed(cs, err);
      }
    });
    const statuses = (async () => {
      if (users.length === 0) return;
      try {
        const found = new Map((await o.users.getUserStatus([...new Set(users.map((c) => c.userId))])).map((s) => [s.userId, s]));
        for (const c of users) {
          const s = found.get(c.userId);
          if (s === undefined || s.state === "offline") announce(c);
        }
      } catch (err) {
        failed(users, err);
      }
    })();
    await Promise.all([...rooms, statuses]);
  }

  let ticking = false;
  const timer = o.clock.setInterval(() => {
    if (ticking) return;
    ticking = true;
    const due = retrying.splice(0).concat(rules.take(o.clock.now()));
    void confirm(due).finally(() => (ticking = false));
  }, o.tickMs);

  let broadcasts = 0;
  return {
    broadcast(m) {
      if (stopped) return;
      emit({ id: `${m.room}/broadcast/${m.timeMs}/${o.nodeId}/${++broadcasts}`, timeMs: m.timeMs, room: m.room, userId: m.userId, kind: "broadcast", broadcast: m });
    },
    pending: () => rules.pendingCount() + retrying.length,
    async drain() {
      stopped = true;
      off();
      timer.cancel();
      await confirm(retrying.splice(0).concat(rules.take(Number.POSITIVE_INFINITY)));
      flusher.cancel();
      await flush();
    },
  };
}
