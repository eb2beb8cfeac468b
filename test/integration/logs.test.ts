import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import { createLogger, type LogLevel } from "../../src/logger.js";
import { createMemoryPresenceStore } from "../../src/store/memory/memory-store.js";
import type { PresenceStore } from "../../src/store/presence-store.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs } from "../support/ws-client.js";

/*
 * Structured logs (issue 7) on a real server: JSON lines from pino, request ids taken from
 * `x-request-id` (or made) and echoed, server faults logged at error with the request id, and no
 * bearer token, session id or resume secret anywhere in the output, even at debug level.
 */

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(level: LogLevel, store?: PresenceStore) {
  const lines: string[] = [];
  server = await startTestServer({ PRESENCE_LOG_LEVEL: level }, { logger: createLogger(level, (l) => lines.push(l)), ...(store ? { store } : {}) });
  return { s: server, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** A Connect unary call with JSON bodies (headers as given); resolves with status, headers and body. */
async function call(s: TestServer, method: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.baseUrl}/presence.v1.PresenceService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

describe("logs and request ids", () => {
  it("echoes a well-formed x-request-id, replaces a malformed one, and logs a server fault at error with the request id", async () => {
    const mem = createMemoryPresenceStore({ clock: systemClock, ids: createIdSource((n) => randomBytes(n)), timings: DEFAULT_TIMINGS, limits: DEFAULT_LIMITS });
    // A real store whose room read fails unexpectedly: the server must answer `internal` and log why.
    const broken = Object.assign(Object.create(mem) as PresenceStore, {
      getView: async () => {
        throw new Error("disk on fire");
      },
    });
    const { s, json } = await start("info", broken);

    const ok = await call(s, "GetUserStatus", { userIds: ["ana"] }, { "x-request-id": "req-42.a:b_c" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-request-id")).toBe("req-42.a:b_c");

    for (const bad of ["has spaces", "x".repeat(129), "semi;colon"]) {
      const r = await call(s, "GetUserStatus", { userIds: ["ana"] }, { "x-request-id": bad });
      expect(r.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
    const made = await call(s, "GetUserStatus", { userIds: ["ana"] });
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

    const failed = await call(s, "GetPresence", { room: "/l" }, { "x-request-id": "fault-1" });
    expect(failed.status).toBe(500);
    expect(failed.body.message).toBe("internal error"); // the cause stays in the log
    expect(failed.headers.get("x-request-id")).toBe("fault-1");
    const line = json().find((l) => l.reqId === "fault-1");
    expect(line).toMatchObject({ level: "error", msg: "rpc failed", method: "GetPresence", service: "presence.v1.PresenceService", code: "Internal" });
    expect((line!.err as { message: string }).message).toBe("disk on fire");
    expect(typeof (line!.err as { stack: string }).stack).toBe("string");
    expect(line!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("at debug level, a Join with a bearer token, a reclaim with the resume secret and a WebSocket session leave no token, session id or secret in the output", async () => {
    const { s, lines, json } = await start("debug");
    const token = await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" });
    const auth = { authorization: `Bearer ${token}` };
    const j = await call(s, "Join", { room: "/l" }, { ...auth, "x-request-id": "join-1" });
    expect(j.status).toBe(200);
    const { sessionId, resumeSecret, connectionId } = j.body.session as { sessionId: string; resumeSecret: string; connectionId: string };
    const again = await call(s, "Join", { room: "/l", sessionId, resumeSecret }, auth);
    expect(again.body.resumed).toBe(true);
    expect((await call(s, "Heartbeat", { sessionId }, auth)).status).toBe(200);
    // A client mistake naming another session id: logged at debug (rpc failed), the id is not.
    const unknownSession = `${sessionId.slice(0, -4)}zzzz`;
    expect((await call(s, "Heartbeat", { sessionId: unknownSession }, auth)).status).toBe(404);
    // An unauthenticated call carrying a malformed token: logged (debug), the token is not.
    const bogus = "eyJhbGciOiJIUzI1NiJ9.bogus-token-value.sig";
    expect((await call(s, "Join", { room: "/l" }, { authorization: `Bearer ${bogus}` })).status).toBe(401);

    const ws = await connectWs(s.wsUrl, { token });
    const w = await ws.request({ case: "join", value: { room: "/w" } });
    const wsSession = w.frame.case === "join" ? w.frame.value.session : undefined;
    expect(wsSession?.sessionId).toBeTruthy();
    ws.terminate();
    await ws.closed;

    const all = () => lines.join("\n");
    await expect.poll(() => json().some((l) => l.msg === "websocket closed"), { timeout: 5_000 }).toBe(true);
    const wsClosed = json().find((l) => l.msg === "websocket closed")!;
    expect(wsClosed.connectionId).toBe(wsSession!.connectionId);
    expect(wsClosed.socket).toEqual(expect.any(Number));

    expect(json().find((l) => l.reqId === "join-1")).toMatchObject({ level: "debug", msg: "rpc finished", method: "Join" });
    expect(json().some((l) => l.msg === "rpc failed" && l.code === "Unauthenticated")).toBe(true);
    expect(json().some((l) => l.msg === "rpc failed" && l.code === "NotFound" && l.method === "Heartbeat")).toBe(true);
    for (const secret of [token, token.split(".")[2]!, sessionId, resumeSecret, unknownSession, bogus, "bogus-token-value", wsSession!.sessionId, wsSession!.resumeSecret]) {
      expect(all()).not.toContain(secret);
    }
    expect(connectionId).toBeTruthy();
  });

  it("honours the level threshold", async () => {
    for (const [level, expectListening, expectDebug] of [
      ["debug", true, true],
      ["info", true, false],
      ["error", false, false],
      ["silent", false, false],
    ] as const) {
      const { s, json } = await start(level);
      await call(s, "GetPresence", { room: "" }); // a client mistake: debug
      const msgs = json().map((l) => l.msg);
      expect(msgs.includes("presence server listening"), level).toBe(expectListening);
      expect(msgs.includes("rpc failed"), level).toBe(expectDebug);
      if (level === "silent") expect(json()).toEqual([]);
      await s.close();
      server = undefined;
    }
  });
});
