import type { Limits } from "../core/options.js";
import { defaultsOf, int, type IntSpec } from "./option-spec.js";

/** Limits of the presence core (design §9): variable, default, bounds, meaning. */
export const LIMIT_SPEC: Readonly<Record<keyof Limits, IntSpec>> = {
  maxRoomNameBytes: int("PRESENCE_MAX_ROOM_NAME_BYTES", 256, 1, 4_096, "room name length (UTF-8 bytes)"),
  maxMetadataBytes: int("PRESENCE_MAX_METADATA_BYTES", 1_024, 0, 65_536, "metadata per member (key + value bytes + 2 per entry)"),
  maxMetadataEntries: int("PRESENCE_MAX_METADATA_ENTRIES", 32, 0, 1_024, "metadata entries per member"),
  maxRoomsPerSession: int("PRESENCE_MAX_ROOMS_PER_SESSION", 16, 1, 1_024, "rooms one session may be in"),
  maxWatchers: int("PRESENCE_MAX_WATCHERS", 50_000, 1, 10_000_000, "watch streams per process"),
  watcherQueueSize: int("PRESENCE_WATCHER_QUEUE_SIZE", 256, 1, 1_000_000, 'queued deliveries per watcher before it is switched to "needs snapshot"'),
  cursorRatePerSec: int("PRESENCE_CURSOR_RATE_PER_SEC", 30, 1, 1_000, "cursor updates per session and room per second (excess coalesced)"),
  typingRatePerSec: int("PRESENCE_TYPING_RATE_PER_SEC", 2, 1, 1_000, "typing changes per session and room per second (excess coalesced)"),
  snapshotPageSize: int("PRESENCE_SNAPSHOT_PAGE_SIZE", 500, 1, 10_000, "users per snapshot page"),
  largeRoomThreshold: int("PRESENCE_LARGE_ROOM_THRESHOLD", 1_000, 0, 10_000_000, "connections above which Join omits the member list"),
  maxBatchRooms: int("PRESENCE_MAX_BATCH_ROOMS", 100, 1, 10_000, "rooms per BatchGetPresence"),
  maxIdBytes: int("PRESENCE_MAX_ID_BYTES", 64, 8, 1_024, "client-chosen ids (request id, anonymous id)"),
  maxCursorElementBytes: int("PRESENCE_MAX_CURSOR_ELEMENT_BYTES", 256, 0, 4_096, "cursor `element` (bytes)"),
  maxUserIds: int("PRESENCE_MAX_USER_IDS", 1_000, 1, 100_000, "user ids per GetUserStatus / WatchUsers"),
  maxCustomStatusBytes: int("PRESENCE_MAX_CUSTOM_STATUS_BYTES", 128, 0, 4_096, "custom status text (bytes)"),
  maxUserIdBytes: int(
    "PRESENCE_MAX_USER_ID_BYTES",
    128,
    8,
    1_024,
    "a user id a request names (GetUserStatus, WatchUsers, `on_behalf_of`, a managed room's owner, history filters), in UTF-8 bytes; keep it at least as long as your tokens' `sub`",
  ),
  maxPresenceBytes: int("PRESENCE_MAX_PRESENCE_BYTES", 2_048, 0, 65_536, "typed presence per connection and room (key and JSON bytes + 2 per key)"),
  maxPresenceKeys: int("PRESENCE_MAX_PRESENCE_KEYS", 32, 0, 1_024, "typed presence top-level keys per connection and room"),
  presenceRatePerSec: int("PRESENCE_PRESENCE_RATE_PER_SEC", 10, 1, 1_000, "typed-presence updates per session and room per second (excess merged)"),
  maxScopesPerSession: int("PRESENCE_MAX_SCOPES_PER_SESSION", 8, 0, 64, "scopes one session may carry besides the global one"),
  maxListPageSize: int("PRESENCE_MAX_LIST_PAGE_SIZE", 1_000, 1, 10_000, "users per ListOnline page, at most"),
  reaperConcurrency: int("PRESENCE_REAPER_CONCURRENCY", 8, 1, 64, "session buckets (of 64) the Redis reaper claims and finishes at once in a pass; higher empties a mass expiry faster at the cost of more Redis calls in flight"),
  maxCountScopes: int("PRESENCE_MAX_COUNT_SCOPES", 100, 1, 10_000, "scopes per CountOnline / WatchScopeCounts call"),
};

/** Every limit at its default. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze(defaultsOf(LIMIT_SPEC));
