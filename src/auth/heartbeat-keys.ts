import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Keys of UDP heartbeats (udp.proto): each session's key is derived from one deployment secret,
 * `HMAC-SHA256(secret, "presence.v1 udp heartbeat key\0" + sessionId)`, so every node computes the
 * same key with no lookup (a flood of datagrams for unknown sessions costs one HMAC each, never a
 * store read), the key is never the resume secret, and knowing one session's key says nothing
 * about another's. The secret is PRESENCE_UDP_SECRET (at least 32 bytes), required when several
 * nodes share a Redis store; the embedded memory store (one process) may use a random one.
 */
export interface HeartbeatKeys {
  /** The 32-byte key of a session (JoinResponse.heartbeat_key). */
  keyFor(sessionId: string): Uint8Array;
  /** True when `mac` is HMAC-SHA256(keyFor(sessionId), body), compared in constant time. */
  verify(sessionId: string, body: Uint8Array, mac: Uint8Array): boolean;
}

const LABEL = "presence.v1 udp heartbeat key\0";
export const MIN_UDP_SECRET_BYTES = 32;

export function createHeartbeatKeys(secret: Uint8Array): HeartbeatKeys {
  if (secret.byteLength < MIN_UDP_SECRET_BYTES) throw new Error(`PRESENCE_UDP_SECRET must be at least ${MIN_UDP_SECRET_BYTES} bytes`);
  const keyFor = (sessionId: string) => new Uint8Array(createHmac("sha256", secret).update(LABEL + sessionId, "utf8").digest());
  return {
    keyFor,
    verify(sessionId, body, mac) {
      if (mac.byteLength !== 32) return false;
      const expected = createHmac("sha256", keyFor(sessionId)).update(body).digest();
      return timingSafeEqual(expected, mac);
    },
  };
}

/** A random secret for a single process (memory store): keys die with the process. */
export function randomHeartbeatSecret(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}
