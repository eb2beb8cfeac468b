import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createPresenceClient } from "@presence-platform/client";
import { startDriverClient } from "../support/client-driver.js";
import { connectWs } from "../support/ws-client.js";
import { skewedClock } from "../support/clock-skew.js";
import { faultScope, type FaultScope } from "../support/fault-scope.js";
import { messagesOf, tokenOf } from "../support/node-fault-kit.js";
import type { NodeProcess } from "../support/node-process.js";
import { sleep } from "../support/processes.js";
import { waitFor } from "../support/watch-recorder.js";

/*
 * Wall-clock faults of one node (reliability.md §4.7 F-T1, F-T2; design: Redis time rules), injected
 * with a preload that shifts the node's `Date` and leaves monotonic time alone
 * (test/support/clock-skew.ts). Two nodes share one Redis; node B's clock is wrong.
 *
 * F-T1, B 30 s ahead: every expiry is decided by Redis' clock inside the scripts and every timer
 * runs on monotonic time, so nothing is reaped early: for three TTLs no session leaves (attached
 * to A or B, or heartbeating through B), no client is told SESSION_NOT_FOUND. Typing and cursors
 * set through A are seen through B as through A: in GetPresence, in the view a Join through B
 * answers, and by an SDK client joining over B's WebSocket bridge (typing ends and cursor ages are
 * judged against the clock that stamped them, never B's).
 *
 * F-T2, B's clock stepped back 30 s while it runs: its node refresh, reaper and heartbeats keep
 * going (monotonic timers): for three TTLs after the step no session attached to B leaves, its
 * heartbeat client keeps its session, events still reach B's watchers, and a session that stops
 * being refreshed is still reaped within TTL + slack.
 */

const TTL_MS = 1_500;
const ROOMS = ["/clock/a", "/clock/b"] as const;
const ENV = {
  PRESENCE_SESSION_TTL_MS: String(TTL_MS),
  PRESENCE_HEARTBEAT_INTERVAL_MS: "300",
  PRESENCE_NODE_REFRESH_MS: "250",
  PRESENCE_REAPER_INTERVAL_MS: "100",
  PRESENCE_POSITION_CHECK_MS: "500",
  PRESENCE_CURSOR_FLUSH_MS: "20",
};

async function setup(s: FaultScope, offsetMs: number) {
  const redis = await s.redis();
  const clock = await skewedClock(offsetMs);
  const [a, b] = await Promise.all([s.node({ ...ENV, PRESENCE_REDIS_URL: redis.url }), s.node({ ...ENV, ...clock.env, PRESENCE_REDIS_URL: redis.url })]);
  expect(b.logs()).toContain(`fault clock offset ${offsetMs}`);
  const rec = await s.record([a, b], ROOMS);
  const driver = async (user: string, node: NodeProcess, rooms: readonly string[]) => startDriverClient(s, { user, token: await tokenOf(user), rooms, pick: () => node });
  const drivers = [await driver("ana", a, ROOMS), await driver("bob", b, [ROOMS[0]])];
  const hbClient = s.client(b.rpcUrl, await tokenOf("hal"));
  const hal = (await hbClient.join({ room: ROOMS[1] })).session!;
  const codes: (Code | "ok")[] = [];
  let beating = true;
  const beats = (async () => {
    while (beating) {
      await hbClient.heartbeat({ sessionId: hal.sessionId }, { timeoutMs: 2_000 }).then(
        () => codes.push("ok"),
        (e: unknown) => codes.push(ConnectError.from(e).code),
      );
      await sleep(300);
    }
  })();
  s.defer(async () => {
    beating = false;
    await beats;
  });
  await rec.waitConverged(s.truth(a, ROOMS), 5_000);
  return { a, b, clock, rec, drivers, hal, codes };
}

/** Nobody left since `t0` but the connections `except`, no client lost its session. */
function expectNobodyLeft(c: Awaited<ReturnType<typeof setup>>, t0: number, except: string[] = []) {
  for (const w of c.rec.watchers) {
    expect(messagesOf(c.rec, w.index).filter((m) => m.eventKind === "left" && m.receivedAtMs >= t0 && !except.includes(m.connectionId!)), `watcher ${w.index}`).toEqual([]);
  }
  for (const d of c.drivers) expect([d.user, d.rejoins(), d.endings]).toEqual([d.user, 0, []]);
  expect(c.codes.filter((k) => k !== "ok")).toEqual([]);
  expect(c.rec.violations().flat()).toEqual([]);
}

describe.concurrent("a node's wall clock is wrong", () => {
  it("F-T1 B 30 s ahead: nothing is reaped early; typing and cursors look the same through B", async (ctx) => {
    const s = faultScope(ctx);
    const c = await setup(s, 30_000);
    const t0 = Date.now();
    const ana = c.drivers[0]!;
    const viaA = s.client(c.a.rpcUrl, await tokenOf("ana"));
    await viaA.setTyping({ sessionId: ana.sessionId(), room: ROOMS[0], typing: true });
    await viaA.updateCursor({ sessionId: ana.sessionId(), room: ROOMS[0], position: { x: 7, y: 9, element: "" } });
    await sleep(200);

    const seen = (v: { typing: { userId: string }[]; cursors: { connectionId: string; position?: { x: number } }[] } | undefined) => ({
      typing: v?.typing.map((t) => t.userId) ?? [],
      cursor: v?.cursors.find((x) => x.connectionId === ana.cid())?.position?.x ?? null,
    });
    const viaB = await s.client(c.b.rpcUrl).getPresence({ room: ROOMS[0] });
    expect(seen(viaB.view)).toEqual({ typing: ["ana"], cursor: 7 });
    const cat = s.client(c.b.rpcUrl, await tokenOf("cat"));
    const joined = await cat.join({ room: ROOMS[0] });
    expect(seen(joined.view)).toEqual({ typing: ["ana"], cursor: 7 });
    await cat.leave({ sessionId: joined.session!.sessionId, room: ROOMS[0] });
    // The SDK over B's WebSocket bridge: its first view comes from B's room broadcaster.
    const web = createPresenceClient({ transport: "websocket", url: c.b.wsUrl, token: await tokenOf("dee"), webSocket: WebSocket, reconnect: { baseMs: 50, capMs: 400 }, visibility: false });
    s.defer(() => web.close());
    const room = web.join(ROOMS[0]);
    await room.ready;
    expect({ typing: room.typing.users.map((u) => u.userId), cursor: room.cursors.find((x) => x.connectionId === ana.cid())?.position.x ?? null }).toEqual({ typing: ["ana"], cursor: 7 });
    // A raw watch over B's bridge: the snapshot B's room broadcaster builds.
    const ws = await connectWs(c.b.wsUrl);
    s.defer(() => ws.ws.terminate());
    expect((await ws.request({ case: "watch", value: { room: ROOMS[0] } })).frame.case).toBe("ack");
    await waitFor(() => ws.watchMessages(ROOMS[0]).some((m) => m.message.case === "snapshot"), 5_000, "a snapshot over B's bridge");
    const snap = ws.watchMessages(ROOMS[0]).find((m) => m.message.case === "snapshot")!.message;
    expect(seen(snap.case === "snapshot" ? snap.value.view : undefined)).toEqual({ typing: ["ana"], cursor: 7 });

    await sleep(3 * TTL_MS);
    await c.rec.waitConverged(s.truth(c.a, ROOMS), 5_000);
    expectNobodyLeft(c, t0, [joined.session!.connectionId]);
  });

  it("F-T2 B's clock stepped back 30 s: its refresh, reaper and heartbeats keep going", async (ctx) => {
    const s = faultScope(ctx);
    const c = await setup(s, 0);
    const zed = (await s.client(c.b.rpcUrl, await tokenOf("zed")).join({ room: ROOMS[1] })).session!;
    const t0 = Date.now();
    await c.clock.step(c.b, -30_000);
    // Events still reach B's watchers.
    const cal = await startDriverClient(s, { user: "cal", token: await tokenOf("cal"), rooms: [ROOMS[1]], pick: () => c.a });
    const onB = c.rec.watchers.filter((w) => w.rpcUrl === c.b.rpcUrl && w.room === ROOMS[1]).map((w) => w.index);
    await waitFor(() => onB.every((i) => c.rec.joinsFor(cal.cid())[i] === 1), 5_000, "cal's join on B's watcher");
    // zed (no heartbeat, no stream) is still reaped in time; nobody else leaves.
    await waitFor(() => c.rec.watchers.filter((w) => w.room === ROOMS[1]).every((w) => c.rec.leavesFor(zed.connectionId)[w.index] === 1), TTL_MS + 1_500, "zed reaped");
    const zedMs = Date.now() - t0;
    await sleep(t0 + 3 * TTL_MS - Date.now());
    await c.rec.waitConverged(s.truth(c.a, ROOMS), 5_000);
    console.log(`F-T2: after B's clock stepped back 30 s, zed (unrefreshed) reaped within ${zedMs} ms; B's sessions kept for ${Date.now() - t0} ms`);
    for (const w of c.rec.watchers) {
      expect(messagesOf(c.rec, w.index).filter((m) => m.eventKind === "left" && m.receivedAtMs >= t0 && m.connectionId !== zed.connectionId), `watcher ${w.index}`).toEqual([]);
    }
    for (const d of c.drivers) expect([d.user, d.rejoins(), d.endings]).toEqual([d.user, 0, []]);
    expect(c.codes.filter((k) => k !== "ok")).toEqual([]);
    expect(c.rec.violations().flat()).toEqual([]);
  });
});
