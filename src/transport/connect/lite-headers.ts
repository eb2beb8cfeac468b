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
  /**
   * Request headers read in place (fromHttp2): no copy per call unless something writes to them
   * (then they are copied into the map first). Pseudo-headers (`:path`, …) are never entries.
   */
  private source: IncomingHttpHeaders | undefined;
  private get map(): Map<string, string> {
    if (this.entriesMap === undefined) {
      this.entriesMap = new Map();
      const src = this.source;
      this.source = undefined;
      if (src !== undefined) for (const name in src) if (!isPseudo(name)) this.copy(src, name);
    }
    return this.entriesMap;
  }

  private copy(src: IncomingHttpHeaders, name: string): void {
    const v = src[name];
    if (v !== undefined) this.entriesMap!.set(name, typeof v === "string" ? v : v.join(", "));
  }

  /** Request headers of an HTTP/2 stream (read in place), pseudo-headers left out, repeated values joined with ", ". */
  static fromHttp2(headers: IncomingHttpHeaders): LiteHeaders {
    const h = new LiteHeaders();
    h.source = headers;
    return h;
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    if (this.source !== undefined) {
      if (isPseudo(key)) return null;
      const v = this.source[key];
      return v === undefined ? null : typeof v === "string" ? v : v.join(", ");
    }
    return this.entriesMap?.get(key) ?? null;
  }
  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), String(value));
  }
  has(name: string): boolean {
    return this.get(name) !== null;
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
    return this.source !== undefined ? this.map.size : (this.entriesMap?.size ?? 0);
  }
  /** Entries as an HTTP/2 header object (for `respond` and `sendTrailers`). */
  toHttp2(into: Record<string, string> = {}): Record<string, string> {
    if (this.source !== undefined || this.entriesMap !== undefined) for (const [k, v] of this.map) into[k] = v;
    return into;
  }
  /** WHATWG Headers iterate in name order. */
  private sorted(): [string, string][] {
    if (this.source !== undefined) void this.map;
    return [...(this.entriesMap ?? [])].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

const isPseudo = (name: string) => name.charCodeAt(0) === 58; /* ':' */
