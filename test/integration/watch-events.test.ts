/**
 * BackendService.WatchEvents against real servers: the backend events of every room on one stream
 * (memory store; and on two nodes sharing a real Redis, events committed on the other node),
 * cursors and resume (exactly the missed events, in order), a `gap` for a cursor older than the
 * retention, filters by room pattern, user pattern and kind, and refusals.
 */
import { randomBytes } from "node:crypto";
import { ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BackendEventKind, BackendService, type WatchEventsResponse } from "../../gen/presence/v1/backend_pb.js";
import { connectClient, type PresenceClient } from "../support/clients.js";
import { startRedis, type RedisInstance } from "../support/redis-harness.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { waitFor } from "../support/watch-recorder.js";

const GRACE_MS = 300;
const ENV = { PRESENCE_RECONNECT_GRACE_MS: String(GRACE_MS), PRESENCE_REAPER_INTERVAL_MS: "50", PRESENCE_KEEPALIVE_MS: "200" };

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
const backend = (s: TestServer, token: string): Client<typeof BackendService> => createClient(BackendService, createGrpcTransport({ baseUrl: s.baseUrl, interceptors: [bearer(token)] }));

/** Reads a WatchEvents stream into an array until cancelled. */
function record(client: Client<typeof BackendService>, req: Parameters<Client<typeof BackendService>["watchEvents"]>[0]) {
  const got: WatchEventsResponse[] = [];
  const ac = new AbortController();
  const ended = (async () => {
    try {
      for await (const m of client.watchEvents(req, { signal: ac.signal })) got.push(m);
      return null;
    } catch (e) {
      return ConnectError.from(e);
    }
  })();
  const events = () => got.flatMap((m) => (m.message.case === "event" ? [m.message.value] : []));
  const names = () => events().map((e) => `${BackendEventKind[e.kind].toLowerCase()}${e.room ? ` ${e.room}` : ""}${e.userId ? ` ${e.userId}` : ""}`);
  return { got, events, names, ended, cancel: () => ac.abort() };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function clientsOf(s: TestServer) {
  const as = async (sub: string): Promise<PresenceClient> => {
    const c = connectClient(s.baseUrl, await signTestToken(TEST_SECRET, { sub }));
    cleanups.push(() => c.close());
    return c;
  };
  return as;
}

describe("WatchEvents (memory store)", () => {
  it("streams every room's backend events with cursors; a resume replays exactly what was missed", async () => {
    const server = await startTestServer(ENV);
    cleanups.push(() => server.close());
    const svc = await signTestToken(TEST_SECRET, { sub: "events-backend", role: "service" });
    const as = await clientsOf(server);
    const w = record(backend(server, svc), {});
    cleanups.push(w.cancel);
    await new Promise((r) => setTimeout(r, 150)); // the stream starts "now"
    const ana = await as("ana");
    const s = await ana.join({ room: "/we/a" });
    await waitFor(() => w.events().length >= 3, 5_000, "three events");
    expect(w.names().sort()).toEqual(["member_added /we/a ana", "room_occupied /we/a", "user_online ana"]);
    const cursor = w.got.filter((m) => m.message.case === "event")[2]!.cursor;
    expect(cursor).toMatch(/^\d+-\d+$/);
    w.cancel();
    // Missed while disconnected: the departures, after the grace.
    await ana.leave({ sessionId: s.session!.sessionId, room: "/we/a" });
    await new Promise((r) => setTimeout(r, GRACE_MS + 400));
    const again = record(backend(server, svc), { resumeAfter: cursor });
    cleanups.push(again.cancel);
    await waitFor(() => again.events().length >= 3, 5_000, "the missed events");
    expect(again.names().sort()).toEqual(["member_removed /we/a ana", "room_vacated /we/a", "user_offline ana"]);
    expect(again.got[0]!.message.case).toBe("event"); // no gap: still retained
    // Keepalives carry the cursor too.
    await waitFor(() => again.got.some((m) => m.message.case === "keepalive"), 3_000, "a keepalive");
  });

  it("filters by room pattern, user pattern and kind", async () => {
    const server = await startTestServer(ENV);
    cleanups.push(() => server.close());
    const svc = backend(server, await signTestToken(TEST_SECRET, { sub: "svc", role: "service" }));
    const as = await clientsOf(server);
    const docs = record(svc, { rooms: ["/we/docs/**"], kinds: [BackendEventKind.MEMBER_ADDED] });
    const users = record(svc, { users: ["team-*"], kinds: [BackendEventKind.USER_ONLINE] });
    cleanups.push(docs.cancel, users.cancel);
    await new Promise((r) => setTimeout(r, 150));
    await (await as("team-1")).join({ room: "/we/docs/a/b" });
    await (await as("solo")).join({ room: "/we/chat/1" });
    await (await as("team-2")).join({ room: "/we/chat/2" });
    await waitFor(() => docs.events().length >= 1 && users.events().length >= 2, 5_000, "filtered events");
    await new Promise((r) => setTimeout(r, 300));
    expect(docs.names()).toEqual(["member_added /we/docs/a/b team-1"]);
    expect(users.names().sort()).toEqual(["user_online team-1", "user_online team-2"]);
  });

  it("shows a user token the events of the rooms it may watch and the users whose status it may watch, checked per event", async () => {
    const server = await startTestServer(ENV);
    cleanups.push(() => server.close());
    const as = await clientsOf(server);
    // A capability replaces the default user rights: `watch` on /team/** and `status.watch` on team-* only.
    const lead = backend(server, await signTestToken(TEST_SECRET, { sub: "lead", capability: { "/team/**": ["watch"], "user:team-*": ["status.watch"] } }));
    const svc = backend(server, await signTestToken(TEST_SECRET, { sub: "svc", role: "service" }));
    const mine = record(lead, {});
    const all = record(svc, {});
    cleanups.push(mine.cancel, all.cancel);
    await new Promise((r) => setTimeout(r, 150));
    await (await as("team-1")).join({ room: "/team/a" });
    await (await as("solo")).join({ room: "/other/b" });
    await (await as("team-2")).join({ room: "/other/c" });
    await waitFor(() => all.events().length >= 9, 5_000, "every event on the service's stream");
    await new Promise((r) => setTimeout(r, 300)); // the user's stream read the same feed meanwhile
    expect(all.names().sort()).toEqual([
      "member_added /other/b solo",
      "member_added /other/c team-2",
      "member_added /team/a team-1",
      "room_occupied /other/b",
      "room_occupied /other/c",
      "room_occupied /team/a",
      "user_online solo",
      "user_online team-1",
      "user_online team-2",
    ]);
    expect(mine.names().sort()).toEqual(["member_added /team/a team-1", "room_occupied /team/a", "user_online team-1", "user_online team-2"]);
    // The filtered stream's cursor moves past the events it skipped (its keepalives carry it), so a
    // resume from it neither replays nor leaks them.
    const last = all.got.filter((m) => m.message.case === "event").at(-1)!.cursor;
    await waitFor(() => mine.got.at(-1)?.cursor === last, 3_000, "the user's cursor past the skipped events");
  });

  it("ends at token expiry like WatchPresence, and holds one unit of the watches quota", async () => {
    const server = await startTestServer({ ...ENV, PRESENCE_QUOTA_WATCHES: "1" });
    cleanups.push(() => server.close());
    const shortLived = backend(server, await signTestToken(TEST_SECRET, { sub: "ana" }, 2));
    const w = record(shortLived, {});
    cleanups.push(w.cancel);
    await waitFor(() => w.got.length > 0, 5_000, "a first keepalive");
    const second = record(shortLived, {});
    cleanups.push(second.cancel);
    const refused = await second.ended;
    expect(refused?.message).toBe("[resource_exhausted] quota watches: at most 1 open watches per user (got 2)");
    const ended = await w.ended;
    expect(ended?.message).toBe("[unauthenticated] token has expired: the stream ends; reconnect with a fresh token");
  });

  it("refuses callers with no watch right at all, bad patterns, kinds and cursors", async () => {
    const server = await startTestServer(ENV);
    cleanups.push(() => server.close());
    const svc = backend(server, await signTestToken(TEST_SECRET, { sub: "svc", role: "service" }));
    const joinOnly = backend(server, await signTestToken(TEST_SECRET, { sub: "someone", capability: { "/lobby": ["join"] } }));
    const first = async (c: Client<typeof BackendService>, req: Parameters<Client<typeof BackendService>["watchEvents"]>[0]) => {
      const r = record(c, req);
      return r.ended;
    };
    expect((await first(joinOnly, { rooms: ["/team/**"] }))?.message).toBe('[permission_denied] rooms: operation "watch" is not allowed on room "/team/**"');
    expect((await first(svc, { rooms: ["ok", ""] }))?.message).toBe("[invalid_argument] rooms[1]: must not be empty");
    expect((await first(svc, { rooms: Array(33).fill("x") }))?.message).toBe("[invalid_argument] rooms: must be at most 32 patterns (got 33)");
    expect((await first(svc, { kinds: [BackendEventKind.UNSPECIFIED] }))?.message).toBe("[invalid_argument] kinds[0]: must be a BackendEventKind other than UNSPECIFIED (got 0)");
    expect((await first(svc, { resumeAfter: "zzz" }))?.message).toBe("[invalid_argument] resume_after: must be a cursor received from WatchEvents");
  });
});

describe("WatchEvents (two nodes on Redis)", () => {
  let redis: RedisInstance;
  afterAll(() => redis?.stop());

  it("a watcher on one node sees the events committed on the other, once; an old cursor gets a gap", async () => {
    redis = await startRedis();
    const env = { ...ENV, PRESENCE_REDIS_URL: redis.url, PRESENCE_REDIS_PREFIX: `e${randomBytes(4).toString("hex")}`, PRESENCE_EVENTS_RETENTION_MS: "1000" };
    const [a, b] = await Promise.all([startTestServer(env), startTestServer(env)]);
    cleanups.push(() => a.close(), () => b.close());
    const svc = await signTestToken(TEST_SECRET, { sub: "svc", role: "service" });
    const w = record(backend(b, svc), { kinds: [BackendEventKind.MEMBER_ADDED, BackendEventKind.MEMBER_REMOVED] });
    cleanups.push(w.cancel);
    await new Promise((r) => setTimeout(r, 200));
    const onA = await clientsOf(a);
    const fay = await onA("fay");
    const s = await fay.join({ room: "/we/nodes" });
    await (await onA("gus")).join({ room: "/we/nodes" });
    await fay.leave({ sessionId: s.session!.sessionId, room: "/we/nodes" });
    await waitFor(() => w.events().length >= 3, 5_000, "three events from the other node");
    await new Promise((r) => setTimeout(r, 300));
    expect(w.names()).toEqual(["member_added /we/nodes fay", "member_added /we/nodes gus", "member_removed /we/nodes fay"]);
    const old = w.got.find((m) => m.message.case === "event")!.cursor;
    expect(old).toMatch(/^\d+-\d+$/);
    // Past the 1 s retention, with newer events appended (which trims the feed): a resume gets a gap.
    await new Promise((r) => setTimeout(r, 1_200));
    await (await onA("hal")).join({ room: "/we/nodes" });
    await waitFor(() => w.events().length >= 4, 5_000, "hal");
    const late = record(backend(a, svc), { resumeAfter: old });
    cleanups.push(late.cancel);
    await waitFor(() => late.got.length >= 1, 5_000, "the first message");
    expect(late.got[0]!.message.case).toBe("gap");
  });
});
