import type { IncomingHttpHeaders } from "node:http2";

/**
 * A `Headers` for the gRPC fast path (grpc-call.ts): the same API as the WHATWG `Headers` the
 * interceptors and handlers use (`get`, `set`, `has`, `append`, `delete`, iteration), over a plain
 * Map of lower-case names. Node's `Headers` (undici) validates every name and value through WebIDL
 * converters; building three of them per call was 3–18% of a unary gRPC call's CPU (bench:grpc
 * profiles, bench/README.md). Names are lower-cased; values are kept as given (HTTP/2 has already
 * validated what came off the wire; what handlers set is our own code's).
 */
export class LiteHeaders implements Headers {
  /** Made on the first entry: most response header and trailer sets stay empty. */
  private entriesMap: Map<string, string> | undefined;
  private get map(): Map<string, string> {
    return (this.entriesMap ??= new Map());
  }

  /** Request headers of an HTTP/2 stream, pseudo-headers (`:path`, …) left out, repeated values joined with ", ". */
  static fromHttp2(headers: IncomingHttpHeaders): LiteHeaders {
    const h = new LiteHeaders();
    for (const name in headers) {
      if (name.charCodeAt(0) === 58 /* ':' */) continue;
      const v = headers[name];
      if (v === undefined) continue;
      h.map.set(name, typeof v === "string" ? v : v.join(", "));
    }
    return h;
  }

  get(name: string): string | null {
    return this.entriesMap?.get(name.toLowerCase()) ?? null;
  }
  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), String(value));
  }
  has(name: string): boolean {
    return this.entriesMap?.has(name.toLowerCase()) ?? false;
  }
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const old = this.map.get(key);
    this.map.set(key, old === undefined ? String(value) : `${old}, ${value}`);
  }
  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }
  getSetCookie(): string[] {
    const v = this.map.get("set-cookie");
    return v === undefined ? [] : [v];
  }
  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [k, v] of this.sorted()) callback.call(thisArg, v, k, this);
  }
  entries(): HeadersIterator<[string, string]> {
    return this.sorted()[Symbol.iterator]() as HeadersIterator<[string, string]>;
  }
  keys(): HeadersIterator<string> {
    return this.sorted().map(([k]) => k)[Symbol.iterator]() as HeadersIterator<string>;
  }
  values(): HeadersIterator<string> {
    return this.sorted().map(([, v]) => v)[Symbol.iterator]() as HeadersIterator<string>;
  }
  [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.entries();
  }
  /** Number of entries (the fast path skips empty header sets). */
  get size(): number {
    return this.entriesMap?.size ?? 0;
  }
  /** Entries as an HTTP/2 header object (for `respond` and `sendTrailers`). */
  toHttp2(into: Record<string, string> = {}): Record<string, string> {
    if (this.entriesMap !== undefined) for (const [k, v] of this.entriesMap) into[k] = v;
    return into;
  }
  /** WHATWG Headers iterate in name order. */
  private sorted(): [string, string][] {
    return [...(this.entriesMap ?? [])].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}
