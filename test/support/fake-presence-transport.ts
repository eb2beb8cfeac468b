import { create } from "@bufbuild/protobuf";
import {
  HeartbeatResponseSchema,
  JoinResponseSchema,
  LeaveResponseSchema,
  NavigateResponseSchema,
  SetStatusResponseSchema,
  WatchPresenceResponseSchema,
  type JoinRequest,
  type WatchUsersResponse,
  type WatchPresenceResponse,
} from "../../gen/presence/v1/presence_pb.js";
import { BroadcastResponseSchema } from "../../gen/presence/v1/broadcast_pb.js";
import type { UserInfo } from "../../src/core/identity.js";
import type { Member, PresenceEvent, RoomView } from "../../src/core/presence-event.js";
import type { WatchItem } from "../../src/fanout/fanout-hub.js";
import { viewToPb, watchItemToPb } from "../../src/transport/wire.js";
import type { PresenceClientError } from "../../packages/client/src/errors.js";
import type { PresenceTransport, TransportHandlers } from "../../packages/client/src/transport.js";
import type { VisibilityDocument } from "../../packages/client/src/visibility.js";

/**
 * An in-memory PresenceTransport for unit tests of the client's state machine: it records every
 * call, answers Join like a server would (new session, or the same one when `session_id` names a
 * live session; `resumed` when a resume secret came with it), and lets the test push watch
 * messages, drop the connection, and make the next calls fail.
 */
export interface FakeCall {
  method: string;
  req: Record<string, unknown>;
}

export function createFakeTransport(kind: "connect" | "websocket" = "connect") {
  let handlers: TransportHandlers | null = null;
  let n = 0;
  const live = new Map<string, { secret: string; connectionId: string }>();
  const calls: FakeCall[] = [];
  const fake = {
    calls,
    opens: 0,
    closes: [] as boolean[],
    /** The next `open` fails with this (then it is cleared). */
    openError: null as PresenceClientError | null,
    /** Joins fail with this while set (a function picks per request). */
    joinError: null as PresenceClientError | ((req: JoinRequest) => PresenceClientError | null) | null,
    /** Every Heartbeat fails with this while set. */
    heartbeatError: null as PresenceClientError | null,
    /** The view a Join answers with (default: none, the watch brings it). */
    joinView: null as ((req: JoinRequest, connectionId: string) => RoomView | null) | null,
    get open() {
      return handlers !== null;
    },
    /** Forgets every session (a server restart). */
    forgetSessions: () => live.clear(),
    push(item: WatchItem) {
      handlers?.onWatchMessage(create(WatchPresenceResponseSchema, watchItemToPb(item)));
    },
    /** The server or the network closed the connection. */
    drop(err: PresenceClientError) {
      const h = handlers;
      handlers = null;
      h?.onClosed(err);
    },
    watchEnded(room: string, err: PresenceClientError) {
      handlers?.onWatchEnded(room, err);
    },
    pushError(err: PresenceClientError) {
      handlers?.onError(err);
    },
    pushRaw(msg: WatchPresenceResponse) {
      handlers?.onWatchMessage(msg);
    },
    pushUsers(msg: WatchUsersResponse) {
      handlers?.onUsersMessage(msg);
    },
    of: (method: string) => calls.filter((c) => c.method === method),
    transport: null as unknown as PresenceTransport,
  };
  const record = (method: string, req: object) => calls.push({ method, req: req as Record<string, unknown> });
  const lease = { ttlMs: 60_000n, heartbeatIntervalMs: 30_000n, expiresAtMs: 0n };

  fake.transport = {
    kind,
    keepsSessionAlive: kind === "websocket",
    async open(h) {
      fake.opens++;
      if (fake.openError) {
        const e = fake.openError;
        fake.openError = null;
        throw e;
      }
      handlers = h;
      return { anonymous: false };
    },
    close(endSession) {
      fake.closes.push(endSession);
      handlers = null;
    },
    async join(req) {
      record("join", req);
      const r = req as JoinRequest;
      const err = typeof fake.joinError === "function" ? fake.joinError(r) : fake.joinError;
      if (err) throw err;
      let resumed = false;
      let id = r.sessionId ?? "";
      let s = id ? live.get(id) : undefined;
      if (s && r.resumeSecret) resumed = s.secret === r.resumeSecret;
      if (!s) {
        n++;
        id = `s${n}`;
        s = { secret: `secret${n}`, connectionId: `c${n}` };
        live.set(id, s);
      }
      const view = fake.joinView?.(r, s.connectionId);
      return create(JoinResponseSchema, {
        session: { sessionId: id, resumeSecret: s.secret, connectionId: s.connectionId },
        lease,
        resumed,
        view: view ? viewToPb(view) : undefined,
      });
    },
    async leave(req) {
      record("leave", req);
      return create(LeaveResponseSchema, { left: true });
    },
    async navigate(req) {
      record("navigate", req);
      return create(NavigateResponseSchema, { lease });
    },
    async heartbeat(req) {
      record("heartbeat", req);
      if (fake.heartbeatError) throw fake.heartbeatError;
      return create(HeartbeatResponseSchema, { lease });
    },
    async setTyping(req) {
      record("setTyping", req);
    },
    async updateCursor(req) {
      record("updateCursor", req);
    },
    async setStatus(req) {
      record("setStatus", req);
      return create(SetStatusResponseSchema, {});
    },
    watch(room, resumeFrom) {
      record("watch", { room, resumeFrom });
    },
    unwatch(room) {
      record("unwatch", { room });
    },
    async updatePresence(req) {
      record("updatePresence", req);
    },
    async broadcast(req) {
      record("broadcast", req);
      return create(BroadcastResponseSchema, { localWatchers: 1 });
    },
    watchUsers(userIds) {
      record("watchUsers", { userIds });
    },
    unwatchUsers() {
      record("unwatchUsers", {});
    },
  };
  return fake;
}

export type FakeTransport = ReturnType<typeof createFakeTransport>;

/** A user with one connection, as room views and events carry them. */
export function member(userId: string, connectionId: string, activity: "active" | "away" = "active"): { user: UserInfo; member: Member } {
  const user: UserInfo = { userId, name: userId.toUpperCase(), avatarUrl: "", metadata: {} };
  return { user, member: { connectionId, identity: { kind: "user", user }, metadata: {}, activity, joinedAtMs: 1 } };
}

/** A complete room view with the given `[userId, connectionId]` members (one connection each unless repeated). */
export function viewOf(room: string, epoch: string, version: number, members: [string, string][], extra: Partial<RoomView> = {}): RoomView {
  const users: RoomView["users"] = [];
  for (const [userId, connectionId] of members) {
    const m = member(userId, connectionId);
    const u = users.find((x) => x.user.userId === userId);
    if (u) u.connections.push(m.member);
    else users.push({ user: m.user, activity: "active", connections: [m.member] });
  }
  const distinct = new Set(members.map(([u]) => u)).size;
  return { room, epoch, version, counts: { users: distinct, connections: members.length, anonymous: 0 }, users, membersOmitted: false, typing: [], cursors: [], ...extra };
}

/** A join event at `version` (counts given explicitly). */
export function joined(room: string, epoch: string, version: number, userId: string, connectionId: string, users: number): PresenceEvent {
  const m = member(userId, connectionId);
  return { room, epoch, version, timeMs: 1, counts: { users, connections: users, anonymous: 0 }, kind: "joined", user: m.user, member: m.member, firstOfUser: true };
}

export function left(room: string, epoch: string, version: number, userId: string, connectionId: string, users: number): PresenceEvent {
  return { room, epoch, version, timeMs: 1, counts: { users, connections: users, anonymous: 0 }, kind: "left", userId, connectionId, reason: "left", lastOfUser: true };
}

/** A document whose visibility a test sets (`set` fires `visibilitychange`). */
export function fakeDocument(initial: "visible" | "hidden" = "visible") {
  const listeners = new Set<() => void>();
  const doc: VisibilityDocument & { set(v: "visible" | "hidden"): void; listeners: number } = {
    visibilityState: initial,
    addEventListener: (_t, fn) => void listeners.add(fn),
    removeEventListener: (_t, fn) => void listeners.delete(fn),
    set(v) {
      (this as { visibilityState: string }).visibilityState = v;
      for (const fn of [...listeners]) fn();
    },
    get listeners() {
      return listeners.size;
    },
  };
  return doc;
}
