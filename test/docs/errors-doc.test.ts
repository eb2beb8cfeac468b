import { readFileSync } from "node:fs";
import { Code } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { describe, expect, it } from "vitest";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import { CloseCode } from "../../gen/presence/v1/frames_pb.js";
import { renderErrorsPage } from "../../scripts/docs/errors-page.js";
import { CLOSE_CODES, ERROR_REASONS, STATUS_CODES } from "../../src/core/error-policy.js";

/*
 * The error policy table (src/core/error-policy.ts) is the one source: the contract's enums must
 * list exactly its rows, their comments must say what its "when" / "meaning" columns say, its
 * status codes must be Connect's, and docs/errors.md must be what `npm run docs` renders from it.
 */

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), "utf8");
const enumNames = (e: object) => Object.keys(e).filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED");

/** The `//` comment lines right above `<PREFIX><NAME> = <n>;`, joined into one sentence. */
function valueComments(proto: string, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = proto.split("\n");
  lines.forEach((line, i) => {
    const m = new RegExp(`^\\s*${prefix}(\\w+) = \\d+;`).exec(line);
    if (!m) return;
    const comment: string[] = [];
    for (let j = i - 1; j >= 0 && /^\s*\/\//.test(lines[j]!); j--) comment.unshift(lines[j]!.replace(/^\s*\/\/ ?/, ""));
    out.set(m[1]!, comment.join(" "));
  });
  return out;
}

describe("error policy and the contract", () => {
  it("has one row per ErrorReason of errors.proto, and no other", () => {
    expect(Object.keys(ERROR_REASONS).sort()).toEqual(enumNames(ErrorReason).sort());
  });

  it("has one row per CloseCode of frames.proto, with the same number", () => {
    expect(Object.keys(CLOSE_CODES).sort()).toEqual(enumNames(CloseCode).sort());
    for (const [name, c] of Object.entries(CLOSE_CODES)) expect(CloseCode[name as keyof typeof CloseCode], name).toBe(c.code);
  });

  it("uses Connect's status numbers and HTTP statuses", () => {
    const camel = (s: string) => s.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase());
    for (const [name, s] of Object.entries(STATUS_CODES)) {
      const code = Code[camel(name) as keyof typeof Code];
      expect(code, name).toBe(s.grpc);
      expect(codeToHttpStatus(code), name).toBe(s.http);
    }
    expect(Object.keys(STATUS_CODES)).toHaveLength(enumNames(Code).length);
  });

  it("documents each ErrorReason in errors.proto with the table's 'when'", () => {
    const comments = valueComments(read("proto/presence/v1/errors.proto"), "ERROR_REASON_");
    for (const [name, r] of Object.entries(ERROR_REASONS)) expect(comments.get(name), `ERROR_REASON_${name}`).toBe(r.when);
  });

  it("documents each CloseCode in frames.proto with the table's 'meaning'", () => {
    const comments = valueComments(read("proto/presence/v1/frames.proto"), "CLOSE_CODE_");
    for (const [name, c] of Object.entries(CLOSE_CODES)) expect(comments.get(name), `CLOSE_CODE_${name}`).toBe(c.meaning);
  });

  it("docs/errors.md is current (npm run docs)", () => {
    expect(read("docs/errors.md"), "docs/errors.md differs from the table: run npm run docs").toBe(renderErrorsPage());
  });
});
