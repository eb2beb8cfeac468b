import { int, type IntSpec } from "./option-spec.js";

/** Options of issue 12 (UDP heartbeats, managed rooms, scopes): variable, default, bounds, meaning. */
export const SEEDS_SPEC = {
  udpReplayWindowMs: int("PRESENCE_UDP_REPLAY_WINDOW_MS", 30_000, 1_000, 600_000, "UDP heartbeat timestamps further than this from the server clock are dropped (`stale`)"),
  udpMinIntervalMs: int("PRESENCE_UDP_MIN_INTERVAL_MS", 10_000, 0, 3_600_000, "UDP heartbeats of one session accepted at most this often (the rest: `rate_limited`)"),
  udpMaxDatagramBytes: int("PRESENCE_UDP_MAX_DATAGRAM_BYTES", 512, 64, 1_400, "larger UDP datagrams are dropped (`oversize`)"),
  udpMaxTrackedSessions: int("PRESENCE_UDP_MAX_TRACKED_SESSIONS", 100_000, 1, 10_000_000, "sessions whose last UDP heartbeat a node remembers (replay and rate checks; keep it above the sessions sending to one node within 2 × window + interval)"),
  roomTombstoneMs: int("PRESENCE_ROOM_TOMBSTONE_MS", 600_000, 0, 604_800_000, "an ended room refuses joins this long (ROOM_ENDED)"),
  roomIdleTimeoutMs: int("PRESENCE_ROOM_IDLE_TIMEOUT_MS", 86_400_000, 1_000, 31_536_000_000, "idle timeout of a managed room created without one"),
  maxRoomParticipants: int("PRESENCE_MAX_ROOM_PARTICIPANTS", 100_000, 1, 10_000_000, "largest max_participants a managed room may ask for"),
  scopeShards: int("PRESENCE_SCOPE_SHARDS", 16, 1, 1_024, "shards per scope in Redis (same on every node; never change it for a dataset)"),
} as const satisfies Record<string, IntSpec>;
