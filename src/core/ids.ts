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
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/**
 * base64url without padding (no Buffer, so the core also runs in browsers). Built as character
 * codes and made into a string at once: a string grown with `+=` is a tree of concatenations that
 * the engine keeps as long as the string lives (~200 B for a 24-character session id instead of
 * ~40 B), and the stores keep every session's id, resume secret and connection id.
 */
export function base64url(bytes: Uint8Array): string {
  const full = Math.floor(bytes.length / 3) * 3;
  const rest = bytes.length - full;
  const out = new Uint8Array((full / 3) * 4 + (rest === 0 ? 0 : rest + 1));
  let o = 0;
  for (let i = 0; i < full; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = CODES[n >> 18]!;
    out[o++] = CODES[(n >> 12) & 63]!;
    out[o++] = CODES[(n >> 6) & 63]!;
    out[o++] = CODES[n & 63]!;
  }
  if (rest > 0) {
    const n = (bytes[full]! << 16) | (rest === 2 ? bytes[full + 1]! << 8 : 0);
    out[o++] = CODES[n >> 18]!;
    out[o++] = CODES[(n >> 12) & 63]!;
    if (rest === 2) out[o++] = CODES[(n >> 6) & 63]!;
  }
  return String.fromCharCode.apply(null, out as unknown as number[]);
}

const HEX = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/**
 * A random (version 4) UUID from 16 random bytes, as one flat string (see {@link base64url}: Node's
 * `randomUUID()` returns a concatenation tree of ~480 B, kept as long as the id, e.g. by an open
 * stream's request log).
 */
export function uuidV4(random16: Uint8Array): string {
  if (random16.length < 16) throw new RangeError(`uuidV4 needs 16 random bytes, got ${random16.length}`);
  const out = new Uint8Array(36);
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out[o++] = 45; // "-"
    const b = i === 6 ? (random16[i]! & 0x0f) | 0x40 : i === 8 ? (random16[i]! & 0x3f) | 0x80 : random16[i]!;
    out[o++] = HEX[b >> 4]!;
    out[o++] = HEX[b & 15]!;
  }
  return String.fromCharCode.apply(null, out as unknown as number[]);
}
