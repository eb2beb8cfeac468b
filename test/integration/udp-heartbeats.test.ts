import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { Activity } from "../../gen/presence/v1/types_pb.js";
import { connectClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { createUdpSender, type UdpSender } from "../support/udp-sender.js";

/**
 * UDP heartbeats (udp.proto) against a real server (port 0) and a real datagram socket: the Join
 * answer carries the session's key and the port; valid datagrams keep the session alive with no
 * TCP heartbeat; bad MACs, replays, stale timestamps, oversize, truncated and random datagrams are
 * dropped silently and counted by reason; the per-session rate holds; a minute of fuzz (mutated
 * valid datagrams and random bytes) never crashes the process and every datagram is counted once.
 */
const servers: TestServer[] = [];
const senders: UdpSender[] = [];
afterEach(async () => {
  for (const s of senders.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FUZZ_MS = Number(process.env.PRESENCE_UDP_FUZZ_MS ?? 60_000);

async function setup(env: Record<string, string> = {}) {
  const server = await startTestServer({
    PRESENCE_UDP_PORT: "0",
    PRESENCE_SESSION_TTL_MS: "1500",
    PRESENCE_HEARTBEAT_INTERVAL_MS: "500",
    PRESENCE_REAPER_INTERVAL_MS: "50",
    PRESENCE_UDP_MIN_INTERVAL_MS: "200",
    ...env,
  });
  servers.push(server);
  const client = connectClient(server.baseUrl, await signTestToken(TEST_SECRET, { sub: "ana", name: "Ana" }, 600));
  const joined = await client.join({ room: "/udp" });
  expect(joined.udpPort).toBe(server.app.udpPort);
  expect(joined.heartbeatKey.byteLength).toBe(32);
  expect(Buffer.from(joined.heartbeatKey).equals(Buffer.from(joined.session!.resumeSecret))).toBe(false);
  const sender = createUdpSender(joined.udpPort);
  senders.push(sender);
  return { server, client, sessionId: joined.session!.sessionId, key: joined.heartbeatKey, sender };
}

async function counts(server: TestServer): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^presence_udp_datagrams_total\{result="([a-z_]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

async function until(pred: () => Promise<boolean>, timeoutMs = 5_000) {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(20);
  }
}

const members = async (t: { client: ReturnType<typeof connectClient> }) => (await t.client.getPresence({ room: "/udp" })).view?.counts?.connections ?? 0;

describe("UDP heartbeats", () => {
  it("valid datagrams keep a session alive without TCP heartbeats; when they stop, it leaves after its TTL", async () => {
    const t = await setup();
    for (let i = 0; i < 8; i++) {
      await t.sender.send(t.sender.datagram(t.sessionId, t.key, Date.now()));
      await sleep(400);
    }
    expect(await members(t)).toBe(1); // 3.2 s > 2 TTLs: only the datagrams kept it
    expect((await counts(t.server)).accepted).toBe(8);
    await until(async () => (await members(t)) === 0, 4_000);
  });

  it("AWAY and ACTIVE datagrams change the connection's activity like Heartbeat", async () => {
    const t = await setup();
    await t.sender.send(t.sender.datagram(t.sessionId, t.key, Date.now(), Activity.AWAY));
    const activity = async () => (await t.client.getPresence({ room: "/udp" })).view?.users[0]?.activity;
    await until(async () => (await activity()) === Activity.AWAY);
    await sleep(250);
    await t.sender.send(t.sender.datagram(t.sessionId, t.key, Date.now(), Activity.ACTIVE));
    await until(async () => (await activity()) === Activity.ACTIVE);
  });

  it("drops bad MACs, replays, stale, oversize, truncated and random datagrams silently, counted by reason; the rate holds", async () => {
    const t = await setup({ PRESENCE_UDP_MIN_INTERVAL_MS: "10000" });
    const good = t.sender.datagram(t.sessionId, t.key, Date.now());
    await t.sender.send(good);
    await until(async () => (await counts(t.server)).accepted === 1);
    await t.sender.send(good); // the same bytes again
    await t.sender.send(t.sender.datagram(t.sessionId, t.key, Date.now() + 5)); // within the interval
    await t.sender.send(t.sender.datagram(t.sessionId, new Uint8Array(32), Date.now() + 10)); // wrong key
    await t.sender.send(t.sender.datagram("no-such-session", t.key, Date.now())); // key of another session
    await t.sender.send(t.sender.datagram(t.sessionId, t.key, Date.now() - 60_000)); // outside the window
    await t.sender.send(new Uint8Array(513)); // over 512 bytes
    await t.sender.send(good.subarray(0, good.byteLength - 3)); // truncated
    await t.sender.send(randomBytes(64));
    await until(async () => {
      const c = await counts(t.server);
      return c.replay === 1 && c.rate_limited === 1 && c.bad_mac === 2 && c.stale === 1 && c.oversize === 1 && c.malformed! >= 1;
    });
    const c = await counts(t.server);
    expect(c.accepted).toBe(1);
    expect(c.malformed! + c.bad_mac!).toBe(4); // random bytes decode as garbage or fail the MAC
    expect(await members(t)).toBe(1);
  });

  it("a datagram of a session that is gone is counted session_not_found (never recreated)", async () => {
    const t = await setup();
    await t.client.leave({ sessionId: t.sessionId, room: "/udp" });
    await t.sender.send(t.sender.datagram(t.sessionId, t.key, Date.now()));
    await until(async () => (await counts(t.server)).session_not_found === 1);
    expect(await members(t)).toBe(0);
  });

  it(`survives ${FUZZ_MS / 1000} s of fuzz: every datagram counted once, the process keeps serving`, async () => {
    // The session must outlive the fuzz (it gets no heartbeat meanwhile), with room for a slow box.
    const t = await setup({ PRESENCE_SESSION_TTL_MS: String(FUZZ_MS * 3 + 60_000), PRESENCE_HEARTBEAT_INTERVAL_MS: "20000" });
    const good = t.sender.datagram(t.sessionId, t.key, Date.now());
    let sent = 0;
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const end = Date.now() + FUZZ_MS;
    while (Date.now() < end) {
      const batch: Uint8Array[] = [];
      for (let i = 0; i < 50; i++) {
        const kind = rnd(4);
        if (kind === 0) batch.push(randomBytes(1 + rnd(600)));
        else if (kind === 1) {
          const m = Uint8Array.from(good);
          for (let k = 0; k < 1 + rnd(4); k++) m[rnd(m.length)] = rnd(256);
          batch.push(m);
        } else if (kind === 2) batch.push(good.subarray(0, rnd(good.length)));
        else batch.push(t.sender.datagram(`s${rnd(1_000)}`, randomBytes(32), Date.now()));
      }
      for (const b of batch) await t.sender.send(b);
      sent += batch.length;
      await sleep(5);
    }
    await until(async () => Object.values(await counts(t.server)).reduce((a, b) => a + b, 0) >= sent, 10_000).catch(() => undefined);
    const c = await counts(t.server);
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    // UDP may lose datagrams in the kernel under load, never count one twice.
    expect(total).toBeLessThanOrEqual(sent);
    expect(total).toBeGreaterThan(sent * 0.9);
    expect(c.accepted ?? 0).toBeLessThanOrEqual(1); // only an intact copy of `good` could pass, once
    expect(await members(t)).toBe(1);
    expect((await t.client.join({ room: "/after-fuzz" })).session?.sessionId).toBeTruthy();
    console.log(`UDP fuzz: ${sent} datagrams in ${FUZZ_MS / 1000} s, counted ${JSON.stringify(c)}`);
  }, FUZZ_MS + 30_000);
});
