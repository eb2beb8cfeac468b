import { describe, expect, it } from "vitest";
import { ErrorReason } from "../../../gen/presence/v1/errors_pb.js";
import { limitExceeded, PresenceError, sessionNotFound, type PresenceErrorReason } from "../../core/presence-error.js";
import { CLOSE, closeCodeLabel, closeFor, errorFrameFor } from "./close-codes.js";

describe("close codes", () => {
  it("are the CloseCode values with their short reason texts", () => {
    expect(Object.values(CLOSE).map((c) => `${c.code} ${c.reason}`)).toEqual([
      "1000 bye",
      "4000 draining",
      "4001 slow consumer",
      "4002 server error",
      "4003 token expired",
      "4004 unavailable",
      "4005 session ended",
      "4006 rate limited",
      "4010 quota exceeded",
      "4011 store over budget",
      "4500 bad request",
      "4501 unauthenticated",
      "4502 forbidden",
      "4503 too large",
    ]);
  });

  it("maps errors by reason, and anything else to 4002", () => {
    const by = (reason: PresenceErrorReason) => closeFor(new PresenceError(reason, "x")).code;
    expect(by("DRAINING")).toBe(4000);
    expect(by("SLOW_CONSUMER")).toBe(4001);
    expect(by("TOKEN_EXPIRED")).toBe(4003);
    expect(by("STORE_UNAVAILABLE")).toBe(4004);
    expect(by("SESSION_NOT_FOUND")).toBe(4005);
    expect(by("RATE_LIMITED")).toBe(4006);
    expect(by("INVALID_ARGUMENT")).toBe(4500);
    expect(by("TOKEN_INVALID")).toBe(4501);
    expect(by("PERMISSION_DENIED")).toBe(4502);
    expect(by("MESSAGE_TOO_LARGE")).toBe(4503);
    expect(by("ROOM_FORBIDDEN")).toBe(4502);
    expect(by("STATUS_FORBIDDEN")).toBe(4502);
    expect(by("QUOTA_EXCEEDED")).toBe(4010);
    expect(by("AUTH_UNAVAILABLE")).toBe(4004);
    expect(by("STORE_OVER_BUDGET")).toBe(4011);
    // Admin-only reasons never end a socket; if one did, it would be a server error.
    expect(by("NODE_ALIVE")).toBe(4002);
    expect(closeFor(new Error("boom"))).toEqual(CLOSE.SERVER_ERROR);
    expect(closeFor("string")).toEqual(CLOSE.SERVER_ERROR);
  });

  it("builds ErrorFrames with the gRPC code of the reason, the reason and field metadata; never leaks unknown errors", () => {
    expect(errorFrameFor(limitExceeded("metadata", 1024, 1500, "bytes", "METADATA_TOO_LARGE"))).toEqual({
      code: 8,
      reason: ErrorReason.METADATA_TOO_LARGE,
      message: "metadata: must be at most 1024 bytes (got 1500)",
      metadata: { field: "metadata", limit: "1024", actual: "1500" },
    });
    expect(errorFrameFor(sessionNotFound(), { room: "/r" })).toMatchObject({ code: 5, reason: ErrorReason.SESSION_NOT_FOUND, metadata: { field: "session_id", room: "/r" } });
    expect(errorFrameFor(limitExceeded("frames", 256, 257, "frames in flight per socket", "RATE_LIMITED"))).toMatchObject({ code: 8, reason: ErrorReason.RATE_LIMITED });
    expect(errorFrameFor(new Error("secret detail"))).toEqual({ code: 13, reason: ErrorReason.INTERNAL, message: "internal error", metadata: {} });
  });

  it("keeps close-code labels bounded", () => {
    expect(["1000", "1006", "4001", "4503"].map((c) => closeCodeLabel(Number(c)))).toEqual(["1000", "1006", "4001", "4503"]);
    expect(closeCodeLabel(4321)).toBe("4xxx_other");
    expect(closeCodeLabel(3000)).toBe("other");
  });
});
