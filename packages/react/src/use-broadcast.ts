import { useCallback, useEffect, useRef } from "react";
import type { BroadcastEvent, BroadcastResult, JsonValue, RoomHandle } from "@presence-platform/client";
import { PresenceClientError } from "@presence-platform/client";
import { useRoom } from "./room-presence.js";

/**
 * Room broadcasts in React (custom ephemeral events: reactions, "page saved"):
 * - `useBroadcast(room?)` → `send(type, payload)`, a stable function that broadcasts through the
 *   room handle (`handle.broadcast`: rejects when the room is not joined yet, over a limit, or
 *   refused by the server);
 * - `useBroadcastListener(type, listener, { room?, includeSelf? })` calls `listener` for each
 *   broadcast of `type` (`"*"`: every type) while mounted; your own are left out unless
 *   `includeSelf`. The latest `listener` is called without re-subscribing.
 * Both use the nearest `<PresenceRoom>` unless a handle is passed.
 */
export function useBroadcast(room?: RoomHandle | null): (type: string, payload?: JsonValue) => Promise<BroadcastResult> {
  const fromContext = useRoom();
  const handle = room === undefined ? fromContext : room;
  return useCallback(
    (type: string, payload?: JsonValue) => {
      if (!handle) return Promise.reject(new PresenceClientError("unavailable", "broadcast: the room is not joined yet"));
      return handle.broadcast(type, payload ?? null);
    },
    [handle],
  );
}

export interface BroadcastListenerOptions {
  /** The room handle (default: the nearest PresenceRoom's). */
  room?: RoomHandle | null | undefined;
  /** Also receive your own broadcasts. Default false. */
  includeSelf?: boolean | undefined;
}

export function useBroadcastListener<T extends JsonValue = JsonValue>(type: string, listener: (event: BroadcastEvent<T>) => void, options: BroadcastListenerOptions = {}): void {
  const fromContext = useRoom();
  const handle = options.room === undefined ? fromContext : options.room;
  const latest = useRef(listener);
  latest.current = listener;
  const includeSelf = options.includeSelf ?? false;
  useEffect(() => {
    if (!handle) return;
    return handle.onBroadcast<T>(type, (e) => latest.current(e), { includeSelf });
  }, [handle, type, includeSelf]);
}
