import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AdminService } from "../../gen/presence/v1/admin_pb.js";
import type { ActivityQuery, ActivityRecord } from "../../src/core/activity.js";
import { startPostgres, type PostgresInstance } from "../support/postgres-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs } from "../support/ws-client.js";
import { connectClient } from "../support/clients.js";
import { UserState } from "../../gen/presence/v1/types_pb.js";

/**
 * What a single node records from its commit feed (memory store, history on a real PostgreSQL):
 * joins and leaves with the client's address and user agent (Connect and the WebSocket bridge),
 * status changes, an admin kick with the admin's identity and the KICKED leave it caused, an
 * anonymous viewer as counts only, and no typing or cursor rows. Then GetUserStatus completing a
 * user the store never saw from the durable status (the chat seed's degraded mode).
 */
let pg: PostgresInstance;
let server: TestServer;
let dbUrl: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  pg = await startPostgres();
  dbUrl = await pg.createDatabase();
  server = await startTestServer({ PRESENCE_HISTORY: "postgres", PRESENCE_POSTGRES_URL: dbUrl, PRESENCE_HISTORY_FLUSH_MS: "50" });
  await server.app.history.ready;
  for (const sub of ["ana", "bob"]) tokens[sub] = await signTestToken(TEST_SECRET, { sub, name: sub.toUpperCase() });
  tokens.ops = await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await pg?.stop();
});

async function rows(over: Partial<ActivityQuery> = {}): Promise<ActivityRecord[]> {
  await server.app.history.writer.flush();
  const q: ActivityQuery = { sinceMs: 0, untilMs: Date.now() + 60_000, kinds: [], includeInvisible: true, newestFirst: false, ...over };
  return (await server.app.history.store()!.listActivity(q, undefined, 1000)).rows;
}

describe("recording from the commit feed", () => {
  test("joins, leaves, status, typing (not recorded), kick with the admin, anonymous counts", async () => {
    const ua = "presence-test/1.0 (history)";
    const ana = createClient(
      (await import("../../gen/presence/v1/presence_pb.js")).PresenceService,
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${tokens.ana}`), req.header.set("user-agent", ua), next(req))] }),
    );
    const j = await ana.join({ room: "/rec/1", metadata: {} });
    const sid = j.session!.sessionId;
    await ana.setTyping({ sessionId: sid, room: "/rec/1", typing: true });
    await ana.updateCursor({ sessionId: sid, room: "/rec/1", position: { x: 1, y: 2 } });
    await ana.setStatus({ sessionId: sid, customStatus: "writing" });
    await ana.leave({ sessionId: sid, room: "/rec/1" });

    const bobWs = await connectWs(server.wsUrl, { token: tokens.bob });
    const joined = await bobWs.request({ case: "join", value: { room: "/rec/1", metadata: {} } });
    const bobSession = joined.frame.case === "join" ? joined.frame.value.session!.sessionId : "";
    await createClient(AdminService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" })).kickSession({ sessionId: bobSession }, { headers: { authorization: `Bearer ${tokens.ops}` } });
    bobWs.close();
    const anon = connectClient(server.baseUrl);
    await anon.join({ room: "/rec/1", metadata: {}, anonymousId: "viewer1" });

    const got = await rows({ room: { exact: "/rec/1" } });
    const summary = got.map((r) => [r.kind, r.userId, r.reason, r.version]);
    expect(summary).toEqual([
      ["join", "ana", "", 1],
      ["leave", "ana", "left", 2],
      ["join", "bob", "", 3],
      ["leave", "bob", "kicked", 4],
      ["anonymous", "", "", 5],
    ]);
    const [anaJoin, anaLeave, bobJoin, bobKicked, anonymous] = got as [ActivityRecord, ActivityRecord, ActivityRecord, ActivityRecord, ActivityRecord];
    expect(anaJoin).toMatchObject({ nodeId: server.app.nodeId, userAgent: ua, remoteAddr: expect.stringMatching(/127\.0\.0\.1$/), connectionId: j.session!.connectionId, detail: { name: "ANA" }, users: 1, connections: 1 });
    expect(anaLeave).toMatchObject({ userAgent: ua, remoteAddr: expect.stringMatching(/127\.0\.0\.1$/) });
    expect(bobJoin.remoteAddr).toMatch(/127\.0\.0\.1$/);
    expect(bobKicked).toMatchObject({ remoteAddr: "", userAgent: "" }); // committed by the admin's call, not bob's
    expect(anonymous).toMatchObject({ userId: "", connectionId: "", remoteAddr: "", detail: { viewersDelta: 1, connectionsDelta: 1 } });
    const admin = await rows({ kinds: ["admin"] });
    expect(admin).toEqual([expect.objectContaining({ userId: "ops", reason: "kick", connectionId: bobJoin.connectionId, detail: expect.objectContaining({ targetUserId: "bob", roomsLeft: 1 }) })]);
    const statuses = (await rows({ kinds: ["status"], userId: "ana" })).map((r) => [r.reason, r.detail.customStatus]);
    expect(statuses).toEqual([
      ["online", ""],
      ["online", "writing"],
      ["offline", "writing"],
    ]);
    // Nothing of typing or cursors, and no session id anywhere.
    expect(JSON.stringify(await rows())).not.toContain(sid);
    bobWs.terminate();
    anon.close?.();
  });

  test("durable status: written through, and GetUserStatus completes users the store never saw", async () => {
    await server.app.history.status.writer.flush();
    const ana = (await server.app.history.store()!.loadUserStatus(["ana"]))[0];
    expect(ana).toMatchObject({ userId: "ana", customStatus: "writing", invisible: false });
    expect(ana!.lastSeenMs).toBeGreaterThan(0);
    const durable = { customStatusMs: 1, invisibleMs: 1, updatedMs: 1 };
    await server.app.history.store()!.saveUserStatus([{ userId: "gone", lastSeenMs: 1_700_000_000_000, visibleLastSeenMs: 1_700_000_000_000, customStatus: "away on holiday", invisible: false, ...durable }]);
    await server.app.history.store()!.saveUserStatus([{ userId: "ghost", lastSeenMs: 1_700_000_500_000, visibleLastSeenMs: 1_700_000_000_000, customStatus: "", invisible: true, ...durable }]);
    const c = connectClient(server.baseUrl, tokens.bob);
    const r = await c.getUserStatus({ userIds: ["gone", "ghost", "never"] });
    expect(r.statuses.map((s) => [s.userId, s.state, Number(s.lastSeenMs), s.customStatus, s.invisible])).toEqual([
      ["gone", UserState.OFFLINE, 1_700_000_000_000, "away on holiday", false],
      ["ghost", UserState.OFFLINE, 1_700_000_000_000, "", false], // others see the last seen of when it went invisible
      ["never", UserState.OFFLINE, 0, "", false],
    ]);
  });

  test("an admin's purge-node is recorded with the admin's identity, and the KICKED leaves it caused", async () => {
    const carl = connectClient(server.baseUrl, await signTestToken(TEST_SECRET, { sub: "carl" }));
    const j = await carl.join({ room: "/rec/purge", metadata: {} });
    const admin = createClient(AdminService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }));
    const since = Date.now();
    const purged = await admin.purgeNode({ nodeId: server.app.nodeId, force: true }, { headers: { authorization: `Bearer ${tokens.ops}` } });
    expect(purged.sessionsKicked).toBeGreaterThanOrEqual(1);
    const actions = await rows({ kinds: ["admin"], sinceMs: since });
    expect(actions).toEqual([
      expect.objectContaining({
        userId: "ops",
        reason: "purge_node",
        nodeId: server.app.nodeId,
        detail: { target: server.app.nodeId, sessionsKicked: purged.sessionsKicked, roomsLeft: purged.roomsLeft },
      }),
    ]);
    const carlRows = (await rows({ room: { exact: "/rec/purge" } })).map((r) => [r.kind, r.userId, r.reason, r.connectionId]);
    expect(carlRows).toEqual([
      ["join", "carl", "", j.session!.connectionId],
      ["leave", "carl", "kicked", j.session!.connectionId],
    ]);
    carl.close?.();
  });
});
