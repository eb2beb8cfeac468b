/**
 * React bindings of the presence client SDK (package `@presence-platform/react`; React ≥ 18 is a
 * peer dependency): hooks for page visibility, page presence, typing, cursors and broadcasts, and the
 * `PagePresence` / `PagePresenceAvatars` components.
 */
export { usePageVisibility } from "./use-page-visibility.js";
export { usePagePresence, type PagePresenceState, type UsePagePresenceOptions } from "./use-page-presence.js";
export { useTyping, typingLabel, type TypingState } from "./use-typing.js";
export { useCursors, type CursorsState } from "./use-cursors.js";
export {
  Avatar,
  initialsOf,
  PagePresence,
  PagePresenceAvatars,
  viewersLabel,
  type PagePresenceAvatarsProps,
  type PagePresenceProps,
  type PresenceSource,
} from "./page-presence.js";
export { PresenceProvider, usePresenceClient } from "./presence-provider.js";
export { useUserStatus, useUsers } from "./use-user-status.js";
export { StatusDot, LastSeen, type StatusDotProps } from "./status-dot.js";
export { PresenceRoom, useRoom, useOthers, useSelf, useMyPresence, useUpdateMyPresence, type PresenceRoomProps } from "./room-presence.js";
export { useBroadcast, useBroadcastListener, type BroadcastListenerOptions } from "./use-broadcast.js";
