/**
 * A raw WebSocket client over `net` for load generators (RFC 6455 framing only, no `ws`, no
 * extensions): data frames are counted from their headers and their payloads are only materialised
 * while `onMessage` is set; pings are answered. Kept minimal because one generator process holds
 * thousands of these and must not become the bottleneck it is measuring.
 */
import { randomBytes } from "node:crypto";
import * as net from "node:net";

/** A masked client frame (RFC 6455 §5.2). */
export function clientFrame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.length;
  const h = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(h + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65_536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  out.writeUInt32BE((Math.random() * 0x1_0000_0000) >>> 0, h);
  for (let i = 0; i < n; i++) out[h + 4 + i] = payload[i]! ^ out[h + (i & 3)]!;
  return out;
}


/**
 * One raw WebSocket connection. Data frames are counted from their headers; their payloads are
 * only materialised while `onMessage` is set (else skipped, even across reads). Pings are answered.
 */
export class RawWs {
  frames = 0;
  bytes = 0;
  reads = 0;
  closed = false;
  onMessage: ((payload: Buffer) => void) | null = null;
  /** Called once when the TCP connection closes (either side). */
  onClose: (() => void) | null = null;
  private skip = 0;
  private partial: Buffer | null = null;

  constructor(readonly sock: net.Socket) {
    sock.on("data", (d: Buffer) => this.feed(d));
    sock.on("close", () => {
      this.closed = true;
      this.onClose?.();
    });
    sock.on("error", () => {});
  }

  send(frame: Buffer): void {
    if (!this.closed) this.sock.write(frame);
  }

  /** Sends a text frame (Pusher and engine.io speak JSON/text). */
  sendText(text: string): void {
    this.send(clientFrame(1, Buffer.from(text)));
  }

  feed(chunk: Buffer): void {
    this.reads++;
    this.bytes += chunk.length;
    let off = 0;
    if (this.skip > 0) {
      off = Math.min(this.skip, chunk.length);
      this.skip -= off;
      if (off === chunk.length) return;
    }
    if (this.partial) {
      chunk = Buffer.concat([this.partial, chunk.subarray(off)]);
      this.partial = null;
      off = 0;
    }
    const len = chunk.length;
    while (off < len) {
      const left = len - off;
      if (left < 2) {
        this.partial = chunk.subarray(off);
        return;
      }
      const b0 = chunk[off]!;
      let plen = chunk[off + 1]! & 0x7f;
      let h = 2;
      if (plen === 126) {
        if (left < 4) return void (this.partial = chunk.subarray(off));
        plen = chunk.readUInt16BE(off + 2);
        h = 4;
      } else if (plen === 127) {
        if (left < 10) return void (this.partial = chunk.subarray(off));
        plen = Number(chunk.readBigUInt64BE(off + 2));
        h = 10;
      }
      const op = b0 & 0x0f;
      const control = op >= 8;
      if (left - h < plen) {
        if (control || this.onMessage) return void (this.partial = chunk.subarray(off));
        this.frames++;
        this.skip = plen - (left - h);
        return;
      }
      const start = off + h;
      off = start + plen;
      if (control) this.control(op, chunk.subarray(start, off));
      else {
        this.frames++;
        this.onMessage?.(chunk.subarray(start, off));
      }
    }
  }

  private control(op: number, payload: Buffer) {
    if (op === 9) this.send(clientFrame(10, payload));
    else if (op === 8) {
      this.send(clientFrame(8, payload.subarray(0, 2)));
      this.sock.end();
    }
  }

  destroy(): void {
    this.closed = true;
    this.sock.destroy();
  }
}

/**
 * Opens a raw WebSocket on `path` (default `/ws`, offering the subprotocol `presence.v1`; pass
 * `protocol: null` for servers that offer none), with an optional bearer token; rejects on a non-101.
 */
export function rawConnect(
  port: number,
  localAddress: string,
  token?: string,
  setup?: (ws: RawWs) => void,
  opts: { path?: string; protocol?: string | null } = {},
): Promise<RawWs> {
  const path = opts.path ?? "/ws";
  const protocol = opts.protocol === undefined ? "presence.v1" : opts.protocol;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1", localAddress, noDelay: true });
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error("handshake timeout")), 20_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    sock.once("error", fail);
    sock.once("connect", () => {
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n` +
          `${protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ""}${token ? `Authorization: Bearer ${token}\r\n` : ""}\r\n`,
      );
    });
    const onData = (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.off("data", onData);
      sock.off("error", fail);
      const status = buf.subarray(0, buf.indexOf("\r\n")).toString("latin1");
      if (!/^HTTP\/1\.1 101/.test(status)) return fail(new Error(`handshake refused: ${status}`));
      clearTimeout(timer);
      const ws = new RawWs(sock);
      setup?.(ws);
      const rest = buf.subarray(end + 4);
      if (rest.length > 0) ws.feed(rest);
      resolve(ws);
    };
    sock.on("data", onData);
  });
}

/** Runs `fn(i)` for i in [0, n) with at most `limit` in flight. */
export async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, limit) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
