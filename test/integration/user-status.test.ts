import { createClient, ConnectError, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { PresenceService, type WatchUsersResponse } from "../../gen/presence/v1/presence_pb.js";
import { Activity, UserState } from "../../gen/presence/v1/types_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * User status over a real server: GetUserStatus (bulk, last seen), WatchUsers ("friends online":
 * snapshot then one change per change) and SetStatus (custom status, invisible). An invisible user
 * looks offline to everyone else, and real to themself.
 */
const servers: TestServer[] = [];
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(env: Record<string, string> = {}) {
  const s = await startTestServer({ PRESENCE_SESSION_TTL_MS: "400", PRESENCE_HEARTBEAT_INTERVAL_MS: "100", PRESENCE_REAPER_INTERVAL_MS: "50", ...env });
  servers.push(s);
  const as = async (sub: string, role?: string) => {
    const token = await signTestToken(TEST_SECRET, { sub, name: sub, ...(role ? { role } : {}) });
    return createClient(
      PresenceService,
      createGrpcTransport({ baseUrl: s.baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))] }),
    );
  };
  return { s, as };
}

function watch(client: Client<typeof PresenceService>, userIds: string[]) {
  const ac = new AbortController();
  aborts.push(ac);
  const got: WatchUsersResponse[] = [];
  // Resolves with the error that ended the stream (undefined when it ended by our abort).
  const done = (async (): Promise<unknown> => {
    try {
      for await (const m of client.watchUsers({ userIds }, { signal: ac.signal })) got.push(m);
    } catch (e) {
      if (!ac.signal.aborted) return e;
    }
    return undefined;
  })();
  const until = async (pred: (g: WatchUsersResponse[]) => boolean, ms = 3_000) => {
    const end = Date.now() + ms;
    while (!pred(got)) {
      if (Date.now() > end) throw new Error(`timeout; got ${JSON.stringify(got.map((m) => m.message.case))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { got, until, done, stop: () => ac.abort() };
}

const changes = (got: WatchUsersResponse[]) =>
  got.flatMap((m) => (m.message.case === "changed" ? [`${m.message.value.userId}:${UserState[m.message.value.state]}`] : []));

describe("user status", () => {
  it("friends online: snapshot first, then online → away → offline with last seen", async () => {
    const { as } = await setup();
    const bob = await as("bob");
    const ana = await as("ana");
    const w = watch(bob, ["ana", "cid"]);
    await w.until((g) => g.length >= 1);
    const snap = w.got[0]!.message;
    expect(snap.case).toBe("snapshot");
    expect(snap.case === "snapshot" && snap.value.statuses.map((s) => [s.userId, UserState[s.state]])).toEqual([["ana", "OFFLINE"], ["cid", "OFFLINE"]]);
    const j = await ana.join({ room: "/doc" });
    await w.until((g) => changes(g).length >= 1);
    await ana.heartbeat({ sessionId: j.session!.sessionId, activity: Activity.AWAY });
    await w.until((g) => changes(g).length >= 2);
    // A second watch starts with ana present: its snapshot tells her last activity (the join).
    const w2 = watch(bob, ["ana"]);
    await w2.until((g) => g.length >= 1);
    const snap2 = w2.got[0]!.message;
    expect(snap2.case === "snapshot" && snap2.value.statuses[0]!.lastActiveMs).toBeGreaterThan(0n);
    const before = Date.now();
    await ana.leave({ sessionId: j.session!.sessionId, room: "/doc" });
    await w.until((g) => changes(g).length >= 3);
    expect(changes(w.got)).toEqual(["ana:ONLINE", "ana:AWAY", "ana:OFFLINE"]);
    const [st] = (await bob.getUserStatus({ userIds: ["ana"] })).statuses;
    expect(st!.state).toBe(UserState.OFFLINE);
    expect(Number(st!.lastSeenMs)).toBeGreaterThanOrEqual(before - 5);
  });

  it("a session that expires makes its user offline, seen by watchers", async () => {
    const { as } = await setup();
    const ana = await as("ana");
    const w = watch(await as("bob"), ["ana"]);
    await ana.join({ room: "/doc" });
    await w.until((g) => changes(g).includes("ana:OFFLINE"), 3_000);
    expect(changes(w.got)).toEqual(["ana:ONLINE", "ana:OFFLINE"]);
  });

  it("custom status and invisibility: others see offline, the user sees the truth", async () => {
    const { as, s } = await setup();
    const ana = await as("ana");
    const bob = await as("bob");
    const before = Date.now();
    const j = await ana.join({ room: "/doc" });
    const keep = setInterval(() => void ana.heartbeat({ sessionId: j.session!.sessionId }).catch(() => {}), 100);
    try {
      // Last activity: the join, for anyone who may see the user; none for users never seen.
      const seen = (await bob.getUserStatus({ userIds: ["ana", "nobody"] })).statuses;
      expect(Number(seen[0]!.lastActiveMs)).toBeGreaterThanOrEqual(before);
      expect(Number(seen[0]!.lastActiveMs)).toBeLessThanOrEqual(Date.now());
      expect(seen[1]).toMatchObject({ state: UserState.OFFLINE, lastActiveMs: 0n });
      const w = watch(bob, ["ana"]);
      await w.until((g) => g.length >= 1);
      const set = await ana.setStatus({ sessionId: j.session!.sessionId, customStatus: "in a meeting" });
      expect(set.status).toMatchObject({ userId: "ana", state: UserState.ONLINE, customStatus: "in a meeting", invisible: false });
      await w.until((g) => g.length >= 2);
      const hidden = await ana.setStatus({ sessionId: j.session!.sessionId, invisible: true });
      expect(hidden.status).toMatchObject({ state: UserState.ONLINE, invisible: true, customStatus: "in a meeting" });
      await w.until((g) => changes(g).includes("ana:OFFLINE"));
      const last = w.got.at(-1)!.message;
      expect(last.case === "changed" && last.value).toMatchObject({ state: UserState.OFFLINE, customStatus: "", invisible: false });
      expect((await bob.getUserStatus({ userIds: ["ana"] })).statuses[0]).toMatchObject({ state: UserState.OFFLINE, invisible: false, lastActiveMs: 0n });
      const own = (await ana.getUserStatus({ userIds: ["ana"] })).statuses[0]!;
      expect(own).toMatchObject({ state: UserState.ONLINE, invisible: true });
      expect(own.lastActiveMs).toBeGreaterThan(0n);
      // Plain HTTP GET with JSON, like GetPresence.
      const res = await fetch(`${s.baseUrl}/presence.v1.PresenceService/GetUserStatus?encoding=json&message=${encodeURIComponent('{"userIds":["ana"]}')}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ statuses: [{ userId: "ana", state: "USER_STATE_OFFLINE" }] });
    } finally {
      clearInterval(keep);
    }
  });

  it("bad input: empty list, too many ids, bad id, too long status, anonymous setStatus", async () => {
    const { as, s } = await setup();
    const ana = await as("ana");
    const anon = createClient(PresenceService, createGrpcTransport({ baseUrl: s.baseUrl }));
    const reason = async (p: Promise<unknown>) => {
      try {
        await p;
        return "ok";
      } catch (e) {
        const ce = ConnectError.from(e);
        return `${ce.code}:${ce.rawMessage}`;
      }
    };
    expect(await reason(ana.getUserStatus({ userIds: [] }))).toBe("3:user_ids: must not be empty");
    expect(await reason(ana.getUserStatus({ userIds: Array.from({ length: 1_001 }, (_, i) => `u${i}`) }))).toBe("3:user_ids: must be at most 1000 ids (got 1001)");
    expect(await reason(ana.getUserStatus({ userIds: ["ok", "bad\u0000"] }))).toContain("3:user_ids[1]: must not contain control characters");
    expect(await reason(ana.getUserStatus({ userIds: ["ok", "u".repeat(129)] }))).toBe("3:user_ids[1]: must be at most 128 bytes (got 129)");
    const j = await ana.join({ room: "/doc" });
    expect(await reason(ana.setStatus({ sessionId: j.session!.sessionId, customStatus: "x".repeat(129) }))).toBe("3:custom_status: must be at most 128 bytes (got 129)");
    const a = await anon.join({ room: "/doc" });
    expect(await reason(anon.setStatus({ sessionId: a.session!.sessionId, invisible: true }))).toBe("7:session_id: anonymous sessions have no user status");
    const it = anon.watchUsers({ userIds: [] })[Symbol.asyncIterator]();
    expect(await reason(it.next())).toBe("3:user_ids: must not be empty");
  });

  it("user ids up to PRESENCE_MAX_USER_ID_BYTES: longer ids are answered when configured, and refused past the configured bound", async () => {
    const { as } = await setup({ PRESENCE_MAX_USER_ID_BYTES: "300" });
    const ana = await as("ana");
    expect((await ana.getUserStatus({ userIds: ["u".repeat(300)] })).statuses[0]).toMatchObject({ state: UserState.OFFLINE });
    await expect(ana.getUserStatus({ userIds: ["u".repeat(301)] })).rejects.toThrow("user_ids[0]: must be at most 300 bytes (got 301)");
  });

  it("shutdown ends user watches with unavailable", async () => {
    const { as, s } = await setup();
    const w = watch(await as("bob"), ["ana"]);
    await w.until((g) => g.length >= 1);
    await s.close();
    expect(await w.done).toMatchObject({ code: 14 });
  });
});
