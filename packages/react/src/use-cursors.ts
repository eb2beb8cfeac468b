import { useCallback, useSyncExternalStore } from "react";
import type { RoomHandle, CursorPosition, PresenceCursor } from "@presence-platform/client";

/** The others' cursors in a room (re-rendering on each batch), and `update` for yours (sent at most once per frame). */
export interface CursorsState {
  cursors: PresenceCursor[];
  update(position: CursorPosition): void;
}

const NONE: PresenceCursor[] = [];

export function useCursors(room: RoomHandle | null | undefined): CursorsState {
  const cursors = useSyncExternalStore(
    (onChange) => {
      if (!room) return () => {};
      const offs = [room.on("cursors", onChange), room.on("view", onChange)];
      return () => offs.forEach((off) => off());
    },
    () => room?.cursors ?? NONE,
    () => NONE,
  );
  const update = useCallback((position: CursorPosition) => room?.cursor.update(position), [room]);
  return { cursors, update };
}
