import { describe, expect, it } from "vitest";
import { CLOSE_CODES, closeByCode, closeRetryOf, ERROR_REASONS, retryOf, STATUS_CODES, statusName, TERMINAL_CLOSE_MIN } from "./error-policy.js";
import { PresenceError } from "./presence-error.js";

describe("error policy", () => {
  it("gives every close code that stands for a reason the close code of that reason", () => {
    for (const [name, c] of Object.entries(CLOSE_CODES)) {
      if (c.reason !== null) expect(ERROR_REASONS[c.reason].close, name).toBe(name);
    }
  });

  it("keeps every close code in the range of its advice: 4500–4999 exactly for terminal reasons", () => {
    for (const [name, r] of Object.entries(ERROR_REASONS)) {
      if (r.close === null) continue;
      const code = CLOSE_CODES[r.close].code;
      expect(code >= TERMINAL_CLOSE_MIN, `${name} closes with ${code}, its retry is ${r.retry}`).toBe(r.retry === "never");
      expect(code >= 4000 && code <= 4999, name).toBe(true);
    }
  });

  it("uses one close code number once", () => {
    const codes = Object.values(CLOSE_CODES).map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("derives a PresenceError's status code from its reason", () => {
    expect(new PresenceError("METADATA_TOO_LARGE", "x").code).toBe("resource_exhausted");
    expect(new PresenceError("INVALID_ROOM", "x").code).toBe("invalid_argument");
    expect(new PresenceError("NODE_ALIVE", "x").code).toBe("failed_precondition");
    expect(new PresenceError("RATE_LIMITED", "x").code).toBe("resource_exhausted");
  });

  it("advises by reason first, then by status code, then backoff", () => {
    expect(retryOf("unauthenticated", "TOKEN_EXPIRED")).toBe("new_token");
    expect(retryOf("unauthenticated", "TOKEN_INVALID")).toBe("never");
    expect(retryOf("not_found", "SESSION_NOT_FOUND")).toBe("rejoin");
    expect(retryOf("resource_exhausted", "TOO_MANY_WATCHERS")).toBe("backoff");
    expect(retryOf("resource_exhausted", "TOO_MANY_ROOMS")).toBe("never");
    // A reason from a newer server, or none at all: the status code decides.
    expect(retryOf("resource_exhausted", "SOME_FUTURE_REASON")).toBe("backoff");
    expect(retryOf("invalid_argument", "SOME_FUTURE_REASON")).toBe("never");
    expect(retryOf("unimplemented")).toBe("never");
    expect(retryOf("unavailable")).toBe("backoff");
    expect(retryOf("closed")).toBe("backoff");
    // Inherited object keys are not reasons.
    expect(retryOf("invalid_argument", "toString")).toBe("never");
  });

  it("advises on close codes by their reason, and on unknown codes by range", () => {
    expect(closeRetryOf(4005)).toBe("rejoin");
    expect(closeRetryOf(4003)).toBe("new_token");
    expect(closeRetryOf(4006)).toBe("backoff");
    expect(closeRetryOf(4503)).toBe("never");
    expect(closeRetryOf(1000)).toBe("backoff");
    expect(closeRetryOf(1006)).toBe("backoff");
    expect(closeRetryOf(4321)).toBe("backoff");
    expect(closeRetryOf(4777)).toBe("never");
    expect(closeByCode(4001)?.reason).toBe("SLOW_CONSUMER");
    expect(closeByCode(4999)).toBeUndefined();
  });

  it("names status numbers", () => {
    expect(statusName(8)).toBe("resource_exhausted");
    expect(statusName(16)).toBe("unauthenticated");
    expect(statusName(0)).toBe("unknown");
    expect(statusName(99)).toBe("unknown");
    expect(Object.keys(STATUS_CODES).map((k) => statusName(STATUS_CODES[k as keyof typeof STATUS_CODES].grpc))).toEqual(Object.keys(STATUS_CODES));
  });
});
