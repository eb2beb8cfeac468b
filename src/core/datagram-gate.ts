/**
 * The per-session rules of UDP heartbeats (udp.proto), after the MAC was verified: the datagram's
 * timestamp must be within the replay window of the server clock, strictly greater than the last
 * one accepted for the session (copies and older datagrams are replays), and at least
 * `minIntervalMs` after the last accepted datagram of the session (rate). Pure state with an
 * injected `now`; memory is bounded: at most `maxSessions` entries, oldest dropped first, and an
 * entry older than twice the replay window plus the interval carries no information (an accepted
 * timestamp is at most one window ahead of its receive time, so any copy of it is stale by then),
 * so it is dropped too. The cap must exceed the sessions that send to one node within that horizon
 * (70 s by default), or a replay of an evicted session's datagram could pass.
 */
export type DatagramVerdict = "accepted" | "stale" | "replay" | "rate_limited";

export interface DatagramGateOptions {
  /** PRESENCE_UDP_REPLAY_WINDOW_MS (default 30,000): |now - timestamp| must be at most this. */
  replayWindowMs: number;
  /** PRESENCE_UDP_MIN_INTERVAL_MS (default 10,000): accepted datagrams of one session at most this often. */
  minIntervalMs: number;
  /** PRESENCE_UDP_MAX_TRACKED_SESSIONS (default 100,000): sessions whose last datagram is remembered. */
  maxSessions: number;
}

export interface DatagramGate {
  /** Judges a datagram of `sessionId` stamped `timestampMs`, received at `nowMs`; records it when accepted. */
  check(sessionId: string, timestampMs: number, nowMs: number): DatagramVerdict;
  /** Forgets an accepted datagram whose refresh failed (the client may retry without waiting). */
  forget(sessionId: string): void;
  /** Sessions remembered now. */
  size(): number;
}

export function createDatagramGate(o: DatagramGateOptions): DatagramGate {
  /** sessionId → last accepted {timestamp, receive time}; Map order = insertion order = oldest first. */
  const last = new Map<string, { ts: number; at: number }>();
  const horizon = 2 * o.replayWindowMs + o.minIntervalMs;

  const evict = (nowMs: number) => {
    for (const [id, e] of last) {
      if (last.size <= o.maxSessions && nowMs - e.at <= horizon) break;
      last.delete(id);
    }
  };

  return {
    check(sessionId, timestampMs, nowMs) {
      if (!Number.isFinite(timestampMs) || Math.abs(nowMs - timestampMs) > o.replayWindowMs) return "stale";
      const prev = last.get(sessionId);
      if (prev && nowMs - prev.at <= horizon) {
        if (timestampMs <= prev.ts) return "replay";
        if (nowMs - prev.at < o.minIntervalMs) return "rate_limited";
      }
      last.delete(sessionId); // re-insert: the map stays ordered by receive time
      last.set(sessionId, { ts: timestampMs, at: nowMs });
      if (last.size > o.maxSessions) evict(nowMs);
      else if (last.size % 1024 === 0) evict(nowMs);
      return "accepted";
    },
    forget(sessionId) {
      last.delete(sessionId);
    },
    size: () => last.size,
  };
}
