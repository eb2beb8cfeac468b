import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { PresenceService, WatchPresenceResponseSchema } from "../../gen/presence/v1/presence_pb.js";
import { Activity, Detail, LeaveReason } from "../../gen/presence/v1/types_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import {
  countsOnly,
  createWatchRecorder,
  recordWatch,
  toComparable,
  toComparableDomain,
  waitFor,
  type RecordedWatch,
} from "../support/watch-recorder.js";

/*
 * F-C6: watchers arrive while a room churns. 50 full watchers (and a few counts watchers) open one
 * after another while 1,000 joins and leaves hit one room from many sessions: users with one or two
 * connections and anonymous viewers (some sharing an anonymous id). After quiescence every watcher's
 * view must equal the store's, with no transition violation: each watcher applied a contiguous run of
 * versions after its snapshot, never joined a present connection or left an absent one, and saw each
 * connection join and leave at most once.
 *
 * F-C7: a watcher resumes with `resume_from`. Inside the retained log it gets exactly the missed
 * events (the first message is the event at version + 1); with an unknown epoch, a version from the
 * future or a version older than the retained log it gets one snapshot, never a partial catch-up.
 */

type PresenceClient = Client<typeof PresenceService>;

const servers: TestServer[] = [];
const watches: RecordedWatch[] = [];
afterEach(async () => {
  for (const w of watches.splice(0)) w.cancel();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(env: Record<string, string> = {}) {
  const server = await startTestServer(env);
  servers.push(server);
  const client = createClient(PresenceService, createGrpcTransport({ baseUrl: server.baseUrl }));
  return { server, client };
}

function watch(client: PresenceClient, request: Parameters<PresenceClient["watchPresence"]>[0], options: Parameters<typeof recordWatch>[2] = {}) {
  const w = recordWatch(client, request, options);
  watches.push(w);
  return w;
}

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function scrape(server: TestServer, series: string): Promise<number> {
  const line = (await server.app.metrics.registry.metrics()).split("\n").find((l) => l.startsWith(`${series} `));
  return Number(line?.split(" ").pop() ?? NaN);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("F-C6 watchers arriving during churn", () => {
  it.each([
    ["the default queue", {}],
    ["a 4-entry queue (overflow resyncs mid-churn)", { PRESENCE_WATCHER_QUEUE_SIZE: "4" }],
  ])("50 staggered watchers converge on the store's view with no transition violation, with %s", { timeout: 90_000 }, async (_name, env: Record<string, string>) => {
    // 1,000 operations as fast as the server answers, from one loopback address: this case is about
    // churn, not the per-caller request quotas (which stopped its anonymous leaves on Node 24).
    const unlimited = { PRESENCE_QUOTA_REQUESTS_PER_SEC: "100000", PRESENCE_QUOTA_REQUEST_BURST: "100000", PRESENCE_ANON_QUOTA_REQUESTS_PER_SEC: "100000", PRESENCE_ANON_QUOTA_REQUEST_BURST: "100000" };
    const { server, client } = await start({ ...unlimited, ...env });
    const room = "doc/churn";
    const opClients = Array.from({ length: 4 }, () => createClient(PresenceService, createGrpcTransport({ baseUrl: server.baseUrl })));
    const watchClients = Array.from({ length: 5 }, () => createClient(PresenceService, createGrpcTransport({ baseUrl: server.baseUrl })));

    // 60 users (the first 30 open two tabs at a time) and 40 anonymous ids (shared by some joins).
    const tokens = await Promise.all(Array.from({ length: 60 }, (_, i) => signTestToken(TEST_SECRET, { sub: `u${i}`, name: `User ${i}` })));
    const rnd = prng(42);
    type Live = { sessionId: string; connectionId: string; headers: Record<string, string>; anonymous: boolean; user: number };
    const live: Live[] = [];
    const tabsOf = new Map<number, number>();
    const TOTAL = 1_000;
    const WATCHERS = 50;
    let started = 0;
    let completed = 0;
    let joins = 0;
    let leaves = 0;
    const full: RecordedWatch[] = [];
    const counts: RecordedWatch[] = [];

    const startWatchersUpTo = (n: number) => {
      while (full.length < Math.min(n, WATCHERS)) {
        full.push(watch(watchClients[full.length % watchClients.length]!, { room }));
        if (full.length % 10 === 0) counts.push(watch(watchClients[0]!, { room, detail: Detail.COUNTS }, { counts: true }));
      }
    };

    async function oneOp(c: PresenceClient) {
      const leave = live.length > 0 && rnd() < 0.45;
      if (leave) {
        const s = live.splice(Math.floor(rnd() * live.length), 1)[0]!;
        const r = await c.leave({ sessionId: s.sessionId, room }, { headers: s.headers });
        expect(r.left).toBe(true);
        leaves++;
        if (!s.anonymous) tabsOf.set(s.user, (tabsOf.get(s.user) ?? 1) - 1);
        return;
      }
      const anonymous = rnd() < 0.3;
      if (anonymous) {
        const anonymousId = `anon${Math.floor(rnd() * 40)}`;
        const r = await c.join({ room, anonymousId, metadata: { tab: String(joins) } });
        live.push({ sessionId: r.session!.sessionId, connectionId: r.session!.connectionId, headers: {}, anonymous: true, user: -1 });
      } else {
        // A user with a free tab slot: u0..u29 may hold two connections, the others one.
        let u = Math.floor(rnd() * 60);
        for (let i = 0; i < 60 && (tabsOf.get(u) ?? 0) >= (u < 30 ? 2 : 1); i++) u = (u + 1) % 60;
        tabsOf.set(u, (tabsOf.get(u) ?? 0) + 1);
        const headers = bearer(tokens[u]!);
        const r = await c.join({ room, metadata: { tab: String(joins) } }, { headers });
        // Some users go away: `updated` events in the stream (before another worker may leave it).
        if (rnd() < 0.1) await c.heartbeat({ sessionId: r.session!.sessionId, activity: Activity.AWAY }, { headers });
        live.push({ sessionId: r.session!.sessionId, connectionId: r.session!.connectionId, headers, anonymous: false, user: u });
      }
      joins++;
    }

    startWatchersUpTo(1);
    let failed: unknown;
    const workers = Array.from({ length: 16 }, async (_, k) => {
      const c = opClients[k % opClients.length]!;
      try {
        while (started < TOTAL) {
          started++;
          await oneOp(c);
          completed++;
          // Watcher i opens after i * 20 operations: they arrive all through the churn.
          startWatchersUpTo(1 + Math.floor(completed / (TOTAL / WATCHERS)));
        }
      } catch (e) {
        failed ??= e;
        started = TOTAL; // stop the other workers before the server closes
      }
    });
    await Promise.all(workers);
    if (failed) throw failed;
    startWatchersUpTo(WATCHERS);
    expect(joins + leaves).toBe(TOTAL);

    const truth = await server.app.store.getView(room, { includeMembers: true });
    const expected = toComparableDomain(truth);
    const all = [...full, ...counts];
    // The last watchers open only now; on a loaded 2-core box (CI runs two test files at a time)
    // their snapshots can take more than 10 s: convergence is the property, not its speed.
    await waitFor(() => all.every((w) => w.recorder.position()?.version === truth.version), 30_000, `every watcher at v${truth.version}`);
    const viaRpc = toComparable((await client.getPresence({ room })).view!);
    expect(viaRpc).toEqual(expected);
    expect(expected.counts.connections).toBe(live.length);
    expect(Object.values(expected.users).flat().sort()).toEqual(live.filter((s) => !s.anonymous).map((s) => s.connectionId).sort());

    for (const w of full) {
      const r = w.recorder;
      expect(r.violations).toEqual([]);
      expect(r.view()).toEqual(expected);
      for (const cid of r.connectionIds()) {
        expect(r.joinsOf(cid)).toBeLessThanOrEqual(1);
        expect(r.leavesOf(cid)).toBeLessThanOrEqual(1);
      }
      // Versions strictly increase by one between snapshots.
      let last = -1;
      for (const m of r.messages) {
        if (m.kind === "snapshot") last = m.version!;
        else if (m.kind === "event") {
          expect(m.version).toBe(last + 1);
          last = m.version!;
        }
      }
    }
    for (const w of counts) {
      expect(w.recorder.violations).toEqual([]);
      expect(new Set(w.recorder.messages.map((m) => m.kind))).toEqual(new Set(["counts"]));
      expect(w.recorder.view()).toEqual({ ...countsOnly(expected), users: {} });
    }
    // Watchers that arrived mid-churn started from a snapshot; the room's versions were all applied once.
    const snapshots = full.reduce((n, w) => n + w.recorder.snapshots(), 0);
    expect(snapshots).toBeGreaterThanOrEqual(WATCHERS);
    expect(server.app.hub.watcherCount()).toEqual({ full: WATCHERS, counts: counts.length });
    console.info(`F-C6 (${_name}): v${truth.version}, ${snapshots} snapshots for ${WATCHERS} watchers, overflow resyncs ${await scrape(server, 'presence_resyncs_total{reason="overflow"}')}`);
    for (const w of all) w.cancel();
    await Promise.all(all.map((w) => w.ended));
    await waitFor(() => server.app.hub.watcherCount().full + server.app.hub.watcherCount().counts === 0, 10_000, "watchers removed");
  });
});

describe("F-C7 resume from a position", () => {
  const room = "doc/resume";

  async function churnedRoom(env: Record<string, string> = {}) {
    const { server, client } = await start(env);
    const token = await signTestToken(TEST_SECRET, { sub: "ana" });
    const join = async (anonymous = false) => {
      const r = anonymous ? await client.join({ room }) : await client.join({ room }, { headers: bearer(token) });
      return { sessionId: r.session!.sessionId, headers: anonymous ? {} : bearer(token) };
    };
    return { server, client, join, leave: (s: { sessionId: string; headers: Record<string, string> }) => client.leave({ sessionId: s.sessionId, room }, { headers: s.headers }) };
  }

  it("inside the retained log: only the missed events, the first at version + 1, then live events", async () => {
    const { server, client, join, leave } = await churnedRoom();
    const a = await join();
    await join(true);
    const first = watch(client, { room });
    await first.until((r) => r.snapshots() === 1, 5_000, "first snapshot");
    const b = await join();
    await leave(a);
    const at = (await server.app.store.getView(room, { includeMembers: false })).version;
    await first.until((r) => r.position()?.version === at, 5_000, `v${at}`);
    first.cancel();
    await first.ended;
    const from = first.recorder.view()!;

    // Missed while disconnected: a join, an anonymous join, an activity change and a leave.
    const c = await join();
    await join(true);
    await client.heartbeat({ sessionId: c.sessionId, activity: Activity.AWAY }, { headers: c.headers });
    await leave(b);
    const resumed = watch(client, { room, resumeFrom: { epoch: from.epoch, version: BigInt(from.version) } }, { from });
    await resumed.until((r) => r.position()?.version === at + 4, 5_000, `catch-up to v${at + 4}`);
    await join(); // live after the catch-up
    await resumed.until((r) => r.position()?.version === at + 5, 5_000, "live event after catch-up");

    const r = resumed.recorder;
    expect(r.violations).toEqual([]);
    expect(r.snapshots()).toBe(0);
    expect(r.messages[0]).toMatchObject({ kind: "event", epoch: from.epoch, version: from.version + 1 });
    expect(r.messages.filter((m) => m.kind === "event").map((m) => m.version)).toEqual([at + 1, at + 2, at + 3, at + 4, at + 5]);
    expect(r.view()).toEqual(toComparableDomain(await server.app.store.getView(room, { includeMembers: true })));
    expect(await server.app.metrics.registry.getSingleMetricAsString("presence_resyncs_total")).toMatch(/reason="resume_miss"} 0/);
  });

  it("at the current version: nothing to catch up, the next message is the next event", async () => {
    const { server, client, join } = await churnedRoom();
    await join();
    const first = watch(client, { room });
    await first.until((r) => r.snapshots() === 1);
    const from = first.recorder.view()!;
    first.cancel();
    const resumed = watch(client, { room, resumeFrom: { epoch: from.epoch, version: BigInt(from.version) } }, { from });
    await new Promise((r) => setTimeout(r, 50));
    expect(resumed.recorder.messages).toEqual([]);
    await join();
    await resumed.until((r) => r.events() === 1);
    expect(resumed.recorder.messages[0]).toMatchObject({ kind: "event", version: from.version + 1 });
    expect(resumed.recorder.violations).toEqual([]);
    expect(resumed.recorder.view()).toEqual(toComparableDomain(await server.app.store.getView(room, { includeMembers: true })));
  });

  it.each([
    ["an unknown epoch", (p: { epoch: string; version: number }) => ({ epoch: "no-such-epoch", version: p.version - 1 })],
    ["a version from the future", (p: { epoch: string; version: number }) => ({ epoch: p.epoch, version: p.version + 100 })],
    ["a version older than the retained log", (p: { epoch: string; version: number }) => ({ epoch: p.epoch, version: 1 })],
  ])("with %s: one fresh snapshot, never a partial catch-up", async (_name, stale) => {
    const { server, client, join, leave } = await churnedRoom({ PRESENCE_LOG_MAX_ENTRIES: "5" });
    const sessions = [];
    for (let i = 0; i < 12; i++) sessions.push(await join(i % 3 === 0));
    for (const s of sessions.slice(0, 4)) await leave(s);
    const now = await server.app.store.getView(room, { includeMembers: true });
    expect(now.version).toBe(16);
    const p = stale({ epoch: now.epoch, version: now.version });
    const resumed = watch(client, { room, resumeFrom: { epoch: p.epoch, version: BigInt(p.version) } });
    await resumed.until((r) => r.snapshots() === 1);
    await join();
    await resumed.until((r) => r.position()?.version === now.version + 1);
    const r = resumed.recorder;
    expect(r.violations).toEqual([]);
    expect(r.messages[0]).toMatchObject({ kind: "snapshot", first: true, epoch: now.epoch, version: now.version });
    expect(r.messages.filter((m) => m.kind === "event").map((m) => m.version)).toEqual([now.version + 1]);
    expect(r.view()).toEqual(toComparableDomain(await server.app.store.getView(room, { includeMembers: true })));
    expect(await server.app.metrics.registry.getSingleMetricAsString("presence_resyncs_total")).toMatch(/reason="resume_miss"} 1/);
  });

  it("counts watchers ignore resume_from, get only counts and end with the right counts", async () => {
    const { server, client, join, leave } = await churnedRoom();
    const a = await join();
    const w = watch(client, { room, detail: Detail.COUNTS, resumeFrom: { epoch: "whatever", version: 1n } }, { counts: true });
    await w.until((r) => r.messages.length === 1);
    expect(w.recorder.messages[0]).toMatchObject({ kind: "counts", version: 1 });
    const anon = await join(true);
    await join(true);
    await join();
    await leave(a);
    await leave(anon);
    const truth = await server.app.store.getView(room, { includeMembers: true });
    await w.until((r) => r.position()?.version === truth.version);
    expect(w.recorder.violations).toEqual([]);
    expect(new Set(w.recorder.messages.map((m) => m.kind))).toEqual(new Set(["counts"]));
    expect(w.recorder.view()).toEqual({ ...countsOnly(toComparableDomain(truth)), users: {} });
    expect(truth.counts).toEqual({ users: 1, connections: 2, anonymous: 1 });
  });
});

describe("watch recorder (self-check)", () => {
  const snap = (epoch: string, version: number, users: Record<string, string[]>, anonymous = 0) =>
    create(WatchPresenceResponseSchema, {
      message: {
        case: "snapshot",
        value: {
          first: true,
          last: true,
          view: {
            epoch,
            version: BigInt(version),
            counts: { users: Object.keys(users).length, connections: Object.values(users).flat().length + anonymous, anonymous },
            users: Object.entries(users).map(([userId, conns]) => ({ user: { userId }, connections: conns.map((connectionId) => ({ connectionId })) })),
          },
        },
      },
    });
  const joined = (epoch: string, version: number, userId: string, connectionId: string, firstOfUser: boolean, users: number, connections: number, anonymous = 0) =>
    create(WatchPresenceResponseSchema, {
      message: {
        case: "event",
        value: { epoch, version: BigInt(version), counts: { users, connections, anonymous }, kind: { case: "joined", value: { user: { userId }, connection: { connectionId }, firstOfUser } } },
      },
    });
  const left = (epoch: string, version: number, userId: string, connectionId: string, lastOfUser: boolean, users: number, connections: number, anonymous = 0) =>
    create(WatchPresenceResponseSchema, {
      message: {
        case: "event",
        value: { epoch, version: BigInt(version), counts: { users, connections, anonymous }, kind: { case: "left", value: { userId, connectionId, lastOfUser, reason: LeaveReason.LEFT } } },
      },
    });

  it("applies a snapshot and contiguous events", () => {
    const r = createWatchRecorder();
    r.apply(snap("e", 3, { ana: ["c1"] }, 1));
    r.apply(joined("e", 4, "ana", "c2", false, 1, 3, 1));
    r.apply(left("e", 5, "ana", "c1", false, 1, 2, 1));
    expect(r.violations).toEqual([]);
    expect(r.view()).toEqual({ epoch: "e", version: 5, users: { ana: ["c2"] }, counts: { users: 1, connections: 2, anonymous: 1 } });
    expect([r.snapshots(), r.events(), r.joinsOf("c2"), r.leavesOf("c1")]).toEqual([1, 2, 1, 1]);
  });

  it("flags gaps, duplicates, epoch changes, joins of present and leaves of absent connections", () => {
    const r = createWatchRecorder();
    r.apply(joined("e", 1, "ana", "c1", true, 1, 1));
    r.apply(snap("e", 1, { ana: ["c1"] }));
    r.apply(joined("e", 1, "ana", "c1", true, 1, 1));
    r.apply(joined("e", 3, "bob", "c3", true, 2, 2));
    r.apply(joined("f", 2, "bob", "c3", true, 2, 2));
    r.apply(joined("e", 2, "ana", "c1", false, 1, 2));
    r.apply(left("e", 3, "bob", "c9", true, 1, 1));
    r.apply(joined("e", 4, "bob", "c4", true, 5, 5));
    expect(r.violations).toEqual([
      "event v1 before any snapshot",
      "duplicate event v1 (at v1)",
      "gap: event v3 after v1",
      "event v2: epoch f without a snapshot (was e)",
      "v2: join of c1, already present",
      expect.stringMatching(/^v2: counts .* but the view gives/),
      "v3: leave of c9, not present",
      expect.stringMatching(/^v4: counts .* but the view gives/),
    ]);
  });
});
