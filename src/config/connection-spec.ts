import { int, type IntSpec } from "./option-spec.js";

/**
 * Client connections on the RPC and WebSocket ports: how many, and how long a slow or silent one
 * may hold its socket (slowloris). Variable, default, bounds, meaning; docs/security.md explains
 * the defaults.
 */
export const CONNECTION_SPEC = {
  maxConnectionsPerAddress: int("PRESENCE_MAX_CONNECTIONS_PER_ADDRESS", 1_024, 1, 10_000_000, "open connections of one remote address, both ports together"),
  rpcMaxConnections: int("PRESENCE_RPC_MAX_CONNECTIONS", 20_000, 1, 10_000_000, "open connections on the RPC port"),
  wsMaxConnections: int("PRESENCE_WS_MAX_CONNECTIONS", 200_000, 1, 10_000_000, "open connections on the WebSocket port"),
  maxHalfOpen: int("PRESENCE_MAX_HALF_OPEN_CONNECTIONS", 1_000, 1, 1_000_000, "RPC connections that have not completed a first request; over it the oldest is dropped"),
  h2MaxConcurrentStreams: int("PRESENCE_H2_MAX_CONCURRENT_STREAMS", 1_000, 1, 1_000_000, "concurrent HTTP/2 streams per connection (more wait in the client: open more connections)"),
  h2PingIntervalMs: int("PRESENCE_H2_PING_INTERVAL_MS", 30_000, 100, 3_600_000, "HTTP/2 PING interval (frees streams of silent peers)"),
  h2PingTimeoutMs: int("PRESENCE_H2_PING_TIMEOUT_MS", 10_000, 100, 600_000, "HTTP/2 PING ack timeout: a session that does not answer is destroyed"),
  headersTimeoutMs: int(
    "PRESENCE_HTTP_HEADERS_TIMEOUT_MS",
    10_000,
    100,
    600_000,
    "time for a new RPC connection to send its first bytes and a complete request head (HTTP/1.1, checked every quarter of it, 250 ms to 5 s) or open a first stream (HTTP/2); the WebSocket upgrade request too",
  ),
  requestTimeoutMs: int("PRESENCE_HTTP_REQUEST_TIMEOUT_MS", 30_000, 100, 3_600_000, "time to receive a whole request body (responses, e.g. watch streams, are not cut); a bidirectional stream (Track) must send its first message within it instead"),
  keepAliveTimeoutMs: int("PRESENCE_HTTP_KEEPALIVE_TIMEOUT_MS", 5_000, 100, 600_000, "an HTTP/1.1 connection idle between requests is closed after this (both ports)"),
  idleTimeoutMs: int("PRESENCE_HTTP_IDLE_TIMEOUT_MS", 300_000, 1_000, 86_400_000, "an HTTP/2 connection without open streams for this long is closed (GOAWAY)"),
  fdReserve: int("PRESENCE_FD_RESERVE", 64, 0, 1_000_000, "file descriptors kept free: with fewer free, new client connections are refused until twice as many are (0: no watch)"),
  fdCheckMs: int("PRESENCE_FD_CHECK_MS", 1_000, 100, 60_000, "how often the open file descriptors are counted for that reserve"),
  acceptPauseMs: int("PRESENCE_ACCEPT_PAUSE_MS", 1_000, 10, 60_000, "after a failed accept (EMFILE, ENFILE) the RPC port stops accepting for this long"),
} as const satisfies Record<string, IntSpec>;
