/**
 * Track stream rules against a real server (memory store): tracker ids and secrets (conflict,
 * takeover of a live stream), per-request errors that leave the stream open, the presences limit,
 * flow control: above PRESENCE_TRACK_MAX_MESSAGES_PER_SEC the server reads more slowly and
 * still answers everything; and the RPC port's request timeout, which must not cut a stream whose
 * request side stays open for its whole life (it bounds only the wait for `open`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorReason } from "../../gen/presence/v1/errors_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";
import { trackClient, TrackItemError } from "../support/track-client.js";

let server: TestServer;
let token: string;
let other: string;
const REQUEST_TIMEOUT_MS = 600;

beforeAll(async () => {
  server = await startTestServer({ PRESENCE_TRACK_MAX_PRESENCES: "5", PRESENCE_TRACK_MAX_MESSAGES_PER_SEC: "200", PRESENCE_TRACK_BURST: "20", PRESENCE_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), PRESENCE_HTTP_HEADERS_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
  token = await signTestToken(TEST_SECRET, { sub: "rules-backend", role: "service" });
  other = await signTestToken(TEST_SECRET, { sub: "other-backend", role: "service" });
});
afterAll(() => server.close());

describe("Track rules", () => {
  it("a tracker id held by a live stream needs its secret; with it, the newer stream takes over", async () => {
    const a = trackClient(server.baseUrl, token);
    const { opened } = await a.open("web-1");
    expect(opened.trackerId).toBe("web-1");
    await a.send({ case: "track", value: { key: "k1", room: "rules/a", user: { userId: "u1" } } });
    for (const secret of ["", "wrong"]) {
      const b = trackClient(server.baseUrl, token);
      await expect(b.open("web-1", secret)).rejects.toThrow();
      expect((await b.ended)?.message).toBe('[already_exists] open.tracker_id: tracker "web-1" is held by another tracker (no or wrong tracker_secret)');
    }
    // Another caller's tracker of the same id is a different tracker: it simply opens.
    const mine = trackClient(server.baseUrl, other);
    expect((await mine.open("web-1", opened.trackerSecret)).opened).toMatchObject({ trackerId: "web-1", resumed: false });
    mine.abort();
    const c = trackClient(server.baseUrl, token);
    const taken = await c.open("web-1", opened.trackerSecret);
    expect(taken.opened).toMatchObject({ resumed: true, reclaimed: 1 });
    expect((await a.ended)?.message).toMatch(/\[aborted\] tracker: a newer Track stream of this tracker took it over/);
    const view = await server.app.store.getView("rules/a", { includeMembers: true });
    expect(view.users.map((u) => u.user.userId)).toEqual(["u1"]); // moved, never left
    await c.send({ case: "close", value: {} });
  });

  it("answers failed requests with ItemErrors and keeps the stream; enforces the presences limit", async () => {
    const s = trackClient(server.baseUrl, token);
    await s.open();
    const err = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => (e as TrackItemError).item);
    expect(await err(s.send({ case: "track", value: { key: "", room: "rules/b" } }))).toMatchObject({ code: 3, reason: ErrorReason.INVALID_ARGUMENT, message: "key: must not be empty" });
    expect(await err(s.send({ case: "track", value: { key: "k", room: "" } }))).toMatchObject({ reason: ErrorReason.INVALID_ROOM });
    expect(await err(s.send({ case: "update", value: { key: "nope", room: "rules/b" } }))).toMatchObject({ code: 5, reason: ErrorReason.PRESENCE_NOT_FOUND });
    for (let i = 0; i < 5; i++) await s.send({ case: "track", value: { key: `k${i}`, room: "rules/b", user: { userId: `u${i}` } } });
    expect(await err(s.send({ case: "track", value: { key: "k5", room: "rules/b", user: { userId: "u5" } } }))).toMatchObject({
      code: 8,
      reason: ErrorReason.TOO_MANY_PRESENCES,
      metadata: { field: "track", limit: "5", actual: "6" },
    });
    expect(await s.send({ case: "untrack", value: { key: "k0", room: "" } })).toMatchObject({ case: "untracked", value: { left: true, ended: true } });
    expect(await s.send({ case: "track", value: { key: "k5", room: "rules/b", user: { userId: "u5" } } })).toMatchObject({ case: "tracked" });
    expect(await s.send({ case: "close", value: {} })).toMatchObject({ case: "closed", value: { left: 5 } });
    expect((await server.app.store.getView("rules/b", { includeMembers: false })).counts.connections).toBe(0);
    expect(await s.ended).toBeNull();
  });

  it("reads more slowly above the message rate, answering every request", async () => {
    const s = trackClient(server.baseUrl, token);
    await s.open();
    await s.send({ case: "track", value: { key: "fc", room: "rules/c", user: { userId: "fc" } } });
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 120 }, () => s.send({ case: "setActivity", value: { key: "fc", activity: 2 } })));
    const elapsed = Date.now() - t0;
    expect(answers.every((a) => a.case === "activitySet")).toBe(true);
    // 120 requests at 200/s with a burst of 20 take at least (120 - 20) / 200 s.
    expect(elapsed).toBeGreaterThanOrEqual(450);
    s.abort();
  });

  it("a stream outlives the RPC port's request timeout; one that never sends open is refused after it", async () => {
    const s = trackClient(server.baseUrl, token);
    await s.open();
    await s.send({ case: "track", value: { key: "long", room: "rules/d", user: { userId: "long" } } });
    await new Promise((r) => setTimeout(r, 3 * REQUEST_TIMEOUT_MS));
    expect(await s.send({ case: "setActivity", value: { key: "long", activity: 2 } })).toMatchObject({ case: "activitySet" });
    expect(await s.send({ case: "close", value: {} })).toMatchObject({ case: "closed", value: { left: 1 } });
    expect(await s.ended).toBeNull();

    const t0 = Date.now();
    const silent = trackClient(server.baseUrl, token); // never sends open
    expect((await silent.ended)?.message).toBe(`[invalid_argument] open: the first request of a Track stream must arrive within ${REQUEST_TIMEOUT_MS} ms (PRESENCE_HTTP_REQUEST_TIMEOUT_MS)`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
  });
});
