import type { CursorPosition } from "../../core/presence-event.js";

/**
 * Cursor updates are coalesced per node: the newest position per connection and room is kept and
 * every flush (the store calls `flush` every `cursorFlushMs`, default 50 ms) sends one
 * `roomCursors` script per room. Cursors are ephemeral: a failed flush is dropped (the store has
 * already counted the Redis error).
 */
export interface PendingCursor {
  sid: string;
  userId: string;
  position: CursorPosition;
}

export interface CursorBatcher {
  /** Keeps the newest position of `connectionId` in `room` until the next flush. */
  add(room: string, connectionId: string, cursor: PendingCursor): void;
  /** Sends everything pending; resolves when every room's call has settled. */
  flush(): Promise<void>;
}

export function createCursorBatcher(send: (room: string, cursors: Map<string, PendingCursor>) => Promise<void>): CursorBatcher {
  const pending = new Map<string, Map<string, PendingCursor>>();
  return {
    add(room, connectionId, cursor) {
      let r = pending.get(room);
      if (!r) pending.set(room, (r = new Map()));
      r.set(connectionId, cursor);
    },
    async flush() {
      if (pending.size === 0) return;
      const rooms = [...pending];
      pending.clear();
      await Promise.all(rooms.map(([room, cursors]) => send(room, cursors).catch(() => {})));
    },
  };
}
