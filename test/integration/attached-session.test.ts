import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/presence/v1/admin_pb.js";
import { PresenceService, type WatchPresenceResponse } from "../../gen/presence/v1/presence_pb.js";
import { connectWs } from "../support/ws-client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/**
 * Attached binding (design §9): a WatchPresence stream that names a session keeps it alive without
 * Heartbeat. When the stream ends the session is kept for the reconnect grace: a new stream naming
 * it within the grace continues it with no leave/join broadcast (flap suppression); after the grace
 * it leaves once with reason TIMEOUT. Timings are shrunk: TTL 300 ms, node refresh 100 ms,
 * reaper 25 ms, grace 400 ms.
 */
const servers: TestServer[] = [];
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup() {
  const s = await startTestServer({
    PRESENCE_SESSION_TTL_MS: "300",
    PRESENCE_HEARTBEAT_INTERVAL_MS: "100",
    PRESENCE_NODE_REFRESH_MS: "100",
    PRESENCE_REAPER_INTERVAL_MS: "25",
    PRESENCE_RECONNECT_GRACE_MS: "400",
  });
  servers.push(s);
  const transport = (token: string) =>
    createGrpcTransport({ baseUrl: s.baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))] });
  const as = async (sub: string) => createClient(PresenceService, transport(await signTestToken(TEST_SECRET, { sub, name: sub })));
  const admin = async () => createClient(AdminService, transport(await signTestToken(TEST_SECRET, { sub: "ops", role: "admin" })));
  return { s, as, admin };
}

function stream(client: Client<typeof PresenceService>, room: string, sessionId?: string) {
  const ac = new AbortController();
  aborts.push(ac);
  const got: WatchPresenceResponse[] = [];
  const ended = (async (): Promise<unknown> => {
    try {
      for await (const m of client.watchPresence({ room, sessionId }, { signal: ac.signal })) got.push(m);
    } catch (e) {
      if (!ac.signal.aborted) return e;
    }
    return undefined;
  })();
  return { got, ended, stop: () => ac.abort() };
}

const membership = (got: WatchPresenceResponse[]) =>
  got.flatMap((m) => (m.message.case === "event" && m.message.value.kind.case ? [m.message.value.kind.case] : []));

describe("attached sessions (WatchPresence with session_id)", () => {
  it("stay alive without heartbeats while the stream is open", async () => {
    const { as } = await setup();
    const ana = await as("ana");
    const j = await ana.join({ room: "/doc" });
    const observer = stream(await as("bob"), "/doc");
    const bound = stream(ana, "/doc", j.session!.sessionId);
    await sleep(1_200); // four TTLs without a single Heartbeat
    expect(membership(observer.got)).toEqual([]);
    expect((await ana.getPresence({ room: "/doc" })).view!.counts!.users).toBe(1);
    expect(bound.got[0]!.message.case).toBe("snapshot");
  });

  it("a reconnect within the grace continues the session with no leave/join broadcast", async () => {
    const { as } = await setup();
    const ana = await as("ana");
    const j = await ana.join({ room: "/doc" });
    const observer = stream(await as("bob"), "/doc");
    const first = stream(ana, "/doc", j.session!.sessionId);
    await sleep(150);
    first.stop(); // abrupt end of the stream
    await sleep(250); // < grace (400 ms)
    const second = stream(ana, "/doc", j.session!.sessionId);
    await sleep(900);
    expect(second.got[0]!.message.case).toBe("snapshot");
    expect(membership(observer.got)).toEqual([]);
    const hb = await ana.heartbeat({ sessionId: j.session!.sessionId });
    expect(hb.lease).toBeDefined();
  });

  it("past the grace the session leaves once with reason TIMEOUT", async () => {
    const { as } = await setup();
    const ana = await as("ana");
    const j = await ana.join({ room: "/doc" });
    const observer = stream(await as("bob"), "/doc");
    const bound = stream(ana, "/doc", j.session!.sessionId);
    await sleep(150);
    const t0 = Date.now();
    bound.stop();
    while (membership(observer.got).length === 0 && Date.now() - t0 < 3_000) await sleep(10);
    const elapsed = Date.now() - t0;
    expect(membership(observer.got)).toEqual(["left"]);
    const left = observer.got.find((m) => m.message.case === "event")!.message;
    expect(left.case === "event" && left.value.kind.case === "left" && left.value.kind.value.reason).toBe(2); // TIMEOUT
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(400 + 25 + 1_000); // grace + reaper interval, with slack for a loaded machine
    await sleep(200);
    expect(membership(observer.got)).toEqual(["left"]);
  });

  it("refuses to bind another user's or an unknown session", async () => {
    const { as } = await setup();
    const ana = await as("ana");
    const j = await ana.join({ room: "/doc" });
    const mallory = stream(await as("mallory"), "/doc", j.session!.sessionId);
    expect(await mallory.ended).toMatchObject({ code: 5, rawMessage: expect.stringContaining("join again") });
    const unknown = stream(ana, "/doc", "no-such-session");
    expect(await unknown.ended).toMatchObject({ code: 5 });
  });

  it("a kicked session ends its transports: the watch stream with SESSION_NOT_FOUND, the socket with 4005", async () => {
    const { s, as, admin } = await setup();
    const ana = await as("ana");
    const j = await ana.join({ room: "/doc" });
    const bound = stream(ana, "/doc", j.session!.sessionId);
    const ws = await connectWs(s.wsUrl, { token: await signTestToken(TEST_SECRET, { sub: "bob", name: "bob" }) });
    const wj = await ws.request({ case: "join", value: { room: "/doc" } });
    expect(wj.frame.case).toBe("join");
    const wsSession = wj.frame.case === "join" ? wj.frame.value.session!.sessionId : "";
    while (bound.got.length === 0) await sleep(10);

    const ops = await admin();
    const t0 = Date.now();
    await ops.kickSession({ sessionId: j.session!.sessionId });
    await ops.kickSession({ sessionId: wsSession });
    // Found gone by the node refresh (every 100 ms here), not left hanging until the client speaks.
    expect(await bound.ended).toMatchObject({ code: 5, rawMessage: expect.stringContaining("join again") });
    expect(await ws.closed).toEqual({ code: 4005, reason: "session ended" });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((await ana.getPresence({ room: "/doc" })).view!.counts!.connections).toBe(0);
  });
});
