/**
 * HeartbeatBatch and LeaveBatch against a real server (memory store and a real Redis), over gRPC
 * with a real connect-node client: 1,000 sessions per call, some unknown or another caller's, get
 * one result each in request order; unknown and foreign items change nothing (their sessions'
 * expiry and the rooms' versions stay as they were); the limits answer INVALID_ARGUMENT naming the
 * field and the limit.
 */
import { randomBytes } from "node:crypto";
import { ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendService } from "../../gen/presence/v1/backend_pb.js";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import { Activity } from "../../gen/presence/v1/types_pb.js";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
export const backendClient = (baseUrl: string, token: string): Client<typeof BackendService> =>
  createClient(BackendService, createGrpcTransport({ baseUrl, interceptors: [bearer(token)] }));

for (const store of ["memory", "redis"] as const) {
  describe(`HeartbeatBatch / LeaveBatch (${store})`, () => {
    let redis: RedisInstance | undefined;
    let server: TestServer;
    let service: string;
    let other: string;
    let presence: PresenceClient;
    let stranger: PresenceClient;

    beforeAll(async () => {
      let env: Record<string, string> = { PRESENCE_SESSION_TTL_MS: "60000", PRESENCE_HEARTBEAT_INTERVAL_MS: "20000" };
      if (store === "redis") {
        redis = await startRedis();
        env = { ...env, PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `b${randomBytes(4).toString("hex")}` };
      }
      server = await startTestServer(env);
      service = await signTestToken(TEST_SECRET, { sub: "batch-backend", role: "service" });
      other = await signTestToken(TEST_SECRET, { sub: "someone-else", name: "Else" });
      presence = connectClient(server.baseUrl, service);
      stranger = connectClient(server.baseUrl, other);
    }, 60_000);

    afterAll(async () => {
      presence.close();
      stranger.close();
      await server.close();
      await redis?.stop();
    });

    it("heartbeats 1,000 sessions in one call; unknown and foreign items fail alone and change nothing", async () => {
      const rooms = Array.from({ length: 10 }, (_, i) => `batch/${store}/hb/${i}`);
      const mine = await Promise.all(
        Array.from({ length: 980 }, (_, i) => presence.join({ room: rooms[i % 10]!, onBehalfOf: { userId: `u${i}`, name: `User ${i}` } })),
      );
      const foreign = await Promise.all(Array.from({ length: 10 }, (_, i) => stranger.join({ room: `batch/${store}/foreign/${i}` })));
      const versionsBefore = await Promise.all(foreign.map((f) => server.app.store.getView(f.view!.room, { includeMembers: true })));

      // Request order: mine (every 7th reports AWAY), then 10 unknown, then 10 foreign, interleaved.
      const items: Array<{ sessionId: string; activity?: Activity; expect: "ok" | "unknown" | "foreign"; i?: number }> = mine.map((j, i) => ({
        sessionId: j.session!.sessionId,
        activity: i % 7 === 0 ? Activity.AWAY : undefined,
        expect: "ok" as const,
        i,
      }));
      for (let k = 0; k < 10; k++) {
        items.splice(k * 97 + 5, 0, { sessionId: randomBytes(18).toString("base64url"), expect: "unknown" });
        items.splice(k * 89 + 11, 0, { sessionId: foreign[k]!.session!.sessionId, expect: "foreign" });
      }
      expect(items).toHaveLength(1_000);
      const t0 = Date.now();
      const res = await backendClient(server.baseUrl, service).heartbeatBatch({ heartbeats: items.map((x) => ({ sessionId: x.sessionId, activity: x.activity ?? Activity.UNSPECIFIED })) });
      expect(res.results).toHaveLength(1_000);
      res.results.forEach((r, i) => {
        const want = items[i]!;
        if (want.expect === "ok") {
          expect(r.result.case, `item ${i}`).toBe("lease");
          if (r.result.case === "lease") expect(Number(r.result.value.expiresAtMs)).toBeGreaterThanOrEqual(t0 + 60_000 - 1_000);
        } else {
          expect(r.result.case, `item ${i}`).toBe("error");
          if (r.result.case === "error") expect(r.result.value).toMatchObject({ code: 5, reason: ErrorReason.SESSION_NOT_FOUND });
        }
      });
      // AWAY applied to exactly the items that asked for it.
      const views = await Promise.all(rooms.map((r) => server.app.store.getView(r, { includeMembers: true })));
      const away = new Set(views.flatMap((v) => v.users.filter((u) => u.activity === "away").map((u) => u.user.userId)));
      expect(away).toEqual(new Set(mine.map((_, i) => i).filter((i) => i % 7 === 0).map((i) => `u${i}`)));
      // Foreign sessions: not refreshed by the batch, their rooms untouched.
      const foreignAfter = await Promise.all(foreign.map((f) => server.app.store.getView(f.view!.room, { includeMembers: true })));
      expect(foreignAfter.map((v) => [v.epoch, v.version])).toEqual(versionsBefore.map((v) => [v.epoch, v.version]));
      for (const v of foreignAfter) expect(v.users.map((u) => [u.user.userId, u.activity])).toEqual([["someone-else", "active"]]);
    });

    it("leaves many sessions' rooms in one call, per item", async () => {
      const room = `batch/${store}/leave`;
      const a = await presence.join({ room, onBehalfOf: { userId: "la" } });
      const b = await presence.join({ room, onBehalfOf: { userId: "lb" } });
      const f = await stranger.join({ room });
      const res = await backendClient(server.baseUrl, service).leaveBatch({
        leaves: [
          { sessionId: a.session!.sessionId, room },
          { sessionId: b.session!.sessionId, room: `${room}/elsewhere` },
          { sessionId: f.session!.sessionId, room },
          { sessionId: b.session!.sessionId, room: "" },
        ],
      });
      expect(res.results.map((r) => r.result.case)).toEqual(["left", "left", "error", "error"]);
      expect(res.results[0]!.result.value).toMatchObject({ left: true });
      expect(res.results[1]!.result.value).toMatchObject({ left: false });
      expect(res.results[2]!.result.value).toMatchObject({ reason: ErrorReason.SESSION_NOT_FOUND });
      expect(res.results[3]!.result.value).toMatchObject({ code: 3, reason: ErrorReason.INVALID_ROOM, metadata: { field: "room" } });
      const view = await server.app.store.getView(room, { includeMembers: true });
      expect(view.users.map((u) => u.user.userId).sort()).toEqual(["lb", "someone-else"]);
    });

    it("refuses an empty batch and one over PRESENCE_MAX_BATCH_SESSIONS, naming the field and the limit", async () => {
      const client = backendClient(server.baseUrl, service);
      const empty = await client.heartbeatBatch({ heartbeats: [] }).catch((e: unknown) => ConnectError.from(e));
      expect(empty).toBeInstanceOf(ConnectError);
      expect((empty as ConnectError).message).toBe("[invalid_argument] heartbeats: must not be empty");
      const big = await client.leaveBatch({ leaves: Array.from({ length: 1_001 }, () => ({ sessionId: "x", room: "r" })) }).catch((e: unknown) => ConnectError.from(e));
      expect((big as ConnectError).message).toBe("[invalid_argument] leaves: must be at most 1000 items (got 1001)");
    });
  });
}
