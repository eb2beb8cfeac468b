import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AdminService } from "../../gen/presence/v1/admin_pb.js";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import type { ServerFrame } from "../../gen/presence/v1/frames_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { UserState } from "../../gen/presence/v1/types_pb.js";
import { expectRpcError, grpcJsClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { createSnapshotter, type StoreSnapshot } from "../support/store-snapshot.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs, type WsTestClient } from "../support/ws-client.js";

/*
 * The authorization matrix (issue 11): every RPC and every WebSocket frame type, for each kind of
 * caller, on the memory store and on a real Redis. Allowed calls succeed; refused ones answer the
 * documented code and reason with a message naming the operation and the room, and change nothing
 * in the store (a snapshot before and after each refusal: rooms, sessions, views, statuses and,
 * on Redis, every key name).
 *
 * The configuration is the specification (production mode, a key configured):
 *   anonymous callers   join/watch/read under /public/**
 *   users (no claim)    everything but kick/audit in /lobby, no status of others
 *   capability claim    everything but kick/audit under /team/**, and every user's status
 *   per-room roles      the user defaults, plus commenter in /doc/1 and viewer in /doc/2
 *   service, admin      everything
 * Connect, gRPC and gRPC-Web are used in turn by the callers (the check is the service's, so every
 * transport answers alike); one refusal is also checked through grpc-js.
 */
const ENV = {
  PRESENCE_ANONYMOUS_RIGHTS: JSON.stringify({ "/public/**": ["join", "watch", "read"] }),
  PRESENCE_USER_RIGHTS: JSON.stringify({ "/lobby": ["join", "watch", "read", "typing", "cursor"] }),
  PRESENCE_SESSION_TTL_MS: "600000",
  PRESENCE_HEARTBEAT_INTERVAL_MS: "300000",
  PRESENCE_CURSOR_FLUSH_MS: "5",
};

type Kind = "anonymous" | "user" | "capability" | "role" | "service" | "admin";
const KINDS: Kind[] = ["anonymous", "user", "capability", "role", "service", "admin"];
const CLAIMS: Record<Exclude<Kind, "anonymous">, Record<string, unknown>> = {
  user: { sub: "ana" },
  capability: { sub: "cap", capability: { "/team/**": ["join", "watch", "read", "typing", "cursor"], "user:**": ["status.read", "status.watch"] } },
  role: { sub: "rol", room_roles: { "/doc/1": "commenter", "/doc/2": "viewer" } },
  service: { sub: "svc", role: "service" },
  admin: { sub: "adm", role: "admin" },
};
/** A room each kind may join, watch and read. */
const HOME: Record<Kind, string> = { anonymous: "/public/a", user: "/lobby", capability: "/team/x", role: "/doc/1", service: "/svc/room", admin: "/adm/room" };
const SECRET = "/secret";
const privileged = (k: Kind) => k === "service" || k === "admin";
const ROOMS = [...Object.values(HOME), SECRET, "/doc/2"];
const USERS = ["ana", "cap", "rol", "svc", "adm", "bob"];

interface Failure {
  code: string;
  reason: string;
  message: string;
}

const failureOf = (e: unknown): Failure => {
  const ce = ConnectError.from(e);
  return { code: ce.code === 7 ? "permission_denied" : ce.code === 16 ? "unauthenticated" : String(ce.code), reason: ce.findDetails(ErrorInfoSchema)[0]?.reason ?? "", message: ce.rawMessage };
};
const forbidden = (op: string, room: string, field = "room"): Partial<Failure> => ({ code: "permission_denied", reason: "ROOM_FORBIDDEN", message: `${field}: operation "${op}" is not allowed on room "${room}"` });
const STATUS_FORBIDDEN: Partial<Failure> = { code: "permission_denied", reason: "STATUS_FORBIDDEN" };
const ANON_DENIED: Partial<Failure> = { code: "permission_denied", reason: "PERMISSION_DENIED" };

for (const store of ["memory", "redis"] as const) {
  describe(`authorization matrix on the ${store} store`, () => {
    let redis: RedisInstance | undefined;
    let server: TestServer;
    let snapshot: () => Promise<StoreSnapshot>;
    const tokens = {} as Record<Exclude<Kind, "anonymous">, string>;
    const rpc = {} as Record<Kind, Client<typeof PresenceService>>;
    const adminApi = {} as Record<Kind, Client<typeof AdminService>>;
    const sockets: WsTestClient[] = [];

    beforeAll(async () => {
      const prefix = `am${randomBytes(3).toString("hex")}`;
      if (store === "redis") redis = await startRedis();
      server = await startTestServer({ ...ENV, ...(redis ? { PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: prefix } : {}) });
      for (const k of Object.keys(CLAIMS) as (keyof typeof CLAIMS)[]) tokens[k] = await signTestToken(TEST_SECRET, { name: k, ...CLAIMS[k] }, 3600);
      KINDS.forEach((k, i) => {
        const token = k === "anonymous" ? undefined : tokens[k];
        const interceptors = token ? [(next: never) => (req: { header: Headers }) => (req.header.set("authorization", `Bearer ${token}`), (next as (r: unknown) => unknown)(req))] : [];
        const opts = { baseUrl: server.baseUrl, interceptors: interceptors as never };
        const transport = [createConnectTransport({ ...opts, httpVersion: "1.1" }), createGrpcTransport(opts), createGrpcWebTransport({ ...opts, httpVersion: "1.1" })][i % 3]!;
        rpc[k] = createClient(PresenceService, transport);
        adminApi[k] = createClient(AdminService, transport);
      });
      snapshot = createSnapshotter({ baseUrl: server.baseUrl, adminToken: tokens.admin, rooms: ROOMS, users: USERS, redis: redis ? { client: redis.client(), prefix } : undefined });
      // Someone whose status there is to see.
      const bob = createClient(PresenceService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [(next) => async (req) => (req.header.set("authorization", `Bearer ${await signTestToken(TEST_SECRET, { sub: "bob" })}`), next(req))] }));
      await bob.join({ room: "/lobby" });
    });
    afterAll(async () => {
      for (const s of sockets) s.terminate();
      await server?.close();
      await redis?.stop();
    });

    /**
     * The store once the allowed calls before have fully landed: the Redis store writes cursors in
     * batches (PRESENCE_CURSOR_FLUSH_MS, 5 ms here), after UpdateCursor has answered.
     */
    async function settled(): Promise<StoreSnapshot> {
      let last = await snapshot();
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 15));
        const next = await snapshot();
        if (JSON.stringify(next) === JSON.stringify(last)) return next;
        last = next;
      }
      throw new Error("the store did not settle");
    }

    /** Runs a call that must be refused: the failure it answers, with the store unchanged around it. */
    async function refused(call: () => Promise<unknown>, expected: Partial<Failure>): Promise<void> {
      const before = await settled();
      let failure: Failure | undefined;
      try {
        await call();
      } catch (e) {
        failure = failureOf(e);
      }
      expect(failure, "the call was allowed").toBeDefined();
      expect(failure).toMatchObject(expected);
      expect(await snapshot()).toEqual(before);
    }

    async function firstMessage(stream: AsyncIterable<unknown>): Promise<unknown> {
      for await (const m of stream) return m;
      return undefined;
    }

    for (const k of KINDS) {
      it(`${k}: every PresenceService RPC`, async () => {
        const c = rpc[k];
        const home = HOME[k];
        // Join: home allowed, the secret room only for privileged callers.
        const joined = await c.join({ room: home, anonymousId: k === "anonymous" ? "anon-matrix" : "" });
        const sessionId = joined.session!.sessionId;
        if (privileged(k)) await c.join({ room: SECRET, sessionId });
        else await refused(() => c.join({ room: SECRET, sessionId }), forbidden("join", SECRET));
        // Navigate into a forbidden room: refused before the session leaves its room.
        if (!privileged(k)) await refused(() => c.navigate({ sessionId, fromRoom: home, toRoom: SECRET }), forbidden("join", SECRET, "to_room"));
        // Typing and cursors: anonymous sessions never; others where their rights say.
        const typing = () => c.setTyping({ sessionId, room: home, typing: true });
        const cursor = () => c.updateCursor({ sessionId, room: home, position: { x: 1, y: 2 } });
        if (k === "anonymous") {
          await refused(typing, ANON_DENIED);
          await refused(cursor, ANON_DENIED);
        } else {
          await typing();
          await cursor();
          if (!privileged(k)) await refused(() => c.setTyping({ sessionId, room: SECRET, typing: true }), forbidden("typing", SECRET));
          if (!privileged(k)) await refused(() => c.updateCursor({ sessionId, room: SECRET, position: { x: 1, y: 1 } }), forbidden("cursor", SECRET));
        }
        if (k === "role") {
          // A viewer may join and watch /doc/2, not type there.
          await c.join({ room: "/doc/2", sessionId });
          await refused(() => c.setTyping({ sessionId, room: "/doc/2", typing: true }), forbidden("typing", "/doc/2"));
          const view = (await c.getPresence({ room: "/doc/2" })).view!;
          expect(view.users.find((u) => u.user?.userId === "rol")?.role).toBe("viewer");
          expect((await c.getPresence({ room: "/doc/1" })).view!.users.find((u) => u.user?.userId === "rol")?.connections[0]?.role).toBe("commenter");
        }
        // Reads and watches.
        expect((await c.getPresence({ room: home })).view?.room).toBe(home);
        expect(await firstMessage(c.watchPresence({ room: home }))).toMatchObject({ message: { case: "snapshot" } });
        expect((await c.batchGetPresence({ rooms: [home] })).views).toHaveLength(1);
        if (privileged(k)) {
          expect((await c.getPresence({ room: SECRET })).view?.counts?.connections).toBeGreaterThan(0);
        } else {
          await refused(() => c.getPresence({ room: SECRET }), forbidden("read", SECRET));
          await refused(() => c.batchGetPresence({ rooms: [home, SECRET] }), forbidden("read", SECRET, "rooms[1]"));
          await refused(() => firstMessage(c.watchPresence({ room: SECRET })), forbidden("watch", SECRET));
          await refused(() => firstMessage(c.watchPresence({ room: SECRET, sessionId })), forbidden("watch", SECRET));
        }
        // Other users' status.
        const seesStatus = k === "capability" || privileged(k);
        if (seesStatus) {
          expect((await c.getUserStatus({ userIds: ["bob"] })).statuses[0]?.state).toBe(UserState.ONLINE);
          expect(await firstMessage(c.watchUsers({ userIds: ["bob"] }))).toMatchObject({ message: { case: "snapshot" } });
        } else {
          await refused(() => c.getUserStatus({ userIds: ["bob"] }), { ...STATUS_FORBIDDEN, message: 'user_ids: operation "status.read" is not allowed on user "bob" (this caller may not see other users\' status)' });
          await refused(() => firstMessage(c.watchUsers({ userIds: ["bob"] })), STATUS_FORBIDDEN);
        }
        if (k !== "anonymous") expect((await c.getUserStatus({ userIds: [CLAIMS[k].sub as string] })).statuses[0]?.state).toBe(UserState.ONLINE); // one's own
        // Session calls need only the session.
        await c.heartbeat({ sessionId });
        if (k === "anonymous") await refused(() => c.setStatus({ sessionId, customStatus: "x" }), ANON_DENIED);
        else expect((await c.setStatus({ sessionId, customStatus: "busy" })).status?.customStatus).toBe("busy");
        expect((await c.leave({ sessionId, room: home })).left).toBe(true);
      });

      it(`${k}: every AdminService RPC`, async () => {
        const a = adminApi[k];
        const calls = [() => a.listRooms({}), () => a.listNodes({}), () => a.kickSession({ sessionId: "nope" }), () => a.purgeNode({ nodeId: "nope" })];
        if (k === "admin") {
          expect((await a.listRooms({})).rooms.length).toBeGreaterThan(0);
          expect((await a.listNodes({})).nodes.length).toBe(1);
          return;
        }
        for (const call of calls) await refused(call, k === "anonymous" ? { code: "unauthenticated", reason: "UNAUTHENTICATED" } : { code: "permission_denied", reason: "PERMISSION_DENIED" });
      });

      it(`${k}: every WebSocket frame type`, async () => {
        const ws = await connectWs(server.wsUrl, { token: k === "anonymous" ? undefined : tokens[k] });
        sockets.push(ws);
        const home = HOME[k];
        const ok = async (frame: Parameters<WsTestClient["request"]>[0], kind: string) => {
          const f = await ws.request(frame);
          expect(f.frame.case, f.frame.case === "error" ? f.frame.value.message : "").toBe(kind);
          return f;
        };
        const wsRefused = (frame: Parameters<WsTestClient["request"]>[0], expected: Partial<Failure>) =>
          refused(async () => {
            const f: ServerFrame = await ws.request(frame);
            if (f.frame.case !== "error") return f;
            const e = f.frame.value;
            throw new ConnectError(e.message, e.code, undefined, [{ desc: ErrorInfoSchema, value: { reason: ErrorReason[e.reason] } }]);
          }, expected);
        await ok({ case: "join", value: { room: home } }, "join");
        if (!privileged(k)) {
          await wsRefused({ case: "join", value: { room: SECRET } }, forbidden("join", SECRET));
          await wsRefused({ case: "navigate", value: { fromRoom: home, toRoom: SECRET } }, forbidden("join", SECRET, "to_room"));
          await wsRefused({ case: "watch", value: { room: SECRET } }, forbidden("watch", SECRET));
        } else {
          await ok({ case: "watch", value: { room: SECRET } }, "ack");
        }
        if (k === "anonymous") {
          await wsRefused({ case: "typing", value: { room: home, typing: true } }, ANON_DENIED);
          await wsRefused({ case: "cursor", value: { room: home, position: { x: 1, y: 1 } } }, ANON_DENIED);
          await wsRefused({ case: "status", value: { customStatus: "x" } }, ANON_DENIED);
        } else {
          await ok({ case: "typing", value: { room: home, typing: true } }, "ack");
          await ok({ case: "cursor", value: { room: home, position: { x: 3, y: 4 } } }, "ack");
          await ok({ case: "status", value: { customStatus: "ws" } }, "status");
          if (!privileged(k)) await wsRefused({ case: "typing", value: { room: SECRET, typing: true } }, forbidden("typing", SECRET));
          if (!privileged(k)) await wsRefused({ case: "cursor", value: { room: SECRET, position: { x: 1, y: 1 } } }, forbidden("cursor", SECRET));
        }
        await ok({ case: "watch", value: { room: home } }, "ack");
        await ws.waitFor((f) => f.frame.case === "watch" && f.frame.value.message.case === "snapshot");
        await ok({ case: "unwatch", value: { room: home } }, "ack");
        await ok({ case: "heartbeat", value: {} }, "heartbeat");
        await ok({ case: "leave", value: { room: home } }, "leave");
        ws.close(1000);
        await ws.closed;
      });
    }

    it("grpc-js gets the same refusal, details included", async () => {
      const c = grpcJsClient(server.baseUrl, tokens.user);
      try {
        const e = await expectRpcError(c.getPresence({ room: SECRET }));
        expect([e.code, e.errorInfo?.reason, e.message]).toEqual([7, "ROOM_FORBIDDEN", 'room: operation "read" is not allowed on room "/secret"']);
      } finally {
        c.close();
      }
    });
  });
}
