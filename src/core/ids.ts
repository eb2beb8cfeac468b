/**
 * Source of random ids, injected so that the core stays free of I/O and tests can be deterministic.
 * Session ids and resume secrets must carry at least 128 random bits (design §3).
 */
export interface IdSource {
  /** A secret session id (≥ 128 random bits, URL-safe). */
  sessionId(): string;
  /** A secret resume token (≥ 128 random bits, URL-safe). */
  resumeSecret(): string;
  /** A public connection id (unguessable but not secret). */
  connectionId(): string;
  /** A room epoch (random, short). */
  epoch(): string;
  /** An anonymous viewer id chosen by the server. */
  anonymousId(): string;
}

/** An IdSource from a random-bytes function (crypto.randomBytes in production). */
export function createIdSource(randomBytes: (n: number) => Uint8Array): IdSource {
  const b64 = (n: number) => base64url(randomBytes(n));
  return {
    sessionId: () => b64(18),
    resumeSecret: () => b64(18),
    connectionId: () => "c_" + b64(9),
    epoch: () => b64(6),
    anonymousId: () => "a_" + b64(9),
  };
}

/**
 * Random bytes drawn from a pool refilled `poolBytes` at a time by `fill` (crypto.randomFillSync in
 * production): one system call per ~150 ids instead of one per id (a Join makes three ids; the
 * per-call random-bytes job was ~8% of a unary gRPC Join's CPU). Each call returns a copy, so a
 * caller may keep what it got.
 */
export function pooledRandomBytes(fill: (into: Uint8Array) => void, poolBytes = 4096): (n: number) => Uint8Array {
  const pool = new Uint8Array(poolBytes);
  let offset = poolBytes;
  return (n) => {
    if (n > poolBytes) {
      const out = new Uint8Array(n);
      fill(out);
      return out;
    }
    if (offset + n > poolBytes) {
      fill(pool);
      offset = 0;
    }
    const out = pool.slice(offset, offset + n);
    offset += n;
    return out;
  };
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** base64url without padding (no Buffer, so the core also runs in browsers). */
export function base64url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
    if (rest === 2) out += ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}
