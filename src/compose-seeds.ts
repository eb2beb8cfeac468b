import { createHeartbeatKeys, randomHeartbeatSecret, type HeartbeatKeys } from "./auth/heartbeat-keys.js";
import type { Config } from "./config.js";
import type { Clock } from "./core/clock.js";
import { createDatagramGate } from "./core/datagram-gate.js";
import type { Activity, RoomEndedInfo, RoomView } from "./core/presence-event.js";
import type { ManagedRoom } from "./core/room-lifecycle.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics/registry.js";
import { createUdpHeartbeatServer, type UdpHeartbeatServer } from "./transport/udp/udp-server.js";

/**
 * The parts of the composition root that issue 12 added (app.ts calls these): the UDP heartbeat
 * endpoint and the end of rooms for the WebSocket bridge (its loops are in compose-loops.ts). The scope and room-record
 * stores are chosen in app.ts with the session store (only app.ts knows store implementations).
 */

/** Away thresholds (away-policy.ts): PRESENCE_AWAY_AFTER_MS and its per-scope overrides. */
export const awayPolicyOf = (config: Config) => ({ defaultMs: config.timings.awayAfterMs, scopeOverrides: config.awayScopeOverrides });

/**
 * The end of a room that was ended and still refuses joins (inside its tombstone), else null: the
 * WebSocket bridge asks when a node refresh finds a socket's session gone, since EndRoom ends a
 * session with its last room and that refresh may come before the room's `ended` message
 * (WsBridgeOptions.endedRoom). Inside the tombstone nobody joined since the end, so a member of
 * the room was one when it ended. The position is the room's when read (after its members left).
 */
export function endedRoomOf(o: { clock: Clock; getRoom(room: string): Promise<ManagedRoom | null>; getView(room: string, opts: { includeMembers: boolean }): Promise<RoomView> }) {
  return async (room: string): Promise<RoomEndedInfo | null> => {
    const r = await o.getRoom(room);
    if (!r || r.status !== "ended" || r.tombstoneUntilMs <= o.clock.now()) return null;
    const view = await o.getView(room, { includeMembers: false });
    return { room, epoch: view.epoch, version: view.version, endedAtMs: r.endedAtMs, endedBy: r.endedBy, reason: r.endReason, tombstoneUntilMs: r.tombstoneUntilMs };
  };
}

/** UDP heartbeats (udp.proto), off unless PRESENCE_UDP_PORT is set; the bound port is told in Join answers. */
export interface UdpHeartbeats {
  keys: HeartbeatKeys;
  /** The bound port (0 before `listen`). */
  port(): number;
  listen(refresh: (sessionId: string, activity: Activity | undefined) => Promise<void>): Promise<number>;
  close(): Promise<void>;
}

export function udpHeartbeats(config: Config, clock: Clock, metrics: Metrics, log: Logger): UdpHeartbeats | undefined {
  const port = config.udp.port;
  if (port === undefined) return undefined;
  const keys = createHeartbeatKeys(config.udp.secret !== undefined ? new TextEncoder().encode(config.udp.secret) : randomHeartbeatSecret());
  let bound = 0;
  let server: UdpHeartbeatServer | undefined;
  return {
    keys,
    port: () => bound,
    async listen(refresh) {
      server = createUdpHeartbeatServer({
        keys,
        gate: createDatagramGate({ replayWindowMs: config.udp.replayWindowMs, minIntervalMs: config.udp.minIntervalMs, maxSessions: config.udp.maxTrackedSessions }),
        clock,
        maxDatagramBytes: config.udp.maxDatagramBytes,
        refresh,
        onResult: (result) => metrics.udpDatagrams.inc({ result }),
        onError: (err) => log.warn("udp heartbeat failed", { err }),
      });
      bound = (await server.listen(port, config.host)).port;
      return bound;
    },
    async close() {
      await server?.close();
    },
  };
}
