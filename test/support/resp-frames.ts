/**
 * A streaming splitter of RESP2 replies (what a Redis server sends), for the TCP forwarder's
 * pub/sub faults: it cuts a byte stream into whole frames, so a test can drop, duplicate or
 * reorder one pub/sub message on a subscriber connection without corrupting the stream.
 *
 * `push(chunk)` returns the frames completed by that chunk (raw bytes plus a light decoding:
 * arrays of bulk strings, simple strings and integers as strings, errors prefixed with `-`);
 * an incomplete tail is kept for the next chunk.
 */

export interface RespFrame {
  /** The frame's exact bytes. */
  raw: Buffer;
  /** Decoded value: a string (bulk, simple, integer; errors as `-ERR …`), null, or an array of those. */
  value: RespValue;
}

export type RespValue = string | null | RespValue[];

export interface RespSplitter {
  push(chunk: Buffer): RespFrame[];
}

/** A pub/sub delivery as `[kind, channel, payload]` (`message`, `smessage`), or null for any other frame. */
export function pubsubMessage(f: RespFrame): { kind: string; channel: string; payload: string } | null {
  const v = f.value;
  if (!Array.isArray(v) || v.length !== 3) return null;
  const [kind, channel, payload] = v;
  if ((kind !== "message" && kind !== "smessage") || typeof channel !== "string" || typeof payload !== "string") return null;
  return { kind, channel, payload };
}

export function createRespSplitter(): RespSplitter {
  let buf: Buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const out: RespFrame[] = [];
      for (;;) {
        const r = parse(buf, 0);
        if (!r) break;
        out.push({ raw: buf.subarray(0, r.end), value: r.value });
        buf = buf.subarray(r.end);
      }
      return out;
    },
  };
}

/** Parses one value at `at`; null when the buffer does not hold all of it yet. */
function parse(b: Buffer, at: number): { value: RespValue; end: number } | null {
  if (at >= b.length) return null;
  const eol = b.indexOf("\r\n", at);
  if (eol < 0) return null;
  const type = String.fromCharCode(b[at]!);
  const line = b.toString("utf8", at + 1, eol);
  switch (type) {
    case "+":
    case ":":
      return { value: line, end: eol + 2 };
    case "-":
      return { value: `-${line}`, end: eol + 2 };
    case "$": {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const end = eol + 2 + n + 2;
      if (b.length < end) return null;
      return { value: b.toString("utf8", eol + 2, eol + 2 + n), end };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: RespValue[] = [];
      let pos = eol + 2;
      for (let i = 0; i < n; i++) {
        const r = parse(b, pos);
        if (!r) return null;
        items.push(r.value);
        pos = r.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`RESP2: unexpected type byte ${JSON.stringify(type)} (RESP3 push frames are not expected: the store speaks RESP2)`);
  }
}
