import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { PresenceService } from "../../../gen/presence/v1/presence_pb.js";
import { Detail } from "../../../gen/presence/v1/types_pb.js";
import { fromConnectError, PresenceClientError } from "./errors.js";
import { resolveToken, type PresenceTransport, type TokenSource, type TransportHandlers } from "./transport.js";

/**
 * PresenceService over Connect-Web (fetch): unary calls for Join, Leave, Navigate, Heartbeat,
 * typing, cursors and broadcasts, and one WatchPresence server stream per watched room. Works in browsers and
 * in Node ≥ 18 (global fetch). Sessions are `heartbeat`-bound: the client sends Heartbeat every
 * interval (design §9), and watch streams are not bound to the session, so a stream that drops
 * never starts a reconnect grace.
 */
export interface ConnectTransportOptions {
  /** Base URL of the RPC port, e.g. `https://presence.example.com` (default port 8080). */
  baseUrl: string;
  token?: TokenSource | undefined;
  /** fetch to use (e.g. one that sets `credentials`). Default: global fetch. */
  fetch?: typeof globalThis.fetch | undefined;
  /** Deadline of unary calls. Default 10,000 ms. */
  requestTimeoutMs?: number | undefined;
}

export function createConnectPresenceTransport(o: ConnectTransportOptions): PresenceTransport {
  let token = "";
  const auth: Interceptor = (next) => (req) => {
    if (token !== "") req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const client = createClient(
    PresenceService,
    createConnectTransport({ baseUrl: o.baseUrl, ...(o.fetch ? { fetch: o.fetch } : {}), interceptors: [auth], useBinaryFormat: true }),
  );
  const timeoutMs = o.requestTimeoutMs ?? 10_000;
  const watches = new Map<string, AbortController>();
  let usersWatch: AbortController | null = null;
  let handlers: TransportHandlers | null = null;

  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw fromConnectError(e);
    }
  };

  const stopWatch = (room: string) => {
    watches.get(room)?.abort();
    watches.delete(room);
  };

  return {
    kind: "connect",
    keepsSessionAlive: false,

    async open(h) {
      token = await resolveToken(o.token);
      handlers = h;
      return { anonymous: token === "" };
    },

    close() {
      for (const room of [...watches.keys()]) stopWatch(room);
      usersWatch?.abort();
      usersWatch = null;
      handlers = null;
    },

    join: (req) => call(() => client.join(req, { timeoutMs })),
    leave: (req) => call(() => client.leave(req, { timeoutMs })),
    navigate: (req) => call(() => client.navigate(req, { timeoutMs })),
    heartbeat: (req) => call(() => client.heartbeat(req, { timeoutMs })),
    setTyping: (req) => call(async () => void (await client.setTyping(req, { timeoutMs }))),
    updateCursor: (req) => call(async () => void (await client.updateCursor(req, { timeoutMs }))),
    setStatus: (req) => call(() => client.setStatus(req, { timeoutMs })),
    updatePresence: (req) => call(async () => void (await client.updatePresence(req, { timeoutMs }))),
    broadcast: (req) => call(() => client.broadcast(req, { timeoutMs })),

    watchUsers(userIds) {
      usersWatch?.abort();
      const h = handlers;
      if (!h) return;
      const ac = new AbortController();
      usersWatch = ac;
      void (async () => {
        let error: PresenceClientError;
        try {
          for await (const m of client.watchUsers({ userIds }, { signal: ac.signal })) {
            if (ac.signal.aborted) return;
            h.onUsersMessage(m);
          }
          error = new PresenceClientError("unavailable", "user watch ended");
        } catch (e) {
          error = fromConnectError(e);
        }
        if (ac.signal.aborted) return;
        if (usersWatch === ac) usersWatch = null;
        h.onUsersEnded(error);
      })();
    },

    unwatchUsers() {
      usersWatch?.abort();
      usersWatch = null;
    },

    watch(room, resumeFrom) {
      stopWatch(room);
      const h = handlers;
      if (!h) return;
      const ac = new AbortController();
      watches.set(room, ac);
      const req = {
        room,
        detail: Detail.FULL,
        resumeFrom: resumeFrom && resumeFrom.epoch !== "" ? { epoch: resumeFrom.epoch, version: BigInt(resumeFrom.version) } : undefined,
      };
      void (async () => {
        let error: PresenceClientError;
        try {
          for await (const m of client.watchPresence(req, { signal: ac.signal })) {
            if (ac.signal.aborted) return;
            h.onWatchMessage(m);
          }
          error = new PresenceClientError("unavailable", "watch stream ended");
        } catch (e) {
          error = fromConnectError(e);
        }
        if (ac.signal.aborted) return;
        if (watches.get(room) === ac) watches.delete(room);
        h.onWatchEnded(room, error);
      })();
    },

    unwatch: stopWatch,
  };
}
