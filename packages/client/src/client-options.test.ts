import { describe, expect, it } from "vitest";
import { transportOf } from "./client-options.js";

describe("transportOf", () => {
  it("takes the named transport, else the one the URL's scheme implies", () => {
    expect(transportOf({ url: "wss://presence.example.com/ws" })).toBe("websocket");
    expect(transportOf({ url: "WS://127.0.0.1:8081/ws" })).toBe("websocket");
    expect(transportOf({ url: "https://presence.example.com" })).toBe("connect");
    expect(transportOf({ url: "http://127.0.0.1:8080" })).toBe("connect");
    expect(transportOf({ url: "https://presence.example.com", transport: "websocket" })).toBe("websocket");
    expect(transportOf({ url: "/ws", transport: "websocket" })).toBe("websocket");
  });

  it("refuses a URL without a scheme it knows, naming the url and the option to pass", () => {
    expect(() => transportOf({ url: "/ws" })).toThrow('url "/ws" starts with neither ws(s):// (the WebSocket bridge) nor http(s):// (Connect); pass `transport`');
    expect(() => transportOf({ url: "ftp://x" })).toThrow(/pass `transport`/);
  });
});
