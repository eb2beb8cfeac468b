import { describe, expect, it } from "vitest";
import { LiteHeaders } from "./lite-headers.js";

describe("LiteHeaders", () => {
  it("behaves like WHATWG Headers for what handlers and interceptors do", () => {
    const h = new LiteHeaders();
    const w = new Headers();
    for (const x of [h, w] as Headers[]) {
      x.set("X-Request-Id", "a");
      x.append("Vary", "one");
      x.append("vary", "two");
      x.set("b-header", "1");
      x.delete("B-Header");
    }
    for (const name of ["x-request-id", "X-REQUEST-ID", "vary", "b-header", "missing"]) {
      expect(h.get(name), name).toBe(w.get(name));
      expect(h.has(name), name).toBe(w.has(name));
    }
    expect([...h]).toEqual([...w]);
    const seen: string[] = [];
    h.forEach((v, k) => seen.push(`${k}=${v}`));
    expect(seen).toEqual(["vary=one, two", "x-request-id=a"]);
  });

  it("reads HTTP/2 request headers without pseudo-headers, joining repeated values", () => {
    const h = LiteHeaders.fromHttp2({ ":path": "/x", ":method": "POST", authorization: "Bearer t", "x-forwarded-for": ["1.1.1.1", "2.2.2.2"] as never });
    expect(h.get("authorization")).toBe("Bearer t");
    expect(h.get("x-forwarded-for")).toBe("1.1.1.1, 2.2.2.2");
    expect(h.has(":path")).toBe(false);
    expect(h.size).toBe(2);
  });

  it("reads request headers in place, and copies them before the first write (the stream's object is never changed)", () => {
    const src = { ":path": "/x", "content-type": "application/grpc", "user-agent": "grpc-node-js/1.12", te: "trailers" };
    const h = LiteHeaders.fromHttp2(src);
    expect(h.get("Content-Type")).toBe("application/grpc");
    expect(h.get(":path")).toBeNull();
    expect(h.has("TE")).toBe(true);
    expect([...h.keys()]).toEqual(["content-type", "te", "user-agent"]);
    h.set("x-request-id", "r1");
    h.delete("te");
    expect(src).toEqual({ ":path": "/x", "content-type": "application/grpc", "user-agent": "grpc-node-js/1.12", te: "trailers" });
    expect([...h]).toEqual([...new Headers({ "content-type": "application/grpc", "user-agent": "grpc-node-js/1.12", "x-request-id": "r1" })]);
    expect(h.toHttp2()).toEqual({ "content-type": "application/grpc", "user-agent": "grpc-node-js/1.12", "x-request-id": "r1" });
  });

  it("an empty set holds no map and writes nothing into an HTTP/2 header object", () => {
    const h = new LiteHeaders();
    expect(h.size).toBe(0);
    expect(h.get("x")).toBeNull();
    expect(h.toHttp2({ "grpc-status": "0" })).toEqual({ "grpc-status": "0" });
  });
});
