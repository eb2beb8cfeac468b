import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ClientFrameSchema, type ClientFrame } from "../../gen/presence/v1/frames_pb.js";
import { Activity } from "../../gen/presence/v1/types_pb.js";
import { createRoomViewTracker, type ApplyResult } from "../../src/core/room-view-tracker.js";
import type { PresenceEvent } from "../../src/core/presence-event.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { connectWs, type WsTestClient } from "../support/ws-client.js";
import { engineEnv, WS_ENGINES } from "../support/ws-engines.js";
import type { WsEngineName } from "../../src/transport/ws/ws-engine.js";

/**
 * Fuzzing the WebSocket bridge's framing (I8: no input crashes the process). For
 * PRESENCE_FUZZ_SECONDS (default 60 s: the CI-sized form; set it lower for a quick local
 * run), eight workers open sockets and send random bytes, truncated valid
 * frames, frames with invalid UTF-8 inside string fields, oversized frames, JSON garbage and text
 * frames with invalid UTF-8. Every message must get the documented outcome:
 *
 * - not a ClientFrame of a known type (as decoded locally) → close 4500;
 * - a valid frame (random bytes sometimes are one) → the socket stays open and answers;
 * - over the message limit (1 KiB here) → 4503; over twice the limit → cut by the engine: uWS
 *   drops the connection (1006), ws closes with 1009;
 * - a text frame with invalid UTF-8 → uWS 1006, ws 1007.
 *
 * Meanwhile a watcher of a busy room must keep receiving every event in order, the process stays
 * up and no handler error is counted. The seed is printed (PRESENCE_FUZZ_SEED reproduces a run).
 * It runs on each WebSocket engine; the seconds are shared among them (30 s each on Node 20).
 */
const SECONDS = Number(process.env.PRESENCE_FUZZ_SECONDS ?? 60) / WS_ENGINES.length;
const SEED = Number(process.env.PRESENCE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const LIMIT = 1024;
const WORKERS = 8;
const PROBE_ID = 4_000_000_000;

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** How each engine refuses what it cuts itself: a message over twice the limit, a text message with invalid UTF-8. */
const ENGINE_CUTS: Record<WsEngineName, { tooBig: Expect; badText: Expect }> = {
  uws: { tooBig: "1006", badText: "1006" },
  ws: { tooBig: "1009", badText: "1007" },
};

/** mulberry32: small seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}

type Expect = "4500" | "4503" | "1006" | "1007" | "1009" | "open";
type Case = { name: string; data: Buffer; binary: boolean; expect: Expect };

/** What the bridge must do with these bytes, decided by decoding them here. */
function classifyFor(data: Buffer, cuts: { tooBig: Expect }): Expect {
  if (data.length > 2 * LIMIT) return cuts.tooBig;
  if (data.length > LIMIT) return "4503";
  let f: ClientFrame;
  try {
    f = fromBinary(ClientFrameSchema, data);
  } catch {
    return "4500";
  }
  return f.frame.case === undefined ? "4500" : "open";
}

const validFrames = (r: ReturnType<typeof prng>): Buffer[] => [
  Buffer.from(toBinary(ClientFrameSchema, create(ClientFrameSchema, { requestId: r.int(1, 1000), frame: { case: "join", value: { room: `/fz/${r.int(0, 9)}`, metadata: { k: "v".repeat(r.int(0, 200)) } } } }))),
  Buffer.from(toBinary(ClientFrameSchema, create(ClientFrameSchema, { requestId: 7, frame: { case: "cursor", value: { room: "/fz/1", position: { x: 1.5, y: 2.5, element: "#el".repeat(20) } } } }))),
  Buffer.from(toBinary(ClientFrameSchema, create(ClientFrameSchema, { requestId: 8, frame: { case: "typing", value: { room: "/fz/typing-room", typing: true } } }))),
  Buffer.from(toBinary(ClientFrameSchema, create(ClientFrameSchema, { requestId: 9, frame: { case: "watch", value: { room: "/fz/2" } } }))),
];

/** A join frame whose room field holds `room` bytes verbatim (field 10 → field 1). */
function joinWithRawRoom(room: Buffer): Buffer {
  const inner = Buffer.concat([Buffer.from([0x0a, room.length]), room]);
  return Buffer.concat([Buffer.from([0x08, 0x05, 0x52, inner.length]), inner]);
}

function nextCase(r: ReturnType<typeof prng>, cuts: { tooBig: Expect; badText: Expect }): Case {
  const classify = (data: Buffer) => classifyFor(data, cuts);
  switch (r.int(0, 7)) {
    case 0: {
      const data = r.bytes(r.int(1, LIMIT));
      return { name: "random", data, binary: true, expect: classify(data) };
    }
    case 1: {
      const full = r.pick(validFrames(r));
      const data = full.subarray(0, r.int(1, full.length - 1));
      return { name: "truncated", data, binary: true, expect: classify(data) };
    }
    case 2: {
      const bad = Buffer.concat([Buffer.from("/room-"), r.pick([Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])]), Buffer.from("x")]);
      const data = joinWithRawRoom(bad);
      return { name: "invalid-utf8-field", data, binary: true, expect: classify(data) };
    }
    case 3: {
      const data = r.bytes(r.int(LIMIT + 1, 2 * LIMIT));
      return { name: "oversized", data, binary: true, expect: "4503" };
    }
    case 4: {
      const data = r.bytes(r.int(2 * LIMIT + 1, 8 * LIMIT));
      return { name: "far-oversized", data, binary: true, expect: cuts.tooBig };
    }
    case 5: {
      const data = Buffer.from(r.pick(["{", "[]", '{"join": 5}', '{"requestId": -1}', "null", '{"watch": {"room": 3}}', "x".repeat(r.int(1, 100))]));
      return { name: "json-garbage", data, binary: false, expect: "4500" };
    }
    case 6: {
      const data = Buffer.from(r.pick(validFrames(r)));
      data[r.int(0, data.length - 1)] = r.int(0, 255);
      return { name: "mutated", data, binary: true, expect: classify(data) };
    }
    default:
      return { name: "text-invalid-utf8", data: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), binary: false, expect: cuts.badText };
  }
}

/** Sends one case on a fresh socket and reports what happened. */
async function run(c: Case, token: string): Promise<string> {
  const ws = await connectWs(s!.wsUrl, { token });
  try {
    ws.ws.send(c.data, { binary: c.binary });
    if (c.expect === "open") {
      // The socket must stay usable: a probe frame is answered.
      ws.send({ requestId: PROBE_ID, frame: { case: "unwatch", value: { room: "/nothing" } } });
      const outcome = await Promise.race([ws.waitFor((f) => f.requestId === PROBE_ID, 5_000).then(() => "open"), ws.closed.then((x) => String(x.code))]);
      return outcome;
    }
    const closed = await Promise.race([ws.closed, new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 5_000))]);
    return String(closed.code);
  } finally {
    ws.terminate();
  }
}

for (const engine of WS_ENGINES)
describe(`WebSocket fuzz (I8) on the ${engine} engine`, () => {
  it(`random, truncated, invalid-UTF-8 and oversized frames for ${SECONDS} s: right close codes, process up, others unaffected`, async () => {
    // One token opens ~300 sockets a second: each upgrade is charged to its request quota, so the
    // quota is lifted to what the fuzz needs (it tests frames and close codes, not quotas).
    s = await startTestServer({ PRESENCE_MAX_REQUEST_BYTES: String(LIMIT), PRESENCE_QUOTA_REQUESTS_PER_SEC: "10000", PRESENCE_QUOTA_REQUEST_BURST: "10000", ...engineEnv(engine) });
    const token = await signTestToken(TEST_SECRET, { sub: "fuzzer" }, 3_600);
    const r = prng(SEED);

    // A watcher of a room kept busy by another socket's activity changes.
    const watcher = await connectWs(s.wsUrl, { token: await signTestToken(TEST_SECRET, { sub: "watcher" }, 3_600) });
    const member = await connectWs(s.wsUrl, { token: await signTestToken(TEST_SECRET, { sub: "member" }, 3_600) });
    const tracker = createRoomViewTracker();
    const results: ApplyResult[] = [];
    let snapshots = 0;
    watcher.onFrame((f) => {
      if (f.frame.case !== "watch") return;
      const m = f.frame.value.message;
      if (m.case === "snapshot") {
        const v = m.value.view!;
        tracker.applySnapshotPage({ room: v.room, epoch: v.epoch, version: Number(v.version), counts: { users: 0, connections: 0, anonymous: 0 }, users: [], membersOmitted: false, typing: [], cursors: [] }, m.value.first, m.value.last, Date.now());
        if (m.value.last) snapshots++;
      } else if (m.case === "event") {
        const e = m.value;
        results.push(tracker.applyEvent({ room: e.room, epoch: e.epoch, version: Number(e.version), timeMs: 0, counts: e.counts!, kind: "anonymous", viewersDelta: 0, connectionsDelta: 0 } as PresenceEvent));
      }
    });
    expect((await member.request({ case: "join", value: { room: "/busy" } })).frame.case).toBe("join");
    expect((await watcher.request({ case: "watch", value: { room: "/busy" } })).frame.case).toBe("ack");
    let away = false;
    let beats = 0;
    const beating = setInterval(() => {
      away = !away;
      beats++;
      member.send({ frame: { case: "heartbeat", value: { activity: away ? Activity.AWAY : Activity.ACTIVE } } });
    }, 20);

    const end = Date.now() + SECONDS * 1000;
    const tally = new Map<string, number>();
    const mismatches: string[] = [];
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (Date.now() < end) {
          const c = nextCase(r, ENGINE_CUTS[engine]);
          const got = await run(c, token);
          tally.set(`${c.name}→${got}`, (tally.get(`${c.name}→${got}`) ?? 0) + 1);
          if (got !== c.expect && mismatches.length < 20) mismatches.push(`${c.name}: expected ${c.expect}, got ${got} (${c.data.toString("hex").slice(0, 80)})`);
          // At most ~300 new sockets per second: closed sockets linger in TIME_WAIT for a minute.
          await new Promise((res) => setTimeout(res, 25));
        }
      }),
    );
    clearInterval(beating);
    await new Promise((res) => setTimeout(res, 200));

    const summary = [...tally].sort().map(([k, n]) => `${k}: ${n}`).join(", ");
    console.log(`ws fuzz (${engine}): seed ${SEED}, ${SECONDS} s, ${[...tally.values()].reduce((a, b) => a + b, 0)} sockets; ${summary}; watcher got ${results.length} events of ${beats} heartbeats`);
    expect(mismatches).toEqual([]);
    // The other sockets were unaffected: every event, in order, no resync, still open.
    expect(snapshots).toBe(1);
    expect(results.every((x) => x === "applied")).toBe(true);
    expect(results.length).toBe(beats);
    expect((await member.request({ case: "heartbeat", value: {} })).frame.case).toBe("heartbeat");
    expect((await fetch(`${s.adminUrl}/healthz`)).status).toBe(200);
    const metrics = await s.app.metrics.registry.metrics();
    expect(metrics).not.toMatch(/^presence_ws_handler_errors_total\{[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^presence_ws_connections 2$/m); // every fuzz socket is gone
    watcher.terminate();
    member.terminate();
  }, SECONDS * 1000 + 30_000);
});
