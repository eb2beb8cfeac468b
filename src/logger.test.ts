import { describe, expect, it } from "vitest";
import { createLogger, REDACTED_KEYS } from "./logger.js";

describe("logger", () => {
  const collect = (level: Parameters<typeof createLogger>[0]) => {
    const lines: string[] = [];
    return { log: createLogger(level, (l) => lines.push(l)), lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
  };

  it("writes one JSON object per line with the level label, an ISO time and msg", () => {
    const { log, lines, json } = collect("info");
    log.info("hello", { room: "/a" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    expect(json()[0]).toMatchObject({ level: "info", msg: "hello", room: "/a" });
    expect(json()[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("drops lines below the threshold; silent writes nothing", () => {
    const { log, json } = collect("warn");
    log.trace("t");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(json().map((l) => l.level)).toEqual(["warn", "error"]);
    expect(log.enabled("info")).toBe(false);
    const quiet = collect("silent");
    quiet.log.error("e");
    expect(quiet.lines).toEqual([]);
  });

  it("serialises err with type, message, stack and cause", () => {
    const { log, json } = collect("error");
    log.error("failed", { err: new TypeError("outer", { cause: new Error("inner") }) });
    expect(json()[0]!.err).toMatchObject({ type: "TypeError", message: "outer: inner", stack: expect.stringContaining("caused by: Error: inner") });
  });

  it("redacts secret-like fields at the top level, one level down, in headers and in child bindings", () => {
    const { log, lines } = collect("trace");
    const fields = Object.fromEntries(REDACTED_KEYS.map((k) => [k, `SECRET-${k}`]));
    log.info("top", fields);
    log.info("nested", { req: fields, headers: { authorization: "Bearer SECRET-h" }, call: { headers: { authorization: "Bearer SECRET-h2" } } });
    log.child({ authorization: "Bearer SECRET-child", reqId: "r1" }).warn("child", { token: "SECRET-t" });
    const out = lines.join("\n");
    expect(out).not.toMatch(/SECRET/);
    expect(out).toContain('"reqId":"r1"');
    expect(out.match(/\[redacted\]/g)!.length).toBeGreaterThanOrEqual(2 * REDACTED_KEYS.length + 4);
  });
});
