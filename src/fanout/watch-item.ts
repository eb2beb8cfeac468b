import type { Counts, CursorBatch, Position, PresenceEvent, RoomBroadcastMessage, RoomEndedInfo, RoomView, TypingEvent } from "../core/presence-event.js";
import { orderUsers, type MemberOrder } from "../core/member-order.js";

/** What a watch of a room asks for and yields (the fan-out hub's public types; see fanout-hub.ts). */

export type Detail = "full" | "counts";

/** What a watch stream yields, in order. */
export type WatchItem =
  | { type: "snapshot"; view: RoomView; first: boolean; last: boolean }
  | { type: "event"; event: PresenceEvent }
  | { type: "counts"; room: string; epoch: string; version: number; counts: Counts }
  | { type: "keepalive"; timeMs: number }
  | { type: "typing"; typing: TypingEvent }
  | { type: "cursors"; batch: CursorBatch }
  /** The room ended (rooms.proto): the last item of the watch, after the members' `left` events. */
  | { type: "ended"; ended: RoomEndedInfo }
  | { type: "broadcast"; broadcast: RoomBroadcastMessage };

/**
 * Why a watcher got a fresh snapshot: `overflow` (its reader fell behind by a whole queue),
 * `burst` (one flush carried more items than a queue holds for a reader that was keeping up: one
 * snapshot is cheaper than the burst), `gap` / `epoch` (continuity broken), `resume_miss` (the
 * resume position is no longer in the log).
 */
export type ResyncReason = "overflow" | "burst" | "gap" | "epoch" | "resume_miss" | "reconnect" | "position" | "rollback";

/** Hooks for metrics; all optional. `transport` is the watch's {@link WatchOptions.transport}. */
export interface FanoutObserver {
  delivered?(kind: string): void;
  overflow?(transport: string): void;
  /** A live membership event was handed to the reader, `seconds` after its commit time (`timeMs`). */
  latency?(transport: string, seconds: number): void;
  resync?(reason: ResyncReason): void;
  /**
   * A live event repeated a version of the room's epoch with another commit (or came from before
   * the oldest one remembered): the store may have lost commits, so the room gets a new epoch.
   */
  rollback?(room: string, detail: { epoch: string; version: number; kind: string; fingerprint: string; seen: string | null; lastVersion: number; oldestRemembered: number | null }): void;
  stalled?(): void;
  error?(err: unknown): void;
}

export interface WatchOptions {
  detail: Detail;
  /** Who reads the watch, for metrics only (for example `connect`, `ws`). Default `connect`. */
  transport?: string;
  resumeFrom?: Position;
  /** Aborting removes the watcher at once (cleanup does not wait for the generator). */
  signal: AbortSignal;
  /** Called when the reader has not pulled for `watcherStallMs`; the transport resets the stream. */
  onStall?: () => void;
  /** Order of the users across snapshot pages (types.proto MemberOrder). Default "joined". */
  order?: MemberOrder;
  /** Users per snapshot page, at most (and by default) `limits.snapshotPageSize`. */
  snapshotPageSize?: number;
}

/** A view as snapshot items: pages of at most `pageSize` users in `order`, typing and cursors on the first. */
export function snapshotPages(view: RoomView, pageSize: number, order: MemberOrder = "joined"): WatchItem[] {
  const size = Math.max(1, pageSize);
  const n = Math.max(1, Math.ceil(view.users.length / size));
  const sorted = orderUsers(view.users, order);
  const out: WatchItem[] = [];
  for (let i = 0; i < n; i++) {
    const users = sorted.slice(i * size, (i + 1) * size);
    const page: RoomView = i === 0 ? { ...view, users } : { ...view, users, typing: [], cursors: [] };
    out.push({ type: "snapshot", view: page, first: i === 0, last: i === n - 1 });
  }
  return out;
}
