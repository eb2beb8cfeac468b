import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import { UserState } from "../../gen/presence/v1/types_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { signTestToken, TEST_SECRET } from "../support/tokens.js";

/*
 * The authorization hook with a real HTTP server as the application's backend (the chat seed's
 * "friends and DM contacts see my status"): users have room rights from the configuration but no
 * status rights, and the backend decides status.read / status.watch per user pair, and `watch` on
 * rooms the rules do not grant. Covered: allow, deny (a hidden user looks unknown, also in
 * WatchUsers), the request the backend receives, cache hits, expiry and a decision changed after
 * its TTL, a slow hook (timeout: fail closed with AUTH_UNAVAILABLE), a hook that is down, and the
 * per-decision metrics.
 */
interface Backend {
  url: string;
  requests: { auth: string | undefined; body: { subject: string; role: string; operation: string; resources: string[] } }[];
  friends: Set<string>;
  mode: "ok" | "slow" | "error";
  close(): Promise<void>;
}

async function startBackend(): Promise<Backend> {
  const b = { requests: [], friends: new Set<string>(), mode: "ok" } as unknown as Backend;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const q = JSON.parse(body) as Backend["requests"][number]["body"];
      b.requests.push({ auth: req.headers.authorization, body: q });
      if (b.mode === "error") return void res.writeHead(500).end("boom");
      const decisions = q.resources.map((r) => ({ allow: q.operation === "watch" ? r.startsWith("/dm/") && r.includes(q.subject) : b.friends.has(`${q.subject}>${r}`) }));
      const send = () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ decisions }));
      if (b.mode === "slow") setTimeout(send, 1_000);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  b.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/presence/authorize`;
  b.close = () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
  return b;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(env: Record<string, string> = {}) {
  const backend = await startBackend();
  cleanups.push(() => backend.close());
  const s: TestServer = await startTestServer({
    PRESENCE_USER_RIGHTS: JSON.stringify({ "/chat/**": ["join", "watch", "read", "typing"] }),
    PRESENCE_AUTHZ_HOOK_URL: backend.url,
    PRESENCE_AUTHZ_HOOK_OPERATIONS: "status.read,status.watch,watch",
    PRESENCE_AUTHZ_HOOK_AUTHORIZATION: "Bearer hook-secret",
    PRESENCE_AUTHZ_HOOK_TIMEOUT_MS: "200",
    PRESENCE_AUTHZ_HOOK_ALLOW_TTL_MS: "60000",
    PRESENCE_AUTHZ_HOOK_DENY_TTL_MS: "60000",
    PRESENCE_AUTHZ_HOOK_FAILURE_TTL_MS: "300",
    ...env,
  });
  cleanups.push(() => s.close());
  const as = async (sub: string): Promise<Client<typeof PresenceService>> => {
    const token = await signTestToken(TEST_SECRET, { sub }, 600);
    return createClient(PresenceService, createGrpcTransport({ baseUrl: s.baseUrl, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))] }));
  };
  const metric = async (pattern: RegExp) => Number(pattern.exec(await (await fetch(`${s.adminUrl}/metrics`)).text())?.[1] ?? "NaN");
  return { s, backend, as, metric };
}

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    const ce = ConnectError.from(e);
    return `${ce.code}/${ce.findDetails(ErrorInfoSchema)[0]?.reason}`;
  }
  return "ok";
};
const states = (statuses: { userId: string; state: UserState; lastSeenMs: bigint }[]) => statuses.map((st) => `${st.userId}:${UserState[st.state]}:${st.lastSeenMs === 0n ? "never" : "seen"}`);

describe("authorization hook", () => {
  it("allows and denies per user pair; a hidden user looks like one nobody has seen; the request is as documented", async () => {
    const { backend, as } = await setup();
    backend.friends.add("ana>bob");
    const [ana, bob, eve] = [await as("ana"), await as("bob"), await as("eve")];
    const bobSession = (await bob.join({ room: "/chat/general" })).session!.sessionId;
    await eve.join({ room: "/chat/general" });
    const r = await ana.getUserStatus({ userIds: ["bob", "eve", "ana", "nobody"] });
    expect(states(r.statuses)).toEqual(["bob:ONLINE:seen", "eve:OFFLINE:never", "ana:OFFLINE:never", "nobody:OFFLINE:never"]);
    // One request for the two others (ana's own status needs no hook), with the documented body and header.
    expect(backend.requests).toEqual([{ auth: "Bearer hook-secret", body: { subject: "ana", role: "user", operation: "status.read", resources: ["bob", "eve", "nobody"] } }]);

    // WatchUsers: eve is in the snapshot as unknown, and her changes never come.
    const ac = new AbortController();
    cleanups.push(() => ac.abort());
    const got: string[] = [];
    const watching = (async () => {
      for await (const m of ana.watchUsers({ userIds: ["bob", "eve"] }, { signal: ac.signal })) {
        if (m.message.case === "snapshot") got.push(...states(m.message.value.statuses));
        if (m.message.case === "changed") got.push(`changed ${m.message.value.userId}:${UserState[m.message.value.state]}`);
      }
    })().catch(() => {});
    await expect.poll(() => got.length).toBe(2);
    const e = await eve.join({ room: "/chat/other" });
    await eve.setStatus({ sessionId: e.session!.sessionId, customStatus: "hidden from ana" });
    await bob.setStatus({ sessionId: bobSession, customStatus: "lunch" });
    await expect.poll(() => got.some((g) => g.startsWith("changed bob"))).toBe(true);
    expect(got.filter((g) => g.includes("eve"))).toEqual(["eve:OFFLINE:never"]);
    ac.abort();
    await watching;

    // Room operations too: the hook grants watching one's own DM rooms only.
    expect(await failure((async () => { for await (const _ of ana.watchPresence({ room: "/dm/ana-bob" })) return; })())).toBe("ok");
    expect(await failure((async () => { for await (const _ of ana.watchPresence({ room: "/dm/bob-eve" })) return; })())).toBe("7/ROOM_FORBIDDEN");
  });

  it("caches decisions, and a decision changed by the backend shows after its TTL", async () => {
    const { backend, as, metric } = await setup({ PRESENCE_AUTHZ_HOOK_ALLOW_TTL_MS: "400", PRESENCE_AUTHZ_HOOK_DENY_TTL_MS: "400" });
    backend.friends.add("ana>bob");
    const [ana, bob] = [await as("ana"), await as("bob")];
    await bob.join({ room: "/chat/general" });
    expect(states((await ana.getUserStatus({ userIds: ["bob"] })).statuses)).toEqual(["bob:ONLINE:seen"]);
    for (let i = 0; i < 5; i++) await ana.getUserStatus({ userIds: ["bob"] });
    expect(backend.requests).toHaveLength(1); // cache hits
    expect(await metric(/presence_authz_hook_decisions_total\{operation="status.read",decision="allow",source="cache"\} (\d+)/)).toBe(5);
    // The backend unfriends: still cached...
    backend.friends.delete("ana>bob");
    expect(states((await ana.getUserStatus({ userIds: ["bob"] })).statuses)).toEqual(["bob:ONLINE:seen"]);
    // ...until the TTL has passed: then asked again, and now hidden.
    await new Promise((r) => setTimeout(r, 450));
    expect(states((await ana.getUserStatus({ userIds: ["bob"] })).statuses)).toEqual(["bob:OFFLINE:never"]);
    expect(backend.requests).toHaveLength(2);
    expect(await metric(/presence_authz_hook_decisions_total\{operation="status.read",decision="deny",source="hook"\} (\d+)/)).toBe(1);
  });

  it("fails closed when the hook is slow or down: AUTH_UNAVAILABLE, counted, and not asked again for the failure TTL", async () => {
    const { s, backend, as, metric } = await setup();
    const ana = await as("ana");
    backend.mode = "slow";
    const t0 = performance.now();
    expect(await failure(ana.getUserStatus({ userIds: ["bob"] }))).toBe("14/AUTH_UNAVAILABLE");
    expect(performance.now() - t0).toBeLessThan(1_000); // the 200 ms timeout, not the hook's 1 s
    expect(await metric(/presence_authz_hook_requests_total\{result="timeout"\} (\d+)/)).toBe(1);
    // Within the failure TTL the same question fails at once, without a request.
    expect(await failure(ana.getUserStatus({ userIds: ["bob"] }))).toBe("14/AUTH_UNAVAILABLE");
    expect(backend.requests).toHaveLength(1);
    // An error answer and a closed backend are failures too.
    backend.mode = "error";
    await new Promise((r) => setTimeout(r, 350));
    expect(await failure(ana.getUserStatus({ userIds: ["bob"] }))).toBe("14/AUTH_UNAVAILABLE");
    expect(await metric(/presence_authz_hook_requests_total\{result="http_status"\} (\d+)/)).toBe(1);
    await backend.close();
    await new Promise((r) => setTimeout(r, 350));
    expect(await failure((async () => { for await (const _ of ana.watchPresence({ room: "/dm/ana-x" })) return; })())).toBe("14/AUTH_UNAVAILABLE");
    expect(await metric(/presence_authz_hook_requests_total\{result="connection"\} (\d+)/)).toBe(1);
    // Rights the rules grant never need the hook: still served.
    expect(await failure(ana.getPresence({ room: "/chat/general" }))).toBe("ok");
    expect(s.app.access.policy.mode).toBe("production");
  });
});
