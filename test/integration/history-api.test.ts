import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ActivityKind, HistoryService } from "../../gen/presence/v1/history_pb.js";
import { systemClock } from "../../src/core/clock.js";
import { createPgClient } from "../../src/history/sql/pg-client.js";
import { migrate } from "../../src/history/sql/migrations.js";
import { createSqlHistoryStore } from "../../src/history/sql/sql-history-store.js";
import { DAY, H, MIN, row, scriptedDay } from "../support/history-fixtures.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * HistoryService and the export route on a real server (port 0) backed by a real PostgreSQL whose
 * log holds the scripted day (written straight into the store): what each call returns over gRPC
 * and Connect, the export as CSV and NDJSON, and every bad input the issue lists (documented
 * codes, nothing leaked).
 */
let pg: PostgresInstance;
let server: TestServer;
let off: TestServer;
let admin: string;
let user: string;
const at = (h: number, m = 0) => DAY + h * H + m * MIN;
const day = scriptedDay();

beforeAll(async () => {
  pg = await startPostgres();
  const url = await pg.createDatabase();
  const c = createPgClient({ url, poolSize: 1, connectTimeoutMs: 2_000, statementTimeoutMs: 5_000 });
  await migrate(c);
  await createSqlHistoryStore(c, { clock: systemClock }).write([...day, row({ key: "inv", timeMs: at(9, 2), kind: "status", userId: "eve", invisible: true, reason: "online" })]);
  await c.close();
  server = await startTestServer({ PRESENCE_POSTGRES_URL: url, PRESENCE_HISTORY: "postgres", PRESENCE_HISTORY_MAX_PAGE_SIZE: "50", PRESENCE_HISTORY_EXPORT_PAGE_ROWS: "10" });
  await server.app.history.ready;
  off = await startTestServer();
  admin = await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" });
  user = await signTestToken(TEST_SECRET, { sub: "ana" });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await off?.close();
  await pg?.stop();
});

const auth = (token?: string) => (token ? { headers: { authorization: `Bearer ${token}` } } : {});
const grpc = (s: TestServer): Client<typeof HistoryService> => createClient(HistoryService, createGrpcTransport({ baseUrl: s.baseUrl }));
const connect = (s: TestServer): Client<typeof HistoryService> => createClient(HistoryService, createConnectTransport({ baseUrl: s.baseUrl, httpVersion: "1.1", useHttpGet: true }));

async function rejected(p: Promise<unknown>) {
  const e = ConnectError.from(await p.then(() => new Error("resolved"), (x: unknown) => x));
  return { code: e.code, reason: e.findDetails(ErrorInfoSchema)[0]?.reason, message: e.rawMessage };
}

describe("HistoryService", () => {
  test("ListActivity pages through a room pattern with page tokens (gRPC), kinds and user filters", async () => {
    const c = grpc(server);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const r = await c.listActivity({ room: "/doc/*", sinceMs: BigInt(at(0)), untilMs: BigInt(at(24)), pageSize: 4, pageToken }, auth(admin));
      seen.push(...r.records.map((x) => x.key));
      pageToken = r.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(day.filter((r) => r.room.startsWith("/doc/")).sort((a, b) => a.timeMs - b.timeMs).map((r) => r.key));
    const leaves = await c.listActivity({ room: "/doc/1", kinds: [ActivityKind.LEAVE], sinceMs: BigInt(at(0)), untilMs: BigInt(at(24)) }, auth(admin));
    expect(leaves.records.map((r) => [r.reason, r.userId, r.connectionId, Number(r.version), r.counts?.connections])).toEqual([
      ["left", "ana", "c1", 4, 2],
      ["timeout", "bob", "c2", 7, 1],
      ["left", "ana", "c3", 8, 0],
    ]);
    const ana = await c.listActivity({ userId: "ana", sinceMs: BigInt(at(0)), untilMs: BigInt(at(24)), newestFirst: true }, auth(admin));
    expect(ana.records.map((r) => r.kind)).toEqual([ActivityKind.LEAVE, ActivityKind.JOIN, ActivityKind.LEAVE, ActivityKind.STATUS, ActivityKind.JOIN]);
    // Admins see invisible users' rows.
    expect((await c.listActivity({ userId: "eve", sinceMs: BigInt(at(0)), untilMs: BigInt(at(24)) }, auth(admin))).records).toHaveLength(1);
  });

  test("GetRoomAt and GetRoomStatistics answer from the log (Connect GET)", async () => {
    const c = connect(server);
    const r = await c.getRoomAt({ room: "/doc/1", atMs: BigInt(at(10, 16)) }, auth(admin));
    expect([r.epoch, Number(r.version), r.counts?.connections, r.counts?.anonymous, r.members.map((m) => [m.userId, m.connectionId, Number(m.joinedAtMs), m.name])]).toEqual([
      "e1", 5, 3, 1,
      [["bob", "c2", at(9, 30), "BOB"], ["ana", "c3", at(10, 15), "ANA"]],
    ]);
    const s = await c.getRoomStatistics({ room: "/doc/1", sinceMs: BigInt(at(9)), untilMs: BigInt(at(13)) }, auth(admin));
    expect({ ...s, $typeName: undefined, joinsPerHour: s.joinsPerHour.map((h) => [Number(h.hourStartMs), h.joins]) }).toMatchObject({
      uniqueUsers: 2, sessions: 4, totalPresenceMs: BigInt(290 * MIN), averagePresenceMs: BigInt(72.5 * MIN), peakConnections: 3, peakAtMs: BigInt(at(9, 45)),
      joinsPerHour: [[at(9), 3], [at(10), 1]], gaps: 0,
    });
  });

  test("bad input: documented codes and reasons, messages naming the field and the limit", async () => {
    const c = grpc(server);
    const range = { room: "/doc/1", sinceMs: BigInt(at(9)), untilMs: BigInt(at(13)) };
    expect(await rejected(c.listActivity({ ...range, sinceMs: BigInt(at(14)) }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_TIME_RANGE", message: expect.stringMatching(/^until_ms: must not be before since_ms/) });
    expect(await rejected(c.getRoomStatistics({ ...range, sinceMs: 1n }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_TIME_RANGE", message: expect.stringMatching(/at most 8035200000 ms/) });
    expect(await rejected(c.listActivity({ ...range, sinceMs: -5n }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_TIME_RANGE" });
    expect(await rejected(c.listActivity({ ...range, pageSize: 51 }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_ARGUMENT", message: "page_size: must be at most 50 rows (got 51)" });
    expect(await rejected(c.listActivity({ ...range, kinds: [99 as ActivityKind] }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/^kinds: unknown kind "kind_99"/) });
    expect(await rejected(c.listActivity({ ...range, room: "/doc/\u0001" }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_ROOM", message: "room: must not contain control characters (U+0001 at index 5)" });
    expect(await rejected(c.getRoomAt({ room: "" }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_ROOM" });
    expect(await rejected(c.getRoomAt({ room: "/doc/1", atMs: -1n }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_TIME_RANGE" });
    // Page tokens: forged, or made for another query.
    const first = await c.listActivity({ ...range, pageSize: 2 }, auth(admin));
    expect(first.nextPageToken).not.toBe("");
    for (const pageToken of ["not-a-token", Buffer.from('{"v":1,"t":0,"s":0,"a":0,"b":1,"q":"x"}').toString("base64url"), first.nextPageToken.slice(0, -2)]) {
      expect(await rejected(c.listActivity({ ...range, pageSize: 2, pageToken }, auth(admin)))).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_PAGE_TOKEN" });
    }
    expect(await rejected(c.listActivity({ ...range, room: "/doc/2", pageSize: 2, pageToken: first.nextPageToken }, auth(admin)))).toMatchObject({ reason: "INVALID_PAGE_TOKEN" });
    // No audit right: nothing is returned, whatever the room.
    expect(await rejected(c.listActivity(range, auth(user)))).toMatchObject({ code: Code.PermissionDenied, reason: "ROOM_FORBIDDEN", message: 'room: operation "audit" is not allowed on room "/doc/1"' });
    expect(await rejected(c.listActivity({ ...range, room: "" }, auth(user)))).toMatchObject({ code: Code.PermissionDenied, reason: "PERMISSION_DENIED", message: expect.stringMatching(/across rooms .* needs an admin token/) });
    expect(await rejected(c.getRoomAt({ room: "/doc/1" }, auth(user)))).toMatchObject({ code: Code.PermissionDenied });
    expect(await rejected(c.getRoomStatistics(range))).toMatchObject({ code: Code.PermissionDenied, reason: "ROOM_FORBIDDEN" }); // anonymous: no rights
    expect(await rejected(c.listActivity({ ...range, room: "/doc/*" }))).toMatchObject({ code: Code.Unauthenticated, reason: "UNAUTHENTICATED" });
  });

  test("the audit right (rights model): one room through a capability or an operator role; reads across rooms need an admin", async () => {
    const c = grpc(server);
    const range = { sinceMs: BigInt(at(0)), untilMs: BigInt(at(24)) };
    const auditor = await signTestToken(TEST_SECRET, { sub: "aud", capability: { "/doc/**": ["audit"] } });
    const operator = await signTestToken(TEST_SECRET, { sub: "op", room_roles: { "/doc/2": "operator" } });
    expect((await c.listActivity({ ...range, room: "/doc/1" }, auth(auditor))).records).toHaveLength(8);
    expect((await c.getRoomAt({ room: "/doc/1", atMs: BigInt(at(10, 16)) }, auth(auditor))).members).toHaveLength(2);
    expect((await c.listActivity({ ...range, room: "/doc/2" }, auth(operator))).records.map((r) => r.userId)).toEqual(["cy"]);
    expect(await rejected(c.listActivity({ ...range, room: "/doc/1" }, auth(operator)))).toMatchObject({ code: Code.PermissionDenied, reason: "ROOM_FORBIDDEN" });
    expect(await rejected(c.getRoomStatistics({ ...range, room: "/other" }, auth(auditor)))).toMatchObject({ code: Code.PermissionDenied, reason: "ROOM_FORBIDDEN" });
    expect(await rejected(c.listActivity({ ...range, room: "/doc/*" }, auth(auditor)))).toMatchObject({ code: Code.PermissionDenied, message: expect.stringMatching(/across rooms/) });
    expect(await rejected(c.listActivity({ ...range, userId: "ana" }, auth(auditor)))).toMatchObject({ code: Code.PermissionDenied });
    const res = await fetch(`${server.baseUrl}/v1/history/export?room=/doc/1&since_ms=${at(0)}&until_ms=${at(24)}`, auth(auditor));
    expect([res.status, (await res.text()).trimEnd().split("\n").length]).toEqual([200, 9]);
  });

  test("a server with PRESENCE_HISTORY=off answers HISTORY_DISABLED", async () => {
    expect(await rejected(grpc(off).listActivity({}, auth(admin)))).toMatchObject({ code: Code.FailedPrecondition, reason: "HISTORY_DISABLED" });
    const res = await fetch(`${off.baseUrl}/v1/history/export`, auth(admin));
    expect([res.status, (await res.json()).reason]).toEqual([400, "HISTORY_DISABLED"]);
  });
});

describe("export over HTTP GET", () => {
  const exportUrl = (q: Record<string, string>) => `${server.baseUrl}/v1/history/export?${new URLSearchParams(q)}`;
  const range = { since_ms: String(at(0)), until_ms: String(at(24)) };

  test("CSV: a header line and one line per row, oldest first, in pages (export page 10 rows here)", async () => {
    const res = await fetch(exportUrl({ ...range, room: "/doc/1" }), auth(admin));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const lines = (await res.text()).trimEnd().split("\n");
    expect(lines[0]).toBe("time,time_ms,kind,room,user_id,connection_id,reason,node_id,remote_address,user_agent,epoch,version,invisible,users,connections,anonymous,detail,key");
    expect(lines).toHaveLength(1 + 8);
    expect(lines[1]).toBe(`2026-11-23T09:00:00.000Z,${at(9)},join,/doc/1,ana,c1,,node-a,,,e1,1,false,1,1,0,"{""name"":""ANA""}",m:/doc/1:e1:1`);
  });

  test("NDJSON: one JSON object per row; kinds filter; 14 rows cross two export pages", async () => {
    const res = await fetch(exportUrl({ ...range, format: "ndjson", kinds: "join,leave,anonymous,status,admin" }), auth(admin));
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const rows = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((r) => r.key)).toEqual([...day, row({ key: "inv", timeMs: at(9, 2), kind: "status" })].sort((a, b) => a.timeMs - b.timeMs).map((r) => r.key));
  });

  test("bad requests are JSON errors before any row: no token 401, user 403, bad format or range 400", async () => {
    const cases: [Record<string, string>, string | undefined, number, string][] = [
      [range, undefined, 401, "UNAUTHENTICATED"],
      [range, user, 403, "PERMISSION_DENIED"],
      [{ ...range, format: "xml" }, admin, 400, "INVALID_ARGUMENT"],
      [{ since_ms: String(at(10)), until_ms: String(at(9)) }, admin, 400, "INVALID_TIME_RANGE"],
      [{ since_ms: "yesterday" }, admin, 400, "INVALID_TIME_RANGE"],
      [{ ...range, kinds: "join,cursor" }, admin, 400, "INVALID_ARGUMENT"],
    ];
    for (const [q, token, status, reason] of cases) {
      const res = await fetch(exportUrl(q), auth(token));
      const body = await res.text();
      expect([res.status, JSON.parse(body).reason]).toEqual([status, reason]);
      expect(body).not.toContain("ana");
    }
  });
});

describe("presence activity / stats (the CLI, as a child process)", () => {
  const ROOT = fileURLToPath(new URL("../..", import.meta.url));
  const cli = (args: string[], token = admin) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PRESENCE_"))), PRESENCE_URL: server.baseUrl, PRESENCE_ADMIN_TOKEN: token };
      execFile(process.execPath, ["bin/presence.mjs", ...args], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  const span = ["--since", new Date(at(0)).toISOString(), "--until", String(at(24))];

  test("activity prints the log as a table, --csv streams the export, stats prints the figures", async () => {
    const table = await cli(["activity", "--room", "/doc/1", "--kinds", "leave", ...span]);
    expect(table.stderr).toBe("");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^TIME +KIND +ROOM +USER +CONNECTION +REASON +NODE$/m);
    expect(table.stdout).toMatch(/^2026-11-23T11:00:00.000Z +leave +\/doc\/1 +bob +c2 +timeout +node-a$/m);
    expect(table.stdout).toMatch(/^3 rows$/m);
    const limited = await cli(["activity", "--room", "/doc/*", "--limit", "2", ...span]);
    expect(limited.stdout).toMatch(/^2 rows \(more: raise --limit/m);
    const csv = await cli(["activity", "--room", "/doc/1", "--csv", ...span]);
    expect(csv.stdout.trimEnd().split("\n")).toHaveLength(9);
    const stats = await cli(["stats", "--room", "/doc/1", "--since", String(at(9)), "--until", String(at(13))]);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/^2 +4 +4 h 50 min +1 h 12 min +3 +2026-11-23T09:45:00.000Z$/m);
    expect(stats.stdout).toMatch(/^2026-11-23T09:00 +3$/m);
    const roomAt = await cli(["room-at", "--room", "/doc/1", "--at", "2026-11-23T10:16:00Z"]);
    expect(roomAt.stdout).toMatch(/^users=2 connections=3 anonymous=1$/m);
    expect(roomAt.stdout).toMatch(/^bob +BOB +c2 +2026-11-23T09:30:00.000Z$/m);
    expect(roomAt.stdout).toMatch(/^ana +ANA +c3 +2026-11-23T10:15:00.000Z$/m);
  });

  test("mistakes: bad times and missing --room are usage errors (2); no audit right is a server error (1)", async () => {
    expect(await cli(["activity", "--since", "yesterday"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--since: must be an ISO 8601 time/) });
    expect(await cli(["stats"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--room is required/) });
    expect(await cli(["rooms", "--csv"])).toMatchObject({ code: 2 });
    expect(await cli(["activity", "--room", "/doc/1", ...span], user)).toMatchObject({ code: 1, stderr: expect.stringMatching(/^presence: permission_denied ROOM_FORBIDDEN: room: operation "audit" is not allowed/) });
    expect(await cli(["activity", "--csv", ...span], user)).toMatchObject({ code: 1, stderr: expect.stringMatching(/PERMISSION_DENIED/), stdout: "" });
  });
});
