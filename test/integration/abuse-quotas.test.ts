import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { QUOTA_SPEC } from "../../src/config-access.js";
import { startNode, type NodeProcess } from "../support/node-process.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/*
 * Abuse with real clients against a real server (issue 11): one anonymous caller (source address
 * 127.0.0.2) opens thousands of watch streams and joins on fresh room names, far past its quotas;
 * it is refused with resource_exhausted / QUOTA_EXCEEDED naming the quota, while a second caller
 * (127.0.0.1) is served normally during the flood: its joins (a fresh room included) and watches
 * succeed. The second caller's latencies are printed (p50/p99), not asserted: speed is measured in
 * bench/, this test proves service, not speed; the server is a child process, so the clients' own
 * work does not count in it. Default quotas, except the abuser's call rate, lifted so that the
 * watch and room quotas are the ones that refuse (the call rate has its own test).
 */
const servers: { close(): Promise<void> }[] = [];
const managers: Http2SessionManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) m.abort();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function client(baseUrl: string, localAddress: string, token?: string): Client<typeof PresenceService> {
  const sessionManager = new Http2SessionManager(baseUrl, {}, { localAddress } as never); // any net.connect option (http2.connect)
  managers.push(sessionManager);
  const auth = token ? [(next: never) => (req: { header: Headers }) => (req.header.set("authorization", `Bearer ${token}`), (next as (r: unknown) => unknown)(req))] : [];
  return createClient(PresenceService, createGrpcTransport({ baseUrl, sessionManager, interceptors: auth as never }));
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    const ce = ConnectError.from(e);
    return `${ce.code}/${ce.findDetails(ErrorInfoSchema)[0]?.reason ?? ""}/${ce.findDetails(ErrorInfoSchema)[0]?.metadata.field ?? ""}`;
  }
}

const tally = (xs: string[]) => xs.reduce<Record<string, number>>((t, x) => ((t[x] = (t[x] ?? 0) + 1), t), {});
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function timed<T>(latencies: number[], p: Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await p;
  } finally {
    latencies.push(performance.now() - t0);
  }
}

describe("abuse: one caller past its quotas, another served normally", () => {
  it("thousands of watch streams and joins on fresh rooms from one anonymous address are refused past the quota", async () => {
    const node: NodeProcess = await startNode({ PRESENCE_ANON_QUOTA_REQUESTS_PER_SEC: "1000000", PRESENCE_ANON_QUOTA_REQUEST_BURST: "1000000" });
    servers.push({ close: () => node.stop() });
    const abuser = client(node.rpcUrl, "127.0.0.2");
    const normal = client(node.rpcUrl, "127.0.0.1", await signTestToken(TEST_SECRET, { sub: "ana" }, 600));
    const limits = { watches: QUOTA_SPEC.anonymous.watches.default, newRoomsPerMinute: QUOTA_SPEC.anonymous.newRoomsPerMinute.default };
    await normal.join({ room: "/busy" }); // a room that exists for everyone

    // The flood: 2,000 watch streams (each held open), then 300 joins on fresh room names.
    const streams = new AbortController();
    const opened = Array.from({ length: 2_000 }, (_, i) =>
      outcome(
        (async () => {
          for await (const _ of abuser.watchPresence({ room: `/flood/w${i % 50}` }, { signal: streams.signal })) return; // first message: the watch is open
        })(),
      ),
    );
    const joinStart = performance.now();
    const joinResults: string[] = [];
    const joins = (async () => {
      for (let i = 0; i < 300; i++) joinResults.push(await outcome(abuser.join({ room: `/fresh/${i}` })));
      return joinResults;
    })();

    // Meanwhile the second caller is served.
    const latencies: number[] = [];
    const normalCalls = (async () => {
      const results: string[] = [];
      for (let i = 0; i < 60; i++) {
        results.push(await outcome(timed(latencies, normal.getPresence({ room: "/busy" }))));
        if (i % 10 === 0) results.push(await outcome(timed(latencies, normal.join({ room: `/ana-new-${i}` }))));
      }
      for await (const m of normal.watchPresence({ room: "/busy" })) {
        results.push(m.message.case === "snapshot" ? "ok" : m.message.case ?? "?");
        break;
      }
      return results;
    })();

    const watchOutcomes = tally(await Promise.all(opened));
    const joinOutcomes = tally(await joins);
    // The bucket refills at 60 a minute (one a second) while the joins run.
    const refilled = Math.ceil((performance.now() - joinStart) / 1000);
    const normalOutcomes = tally(await normalCalls);
    streams.abort();
    console.log(
      `abuse: abuser watches ${JSON.stringify(watchOutcomes)}, joins ${JSON.stringify(joinOutcomes)}; ` +
        `second caller ${JSON.stringify(normalOutcomes)}, ${latencies.length} calls, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms at call ${latencies.indexOf(Math.max(...latencies))}`,
    );
    expect(watchOutcomes).toEqual({ ok: limits.watches, "8/QUOTA_EXCEEDED/watches": 2_000 - limits.watches });
    expect(joinOutcomes["ok"]).toBeGreaterThanOrEqual(limits.newRoomsPerMinute);
    expect(joinOutcomes["ok"]).toBeLessThanOrEqual(limits.newRoomsPerMinute + refilled);
    expect(joinOutcomes["8/QUOTA_EXCEEDED/new_rooms_per_minute"]).toBe(300 - joinOutcomes["ok"]!);
    expect(normalOutcomes).toEqual({ ok: 60 + 6 + 1 });
    // Refused calls left nothing behind: no state for the rooms refused, the quota given back on abort.
    const refusedRoom = `/fresh/${joinResults.lastIndexOf("8/QUOTA_EXCEEDED/new_rooms_per_minute")}`;
    expect((await normal.getPresence({ room: refusedRoom })).view?.epoch).toBe("");
    await expect.poll(() => outcome(abuser.getPresence({ room: "/busy" }))).toBe("ok");
  });

  it("the call rate: a burst past the bucket is refused with the time to wait, others unaffected", async () => {
    const s = await startTestServer({ PRESENCE_QUOTA_REQUESTS_PER_SEC: "20", PRESENCE_QUOTA_REQUEST_BURST: "40" });
    servers.push(s);
    const flood = client(s.baseUrl, "127.0.0.1", await signTestToken(TEST_SECRET, { sub: "flood" }, 600));
    const calm = client(s.baseUrl, "127.0.0.1", await signTestToken(TEST_SECRET, { sub: "calm" }, 600));
    const errors: ConnectError[] = [];
    const call = () => flood.getPresence({ room: "/r" }).then(() => "ok", (e: unknown) => (errors.push(ConnectError.from(e)), outcome(Promise.reject(e))));
    const results = tally(await Promise.all(Array.from({ length: 100 }, call)));
    // The burst passes; of the rest, a few may pass as tokens refill while the calls are made.
    expect(results["ok"]).toBeGreaterThanOrEqual(40);
    expect(results["ok"]).toBeLessThan(60);
    expect(results["8/QUOTA_EXCEEDED/requests_per_second"]).toBe(100 - results["ok"]!);
    expect(errors[0]!.rawMessage).toMatch(/^quota requests_per_second: at most 20 calls per second per user; retry in \d+ ms$/);
    expect(errors[0]!.findDetails(ErrorInfoSchema)[0]?.metadata).toMatchObject({ field: "requests_per_second", limit: "20" });
    expect(await outcome(calm.getPresence({ room: "/r" }))).toBe("ok"); // another user: its own bucket
    const scrape = await (await fetch(`${s.adminUrl}/metrics`)).text();
    expect(scrape).toMatch(/presence_quota_refusals_total\{quota="requests_per_second",caller="user"\} [1-9]/);
  });
});
