import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Redis } from "ioredis";
import { PresenceService } from "../../gen/presence/v1/presence_pb.js";
import type { ClusterRecorder } from "./cluster-recorder.js";
import { signTestToken, TEST_SECRET } from "./tokens.js";
import { recordWatch, waitFor, type RecordedMessage, type RecordedWatch } from "./watch-recorder.js";

/**
 * Shared pieces of the server-node fault tests (test/fault/node-*.fault.test.ts, multi-node):
 * clients of one user on one node, attached sessions (a WatchPresence naming a session), the
 * recorder's messages per watcher, a `/metrics` scrape, and a scan of Redis for anything left of a
 * set of sessions. Everything opened here is closed by `closeAll()` (call it in `afterEach`).
 */

const closers: (() => void)[] = [];

/** Closes every client and attached stream opened through this module. */
export function closeAll(): void {
  for (const c of closers.splice(0)) c();
}

/** A PresenceService client of one caller (token or anonymous) on one node, with its own HTTP/2 connection (gRPC). */
export interface NodeClient {
  readonly rpcUrl: string;
  readonly token: string | undefined;
  readonly client: Client<typeof PresenceService>;
  /** Bearer header for calls made outside `client` (recordWatch), empty when anonymous. */
  readonly headers: Record<string, string> | undefined;
}

export function nodeClient(rpcUrl: string, token?: string): NodeClient {
  const session = new Http2SessionManager(rpcUrl);
  closers.push(() => session.abort());
  const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
  const client = createClient(
    PresenceService,
    createGrpcTransport({
      baseUrl: rpcUrl,
      sessionManager: session,
      interceptors: headers ? [(next) => (req) => (req.header.set("authorization", headers.authorization), next(req))] : [],
    }),
  );
  return { rpcUrl, token, client, headers };
}

/** A user's token (sub = name = `user`), valid for 5 minutes. */
export const tokenOf = (user: string) => signTestToken(TEST_SECRET, { sub: user, name: user }, 300);

/**
 * Binds `sessionId` to a new WatchPresence of `room` on `via`'s node (attached binding) and waits
 * for its first snapshot: from then on the node refreshes the session. The stream has its own
 * HTTP/2 connection, so ending the node ends exactly the streams it holds.
 */
export async function attachSession(via: { rpcUrl: string; token: string | undefined }, sessionId: string, room: string): Promise<RecordedWatch> {
  const c = nodeClient(via.rpcUrl, via.token);
  const w = recordWatch(c.client, { room, sessionId });
  closers.push(() => w.cancel());
  await w.until((r) => r.view() !== null || w.isEnded(), 5_000, `attached stream of ${room} on ${via.rpcUrl}`);
  const err = w.isEnded() ? await w.ended : undefined;
  if (err) throw new Error(`attach ${room} on ${via.rpcUrl} failed: ${err.code} ${err.rawMessage}`);
  return w;
}

/** Every recorded message of watcher `i`, over all its segments. */
export function messagesOf(rec: ClusterRecorder, i: number): RecordedMessage[] {
  return rec.watchers[i]!.segments.flatMap((s) => s.recorder.messages);
}

/** Membership events (`joined` / `left`) of watcher `i` for `cid` received at or after `sinceMs`. */
export function transitionsOf(rec: ClusterRecorder, i: number, cid: string, sinceMs = 0): RecordedMessage[] {
  return messagesOf(rec, i).filter((m) => m.kind === "event" && m.connectionId === cid && m.receivedAtMs >= sinceMs);
}

/** Waits until every watcher `i` in `watchers` has recorded `n` leaves of every cid in `cids`. */
export function waitLeaves(rec: ClusterRecorder, watchers: number[], cids: string[], timeoutMs: number): Promise<void> {
  return waitFor(
    () => cids.every((cid) => watchers.every((i) => rec.leavesFor(cid)[i]! >= 1)),
    timeoutMs,
    `a leave of ${cids.join(", ")} on watchers ${watchers.join(", ")}`,
  );
}

/** Sum of every sample of `metric` (all label sets) on a node's `/metrics`. */
export async function scrapeSum(adminUrl: string, metric: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${metric} `) || l.startsWith(`${metric}{`))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

/** Every non-zero sample of `metric` on a node's `/metrics`, as `name{labels} value` lines. */
export async function scrapeNonZero(adminUrl: string, metric: string): Promise<string[]> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return text.split("\n").filter((l) => (l.startsWith(`${metric} `) || l.startsWith(`${metric}{`)) && Number(l.split(" ").pop()) !== 0);
}

/**
 * Scans `pattern` (default `pr:*`) on one standalone server and reports every place where one of
 * `needles` (session ids, connection ids) still occurs: in a key name, a hash field or value, a
 * zset or set member, a list element or a string value. Streams (the rooms' capped event logs) are
 * history, not state, and are skipped: a `left` event there names the connection by design.
 */
export async function residueOf(client: Redis, needles: string[], pattern = "pr:*"): Promise<string[]> {
  const found: string[] = [];
  const hit = (key: string, where: string, text: string) => {
    for (const n of needles) if (text.includes(n)) found.push(`${key} ${where} contains ${n}`);
  };
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", "500");
    cursor = next;
    for (const key of keys) {
      hit(key, "(name)", key);
      const type = await client.type(key);
      if (type === "hash") {
        for (const [f, v] of Object.entries(await client.hgetall(key))) {
          hit(key, `field ${f}`, f);
          hit(key, `value of ${f}`, v);
        }
      } else if (type === "zset") {
        for (const m of await client.zrange(key, "0", "-1")) hit(key, "member", m);
      } else if (type === "set") {
        for (const m of await client.smembers(key)) hit(key, "member", m);
      } else if (type === "list") {
        for (const m of await client.lrange(key, 0, -1)) hit(key, "element", m);
      } else if (type === "string") {
        hit(key, "value", (await client.get(key)) ?? "");
      }
    }
  } while (cursor !== "0");
  return found;
}
