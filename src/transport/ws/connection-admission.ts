import type { ConnectionLimiter } from "../http/connection-limiter.js";

/**
 * Connection limits of the WebSocket port, asked by the upgrade handler before it verifies the
 * token: at most `maxConnections` open and upgrading connections (PRESENCE_WS_MAX_CONNECTIONS),
 * none while the process is short of file descriptors, and the per-address count shared with the
 * RPC port (`limiter`, PRESENCE_MAX_CONNECTIONS_PER_ADDRESS).
 */
export interface ConnectionAdmissionOptions {
  maxConnections: number;
  /** True while the process is short of file descriptors. */
  acceptPaused?: () => boolean;
  limiter?: ConnectionLimiter;
  /** An upgrade refused for the limits above (metrics). */
  onRefused?: (reason: "total" | "per_address" | "accept_paused") => void;
}

export interface ConnectionAdmission {
  /** The release function of an admitted connection (idempotent), or why it is refused. */
  admit(peer: string): (() => void) | "total" | "per_address";
}

export function createConnectionAdmission(o: ConnectionAdmissionOptions): ConnectionAdmission {
  /** Connections counted against the limits: open sockets and upgrades being authenticated. */
  let admitted = 0;
  return {
    admit(peer) {
      if (admitted >= o.maxConnections || o.acceptPaused?.()) {
        o.onRefused?.(admitted >= o.maxConnections ? "total" : "accept_paused");
        return "total";
      }
      const release = o.limiter ? o.limiter.admit(peer) : () => {};
      if (release === null) {
        o.onRefused?.("per_address");
        return "per_address";
      }
      admitted++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        admitted--;
        release();
      };
    },
  };
}
