/**
 * Client SDK of the presence service (package `@presence-platform/client`): rooms with live views,
 * typing, cursors, page following and the page-visibility rules, over the WebSocket bridge or
 * Connect-Web. React bindings are the package `@presence-platform/react`.
 */
export { createPresenceClient, type PresenceClient, type PresenceClientOptions } from "./presence-client.js";
export type { RoomHandle } from "./room-handle.js";
export type { UsersHandle, UserStatusView } from "./user-status.js";
export type { Other } from "./others.js";
export { formatAgo, formatLastSeen, nextLastSeenChangeMs, type LastSeenOptions, type UserState } from "./last-seen.js";
export { shallow } from "./shallow.js";
export { PresenceClientError } from "./errors.js";
export { backoffDelay, createBackoff, type Backoff, type BackoffOptions } from "./backoff.js";
export { createVisibilityController, type VisibilityController, type VisibilityDocument, type VisibilityOptions, type VisibilityState } from "./visibility.js";
export { createTypingHelper, type TypingHelper, type TypingHelperOptions } from "./typing-helper.js";
export { createCursorHelper, defaultFrameScheduler, type CursorHelper, type FrameScheduler } from "./cursor-helper.js";
export { roomOfPage, watchLocation, type FollowPageOptions, type LocationLike } from "./page-location.js";
export type { TokenSource, PresenceTransport } from "./transport.js";
export type { WebSocketConstructor } from "./transport-websocket.js";
export { roomFromUrl } from "../../../src/core/room-name.js";
export type { Clock, TimerHandle } from "../../../src/core/clock.js";
export type * from "./types.js";
