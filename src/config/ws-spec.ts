import { int, type IntSpec } from "./option-spec.js";

/** The WebSocket bridge (its message limit is PRESENCE_MAX_REQUEST_BYTES): variable, default, bounds, meaning. */
export const WS_SPEC = {
  port: int("PRESENCE_WS_PORT", 8081, 0, 65_535, "WebSocket bridge port (path `/ws`) and the demo page"),
  // uWS aborts the whole process (C++ terminate) for an idle timeout of 1-7 or over 960 s.
  idleTimeoutSec: int(
    "PRESENCE_WS_IDLE_TIMEOUT_SEC",
    30,
    8,
    960,
    "a socket with no inbound traffic (pongs count) for this long is closed; the server pings every half of it (uWS itself refuses other values)",
  ),
  maxBufferedBytes: int(
    "PRESENCE_WS_MAX_BUFFERED_BYTES",
    262_144,
    1_024,
    1_073_741_824,
    "per-socket send buffer cap: a socket over it misses deliveries and gets a fresh snapshot when it drains",
  ),
  stallMs: int("PRESENCE_WS_STALL_MS", 30_000, 100, 3_600_000, "a socket that stays behind (over its cap) this long is closed with 4001"),
  maxWatchesPerSocket: int("PRESENCE_WS_MAX_WATCHES_PER_SOCKET", 16, 1, 1_024, "rooms one socket may watch (over it: TOO_MANY_ROOMS)"),
  maxPendingFrames: int(
    "PRESENCE_WS_MAX_PENDING_FRAMES",
    256,
    1,
    100_000,
    "frames of one socket received and not yet answered; a frame over it is answered with an ErrorFrame RATE_LIMITED (the socket stays open)",
  ),
  maxFramesPerSec: int(
    "PRESENCE_WS_MAX_FRAMES_PER_SEC",
    250,
    1,
    1_000_000,
    'frames one socket may send per second on average (token bucket, checked before decoding); a socket over it is closed with 4006 "rate limited" (the SDK sends less even on a 144 Hz display: at most one cursor frame per animation frame, typing debounced)',
  ),
  closeTimeoutMs: int(
    "PRESENCE_WS_CLOSE_TIMEOUT_MS",
    2_000,
    100,
    60_000,
    "`ws` engine: a socket the server closes is cut when the peer does not answer the close frame within this (uWS applies its own)",
  ),
  frameBurst: int("PRESENCE_WS_FRAME_BURST", 500, 1, 1_000_000, "frames one socket may send at once above that rate (the bucket's size)"),
} as const satisfies Record<string, IntSpec>;
