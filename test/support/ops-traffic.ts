/**
 * Drives every kind of traffic the dashboards and alerts look at through a real server, over real
 * clients of each protocol (Connect over HTTP/1.1, gRPC through grpc-js, gRPC-Web over HTTP/2, and
 * the WebSocket bridge): joins, heartbeats, typing, cursors, leaves, watchers (Connect streams in
 * full and counts detail, WebSocket watches), a watch stream that ends, sessions that time out
 * (they join and never heartbeat), auth failures on both transports, an unknown session, and a
 * malformed WebSocket frame. Used by the Prometheus test (every panel and rule has data) and the
 * unbounded-labels test (no room, user, session or connection id ever becomes a label value).
 *
 * Every room and user name carries a random `tag`, so a test can search the scrape text for it.
 */
import { randomBytes } from "node:crypto";
import { Detail } from "../../gen/presence/v1/types_pb.js";
import { connectClient, expectRpcError, grpcJsClient, grpcWebClient, startWatch, type PresenceClient, type WatchHandle } from "./clients.js";
import type { TestServer } from "./server.js";
import { signTestToken, TEST_SECRET } from "./tokens.js";
import { connectWs, type WsTestClient } from "./ws-client.js";

/**
 * Short timings for a server whose traffic must show every kind of metric within seconds (a session
 * times out after 1.5 s without heartbeats); the caller adds the Redis URL and its own extras.
 */
export const OPS_TIMINGS_ENV: Readonly<Record<string, string>> = {
  PRESENCE_HEARTBEAT_INTERVAL_MS: "500",
  PRESENCE_SESSION_TTL_MS: "1500",
  PRESENCE_NODE_REFRESH_MS: "500",
  PRESENCE_REAPER_INTERVAL_MS: "200",
};

export interface TrafficOptions {
  /** Rooms to act in (default 12). */
  rooms?: number;
  /** Distinct users (default 6); user i acts in rooms i, i + users, … */
  users?: number;
  /** Rooms that get watchers (Connect full + counts, WebSocket), default 4. */
  watchedRooms?: number;
}

/** What the traffic used (for the label checks) and the watchers it keeps open until `stop()`. */
export interface Traffic {
  /** The random marker in every room and user name. */
  readonly tag: string;
  readonly rooms: string[];
  readonly users: string[];
  /** Session ids and public connection ids handed out by the server. */
  readonly sessionIds: string[];
  readonly connectionIds: string[];
  /** Closes the watchers, WebSockets and clients. */
  stop(): Promise<void>;
}

/** Runs the traffic once; resolves when every call has been answered (watchers stay open). */
export async function driveTraffic(server: TestServer, opts: TrafficOptions = {}): Promise<Traffic> {
  const tag = `t${randomBytes(6).toString("hex")}`;
  const roomCount = opts.rooms ?? 12;
  const userCount = opts.users ?? 6;
  const rooms = Array.from({ length: roomCount }, (_, i) => `ops/${tag}/room-${i}`);
  const users = Array.from({ length: userCount }, (_, i) => `${tag}-user-${i}`);
  const tokens = await Promise.all(users.map((u) => signTestToken(TEST_SECRET, { sub: u, name: u }, 300)));
  const sessionIds: string[] = [];
  const connectionIds: string[] = [];
  const clients: PresenceClient[] = [];
  const watches: WatchHandle[] = [];
  const sockets: WsTestClient[] = [];
  const client = (kind: number, token: string) => {
    const c = [connectClient, grpcJsClient, (u: string, t?: string) => grpcWebClient(u, t, { httpVersion: "2" })][kind % 3]!(server.baseUrl, token);
    clients.push(c);
    return c;
  };
  const perUser = users.map((_, i) => [0, 1, 2].map((k) => client(k, tokens[i]!)));

  // Watchers first, so the joins below reach them live (fan-out latency is measured on live events).
  const watched = rooms.slice(0, opts.watchedRooms ?? 4);
  for (const [i, room] of watched.entries()) {
    const full = startWatch(perUser[i % userCount]![0]!, { room, detail: Detail.FULL });
    const counts = startWatch(perUser[i % userCount]![1]!, { room, detail: Detail.COUNTS });
    watches.push(full, counts);
    const ws = await connectWs(server.wsUrl, { token: tokens[i % userCount] });
    sockets.push(ws);
    await ws.request({ case: "watch", value: { room, detail: i % 2 === 0 ? Detail.FULL : Detail.COUNTS } });
  }
  await Promise.all(watches.map((w) => w.waitFor((m) => m.message.case === "snapshot" || m.message.case === "counts")));
  // One watch stream that ends (stream duration, code Canceled).
  const shortLived = startWatch(perUser[0]![2]!, { room: rooms[0]!, detail: Detail.FULL });
  await shortLived.waitFor((m) => m.message.case === "snapshot");
  await shortLived.stop();

  // Members over every RPC protocol: join, heartbeat (twice, for the lag), typing, cursor; half leave.
  const act = async (i: number) => {
    const room = rooms[i]!;
    const c = perUser[i % userCount]![i % 3]!;
    const j = await c.join({ room, metadata: { color: "teal" } });
    const sessionId = j.session!.sessionId;
    sessionIds.push(sessionId);
    connectionIds.push(j.session!.connectionId);
    await c.heartbeat({ sessionId });
    await c.setTyping({ sessionId, room, typing: true });
    await c.updateCursor({ sessionId, room, position: { x: i, y: 2 * i } });
    await c.heartbeat({ sessionId });
    if (i % 2 === 1) await c.leave({ sessionId, room });
  };
  for (let i = 0; i < roomCount; i += 16) await Promise.all(rooms.slice(i, i + 16).map((_, k) => act(i + k)));

  // WebSocket members: join, heartbeat, typing and cursor frames on the watched rooms.
  for (const [i, ws] of sockets.entries()) {
    const room = watched[i]!;
    const j = await ws.request({ case: "join", value: { room } });
    if (j.frame.case === "join") {
      sessionIds.push(j.frame.value.session!.sessionId);
      connectionIds.push(j.frame.value.session!.connectionId);
      await ws.request({ case: "heartbeat", value: { sessionId: j.frame.value.session!.sessionId } });
    }
    ws.send({ frame: { case: "typing", value: { sessionId: j.frame.case === "join" ? j.frame.value.session!.sessionId : "", room, typing: true } } });
  }

  // Failures: bad credentials on both transports, an unknown session, a malformed frame.
  await expectRpcError(client(0, "not-a-jwt").join({ room: rooms[0]! }));
  await expectRpcError(client(1, "not-a-jwt").join({ room: rooms[0]! }));
  await expectRpcError(perUser[0]![0]!.heartbeat({ sessionId: `${tag}-no-such-session` }));
  // The upgrade is refused with 401: connectWs rejects, the failure is counted by the server.
  await connectWs(server.wsUrl, { token: "not-a-jwt" }).then(
    (c) => c.closed,
    () => undefined,
  );
  const bad = await connectWs(server.wsUrl, { token: tokens[0] });
  bad.ws.send(Buffer.from([0xff, 0xff, 0xff]));
  await bad.closed;
  const done = await connectWs(server.wsUrl, { token: tokens[0] });
  done.close(1000);
  await done.closed;

  return {
    tag,
    rooms,
    users,
    sessionIds,
    connectionIds,
    async stop() {
      await Promise.all(watches.map((w) => w.stop()));
      for (const ws of sockets) ws.close(1000);
      await Promise.all(sockets.map((ws) => ws.closed));
      for (const c of clients) c.close();
    },
  };
}
