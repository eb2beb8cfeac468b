import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { ErrorReason } from "../../../gen/presence/v1/errors_pb.js";
import { ErrorFrameSchema } from "../../../gen/presence/v1/frames_pb.js";
import { fromClose, fromConnectError, fromErrorFrame } from "./errors.js";

const connectError = (code: Code, reason?: string) =>
  new ConnectError("m", code, undefined, reason ? [{ desc: ErrorInfoSchema, value: { reason, domain: "presence.v1" } }] : []);

describe("SDK errors follow the shared policy", () => {
  it("reads the reason of a Connect error and advises by it", () => {
    const expired = fromConnectError(connectError(Code.Unauthenticated, "TOKEN_EXPIRED"));
    expect(expired).toMatchObject({ code: "unauthenticated", reason: "TOKEN_EXPIRED", retry: "new_token", retryable: true });
    expect(fromConnectError(connectError(Code.Unauthenticated, "TOKEN_INVALID"))).toMatchObject({ retry: "never", retryable: false, requestRejected: false });
    expect(fromConnectError(connectError(Code.NotFound, "SESSION_NOT_FOUND"))).toMatchObject({ retry: "rejoin", sessionLost: true });
    expect(fromConnectError(connectError(Code.ResourceExhausted, "TOO_MANY_WATCHERS"))).toMatchObject({ retry: "backoff", requestRejected: false });
    expect(fromConnectError(connectError(Code.ResourceExhausted, "METADATA_TOO_LARGE"))).toMatchObject({ retry: "never", requestRejected: true });
    expect(fromConnectError(connectError(Code.ResourceExhausted, "MESSAGE_TOO_LARGE"))).toMatchObject({ retry: "never", requestRejected: true });
    expect(fromConnectError(connectError(Code.PermissionDenied, "PERMISSION_DENIED"))).toMatchObject({ retry: "never", requestRejected: true });
  });

  it("falls back to the status code without a reason (RPC layer, proxies, stream resets)", () => {
    expect(fromConnectError(connectError(Code.ResourceExhausted))).toMatchObject({ code: "resource_exhausted", reason: undefined, retry: "backoff" });
    expect(fromConnectError(connectError(Code.Unimplemented))).toMatchObject({ retry: "never", requestRejected: false });
    expect(fromConnectError(new TypeError("fetch failed"))).toMatchObject({ code: "unknown", retry: "backoff" });
  });

  it("reads ErrorFrames of the WebSocket bridge", () => {
    const frame = create(ErrorFrameSchema, { code: 8, reason: ErrorReason.RATE_LIMITED, message: "frames: must be at most 256 frames in flight per socket (got 257)" });
    expect(fromErrorFrame(frame)).toMatchObject({ code: "resource_exhausted", reason: "RATE_LIMITED", retry: "backoff" });
    expect(fromErrorFrame(create(ErrorFrameSchema, { code: 3, reason: ErrorReason.INVALID_ROOM }))).toMatchObject({ retry: "never", requestRejected: true });
  });

  it("reads close codes: the reason each stands for, and the range for unknown ones", () => {
    expect(fromClose(4005, "session ended")).toMatchObject({ code: "closed", closeCode: 4005, reason: "SESSION_NOT_FOUND", sessionLost: true });
    expect(fromClose(4006, "rate limited")).toMatchObject({ reason: "RATE_LIMITED", retry: "backoff" });
    expect(fromClose(4003, "token expired")).toMatchObject({ reason: "TOKEN_EXPIRED", retry: "new_token" });
    expect(fromClose(4503, "too large")).toMatchObject({ reason: "MESSAGE_TOO_LARGE", retry: "never", requestRejected: false });
    expect(fromClose(1000, "bye")).toMatchObject({ reason: undefined, retry: "backoff" });
    expect(fromClose(1006, "")).toMatchObject({ retry: "backoff", message: "socket closed (1006)" });
    expect(fromClose(4599, "from a newer server")).toMatchObject({ reason: undefined, retry: "never" });
    expect(fromClose(4099, "from a newer server")).toMatchObject({ reason: undefined, retry: "backoff" });
  });
});
