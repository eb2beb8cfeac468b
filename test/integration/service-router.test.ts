import { createMemoryRoomLifecycle } from "../../src/store/memory/memory-room-lifecycle.js";
import { createRoomService } from "../../src/service/room-service.js";
import { createMemoryScopeStore } from "../../src/store/memory/memory-scope-store.js";
import { createScopeService } from "../../src/service/scope-service.js";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { Activity, LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { createTokenVerifier } from "../../src/auth/verify-token.js";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import { PresenceError } from "../../src/core/presence-error.js";
import { createUserWatchHub } from "../../src/fanout/user-watch-hub.js";
import { createFanoutHub } from "../../src/fanout/fanout-hub.js";
import { createMetrics } from "../../src/metrics/registry.js";
import { createPresenceService } from "../../src/service/presence-service.js";
import { createMemoryPresenceStore } from "../../src/store/memory/memory-store.js";
import { authInterceptor, metricsInterceptor } from "../../src/transport/connect/interceptors.js";
import { presenceRoutes } from "../../src/transport/connect/presence-routes.js";
import { createCallAdmission } from "../../src/transport/http/call-admission.js";
import { createClientAddress } from "../../src/transport/http/client-address.js";
import { testAccessGuard } from "../support/access.js";
import { signTestToken, TEST_SECRET, VERIFIER_DEFAULTS } from "../support/tokens.js";
import { recordWatch, toComparable, toComparableDomain, type RecordedWatch } from "../support/watch-recorder.js";

/*
 * The service through the same Connect routes and interceptors as the server, on connect's
 * in-memory router transport (no sockets), with the memory store, the fan-out hub and a fake clock:
 * round trips of join / heartbeat / leave / navigate, who may act on a session (design §9), the
 * service role's `on_behalf_of`, and expiry → TIMEOUT leave driven by the clock and `store.reap()`.
 */

const TTL_MS = 1_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function setup() {
  const clock = createFakeClock();
  const ids = createIdSource((n) => randomBytes(n));
  const timings = { ...DEFAULT_TIMINGS, sessionTtlMs: TTL_MS, heartbeatIntervalMs: 400 };
  const limits = DEFAULT_LIMITS;
  const scopes = createMemoryScopeStore();
  const store = createMemoryPresenceStore({ clock, ids, timings, limits, scopes });
  const hub = createFanoutHub({ rooms: store, bus: store, clock, timings, limits });
  const userHub = createUserWatchHub({ users: store, bus: store, clock, timings, limits, otherWatchers: () => 0 });
  const access = testAccessGuard(clock);
  const service = createPresenceService({ sessions: store, rooms: store, users: store, access, hub, userHub, clock, ids, limits, timings });
  const metrics = createMetrics();
  const verify = createTokenVerifier({ ...VERIFIER_DEFAULTS, hs256Secret: TEST_SECRET, allowAnonymous: true, cacheSize: 0 });
  const scopeService = createScopeService({ scopes, users: store, clock, limits, timings, otherWatchers: () => 0 });
  const lifecycle = createMemoryRoomLifecycle({ clock, limits: { maxParticipants: 100, defaultIdleTimeoutMs: 86_400_000, tombstoneMs: 600_000 } });
  const roomService = createRoomService({ lifecycle, clock, counts: async (r) => (await store.getView(r, { includeMembers: false })).counts, evict: (r, e) => store.endRoom(r, e), limits: { ...limits, maxParticipants: 100, defaultIdleTimeoutMs: 86_400_000, tombstoneMs: 600_000 } });
  const transport = createRouterTransport(presenceRoutes(service, scopeService, roomService), {
    router: { interceptors: [metricsInterceptor(metrics), authInterceptor(createCallAdmission({ verify, access, clientAddress: createClientAddress([]), onAuthFailure: (reason) => metrics.authFailures.inc({ reason }) }))] },
  });
  const client = createClient(PresenceService, transport);
  const watches: RecordedWatch[] = [];
  cleanups.push(() => {
    for (const w of watches) w.cancel();
    hub.close(new PresenceError("DRAINING", "test over"));
    return store.close();
  });
  const watch = (room: string) => {
    const w = recordWatch(client, { room });
    watches.push(w);
    return w;
  };
  return { clock, store, hub, client, metrics, watch };
}

const as = async (claims: Record<string, unknown>) => ({ headers: { authorization: `Bearer ${await signTestToken(TEST_SECRET, claims)}` } });

async function failure(p: Promise<unknown>): Promise<{ code: Code; reason: string | undefined; message: string }> {
  try {
    await p;
  } catch (e) {
    const ce = ConnectError.from(e);
    return { code: ce.code, reason: ce.findDetails(ErrorInfoSchema)[0]?.reason, message: ce.rawMessage };
  }
  throw new Error("expected the call to fail");
}

const NOT_FOUND = { code: Code.NotFound, reason: "SESSION_NOT_FOUND" };

async function view(client: Client<typeof PresenceService>, room: string) {
  return (await client.getPresence({ room })).view!;
}

describe("service over the in-memory router transport", () => {
  it("join, heartbeat and leave round trip", async () => {
    const { clock, client, store, metrics } = setup();
    const ana = await as({ sub: "ana", name: "Ana", picture: "https://a.example/ana.png" });
    const j = await client.join({ room: "r", metadata: { color: "red" } }, ana);
    expect(j.resumed).toBe(false);
    expect(j.session!.sessionId.length).toBeGreaterThanOrEqual(22);
    expect(j.session!.connectionId).not.toBe(j.session!.sessionId);
    expect(j.lease).toMatchObject({ ttlMs: BigInt(TTL_MS), heartbeatIntervalMs: 400n, expiresAtMs: BigInt(clock.now() + TTL_MS) });
    expect(j.view!.users).toHaveLength(1);
    expect(j.view!.users[0]!.user).toMatchObject({ userId: "ana", name: "Ana", avatarUrl: "https://a.example/ana.png" });
    expect(j.view!.users[0]!.connections[0]).toMatchObject({ connectionId: j.session!.connectionId, metadata: { color: "red" }, activity: Activity.ACTIVE });
    const sid = j.session!.sessionId;

    // Idempotent re-join; new metadata is one update.
    expect((await client.join({ room: "r", sessionId: sid, metadata: { color: "red" } }, ana)).view!.version).toBe(1n);
    expect((await client.join({ room: "r", sessionId: sid, metadata: { color: "blue" } }, ana)).view!.version).toBe(2n);

    clock.advance(600);
    const hb = await client.heartbeat({ sessionId: sid }, ana);
    expect(hb.lease!.expiresAtMs).toBe(BigInt(clock.now() + TTL_MS));
    expect((await view(client, "r")).version).toBe(2n);
    await client.heartbeat({ sessionId: sid, activity: Activity.AWAY }, ana);
    await client.heartbeat({ sessionId: sid, activity: Activity.AWAY }, ana);
    const away = await view(client, "r");
    expect(away.version).toBe(3n);
    expect(away.users[0]!.activity).toBe(Activity.AWAY);

    // Leaving a room the session is not in: OK, nothing changes.
    await client.join({ room: "other", sessionId: sid }, ana);
    expect((await client.leave({ sessionId: sid, room: "nowhere" }, ana)).left).toBe(false);
    expect((await client.leave({ sessionId: sid, room: "r" }, ana)).left).toBe(true);
    expect(toComparable(await view(client, "r"))).toMatchObject({ version: 4, users: {}, counts: { users: 0, connections: 0, anonymous: 0 } });
    // Leaving the last room ends the session.
    expect((await client.leave({ sessionId: sid, room: "other" }, ana)).left).toBe(true);
    expect(await failure(client.heartbeat({ sessionId: sid }, ana))).toMatchObject({ ...NOT_FOUND, message: expect.stringMatching(/join again/) });
    expect(store.stats().sessions).toBe(0);
    expect(await metrics.registry.getSingleMetricAsString("presence_rpc_duration_seconds")).toMatch(/presence_rpc_duration_seconds_count\{method="Heartbeat",code="NotFound",protocol="connect"\} 1/);
  });

  it("navigate: one leave and one join, the connection id kept, watchers of both rooms see it", async () => {
    const { client, watch } = setup();
    const ana = await as({ sub: "ana" });
    const wa = watch("/docs/a");
    const wb = watch("/docs/b");
    await wa.until((r) => r.snapshots() === 1);
    await wb.until((r) => r.snapshots() === 1);
    const j = await client.join({ room: "/docs/a" }, ana);
    const cid = j.session!.connectionId;
    const n = await client.navigate({ sessionId: j.session!.sessionId, fromRoom: "/docs/a", toRoom: "/docs/b", metadata: { tab: "1" } }, ana);
    expect(n.lease!.ttlMs).toBe(BigInt(TTL_MS));
    expect(toComparable(n.view!).users).toEqual({ ana: [cid] });
    expect(toComparable(await view(client, "/docs/a")).users).toEqual({});
    await wa.until((r) => r.leavesOf(cid) === 1);
    await wb.until((r) => r.joinsOf(cid) === 1);
    expect(wa.recorder.messages.filter((m) => m.kind === "event").map((m) => [m.eventKind, m.reason])).toEqual([
      ["joined", undefined],
      ["left", LeaveReason.LEFT],
    ]);
    expect(wb.recorder.view()!.users).toEqual({ ana: [cid] });
    expect([...wa.recorder.violations, ...wb.recorder.violations]).toEqual([]);
  });

  it("only the session's owner may act on it: anything else is SESSION_NOT_FOUND", async () => {
    const { client } = setup();
    const ana = await as({ sub: "ana" });
    const bob = await as({ sub: "bob" });
    const sid = (await client.join({ room: "r" }, ana)).session!.sessionId;
    expect(await failure(client.heartbeat({ sessionId: sid }, bob))).toMatchObject(NOT_FOUND);
    expect(await failure(client.leave({ sessionId: sid, room: "r" }, bob))).toMatchObject(NOT_FOUND);
    expect(await failure(client.navigate({ sessionId: sid, fromRoom: "r", toRoom: "s" }, bob))).toMatchObject(NOT_FOUND);
    expect(await failure(client.setTyping({ sessionId: sid, room: "r", typing: true }, bob))).toMatchObject(NOT_FOUND);
    expect(await failure(client.join({ room: "s", sessionId: sid }, bob))).toMatchObject(NOT_FOUND);
    expect(await failure(client.heartbeat({ sessionId: sid }))).toMatchObject(NOT_FOUND);
    expect(await failure(client.heartbeat({ sessionId: "no-such-session" }, ana))).toMatchObject(NOT_FOUND);
    // A foreign resume secret reclaims nothing: a new session.
    const reclaim = await client.join({ room: "r", sessionId: sid, resumeSecret: "wrong" }, ana);
    expect(reclaim.resumed).toBe(false);
    expect(reclaim.session!.sessionId).not.toBe(sid);
    // Nothing changed for Ana's session.
    expect((await view(client, "r")).counts!.connections).toBe(2);
    await client.heartbeat({ sessionId: sid }, ana);

    // Anonymous sessions: the id alone is the capability; a user token is another owner.
    const anon = (await client.join({ room: "r", anonymousId: "guest-1" })).session!.sessionId;
    await client.heartbeat({ sessionId: anon });
    expect(await failure(client.heartbeat({ sessionId: anon }, ana))).toMatchObject(NOT_FOUND);
    expect(await failure(client.setTyping({ sessionId: anon, room: "r", typing: true }))).toMatchObject({ code: Code.PermissionDenied, reason: "PERMISSION_DENIED" });
    expect((await client.leave({ sessionId: anon, room: "r" })).left).toBe(true);
  });

  it("the service role joins on behalf of a user; the session belongs to the service", async () => {
    const { client, watch } = setup();
    const svc = await as({ sub: "svc-a", role: "service" });
    const other = await as({ sub: "svc-b", role: "service" });
    const agent = await as({ sub: "agent-7" });
    const w = watch("support");
    await w.until((r) => r.snapshots() === 1);
    const j = await client.join({ room: "support", onBehalfOf: { userId: "agent-7", name: "Agent Seven", metadata: { team: "a" } } }, svc);
    const v = await view(client, "support");
    expect(v.users[0]!.user).toMatchObject({ userId: "agent-7", name: "Agent Seven", metadata: { team: "a" } });
    await w.until((r) => r.joinsOf(j.session!.connectionId) === 1);
    expect(w.recorder.view()!.users).toEqual({ "agent-7": [j.session!.connectionId] });

    const sid = j.session!.sessionId;
    await client.heartbeat({ sessionId: sid }, svc);
    expect(await failure(client.heartbeat({ sessionId: sid }, other))).toMatchObject(NOT_FOUND);
    expect(await failure(client.heartbeat({ sessionId: sid }, agent))).toMatchObject(NOT_FOUND);
    // Only the service (or admin) role may name someone else.
    expect(await failure(client.join({ room: "support", onBehalfOf: { userId: "x" } }, agent))).toMatchObject({ code: Code.PermissionDenied, reason: "PERMISSION_DENIED" });
    expect(await failure(client.join({ room: "support", onBehalfOf: { userId: "x" } }))).toMatchObject({ code: Code.PermissionDenied, reason: "PERMISSION_DENIED" });
    expect(await failure(client.join({ room: "support", onBehalfOf: { userId: "" } }, svc))).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining("on_behalf_of.user_id") });
    expect((await client.leave({ sessionId: sid, room: "support" }, svc)).left).toBe(true);
    await w.until((r) => r.leavesOf(j.session!.connectionId) === 1);
  });

  it("an expired session is reaped with TIMEOUT by the fake clock and store.reap(), and stays fenced", async () => {
    const { clock, client, store, watch } = setup();
    const ana = await as({ sub: "ana" });
    const bob = await as({ sub: "bob" });
    const w = watch("r");
    await w.until((r) => r.snapshots() === 1);
    const a = await client.join({ room: "r" }, ana);
    const b = await client.join({ room: "r" }, bob);
    clock.advance(TTL_MS - 1);
    expect(await store.reap()).toEqual({ expiredSessions: 0, leaves: 0 });
    await client.heartbeat({ sessionId: b.session!.sessionId }, bob);
    clock.advance(1);
    expect(await store.reap()).toEqual({ expiredSessions: 1, leaves: 1 });
    expect(await store.reap()).toEqual({ expiredSessions: 0, leaves: 0 });
    await w.until((r) => r.leavesOf(a.session!.connectionId) === 1);
    const left = w.recorder.messages.find((m) => m.eventKind === "left");
    expect(left).toMatchObject({ connectionId: a.session!.connectionId, reason: LeaveReason.TIMEOUT });
    expect(w.recorder.violations).toEqual([]);
    expect(w.recorder.view()).toEqual(toComparableDomain(await store.getView("r", { includeMembers: true })));
    expect(w.recorder.view()!.users).toEqual({ bob: [b.session!.connectionId] });
    // Fenced: even before the next reap, an expired session cannot be refreshed.
    expect(await failure(client.heartbeat({ sessionId: a.session!.sessionId }, ana))).toMatchObject(NOT_FOUND);
    clock.advance(TTL_MS);
    expect(await failure(client.heartbeat({ sessionId: b.session!.sessionId }, bob))).toMatchObject(NOT_FOUND);
    expect(await store.reap()).toEqual({ expiredSessions: 1, leaves: 1 });
  });
});
