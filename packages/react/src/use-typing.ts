import { useCallback, useSyncExternalStore } from "react";
import type { RoomHandle, TypingUser } from "@presence-platform/client";

/** Who else is typing in a room, a ready-made label, and your own typing indicator. */
export interface TypingState {
  /** The others typing now. */
  typingUsers: TypingUser[];
  /** "Ana is typing…", "Ana and Bob are typing…", "3 people are typing…", or "". */
  label: string;
  /** Call on each keystroke (debounced; stops by itself after inactivity). */
  start(): void;
  /** Call on send or blur. */
  stop(): void;
}

const NONE: TypingUser[] = [];

export function useTyping(room: RoomHandle | null | undefined): TypingState {
  const typingUsers = useSyncExternalStore(
    (onChange) => room?.on("typing", onChange) ?? (() => {}),
    () => room?.typing.users ?? NONE,
    () => NONE,
  );
  const start = useCallback(() => room?.typing.start(), [room]);
  const stop = useCallback(() => room?.typing.stop(), [room]);
  return { typingUsers, label: typingLabel(typingUsers), start, stop };
}

/** The usual wording of a typing indicator. */
export function typingLabel(users: TypingUser[]): string {
  const names = users.map((u) => u.name || "Someone");
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
