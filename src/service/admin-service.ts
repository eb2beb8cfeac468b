import type { Caller } from "../core/identity.js";
import { NODE_ID } from "../core/node-id.js";
import { invalidArgument, limitExceeded, PresenceError } from "../core/presence-error.js";
import type { NodeInfo } from "../core/node-id.js";
import type { RoomSummary } from "../core/room-summary.js";
import { MAX_SESSION_ID_CHARS } from "../core/session.js";
import type { NodeRegistry } from "../store/ports/node-registry.js";
import type { RoomStore } from "../store/ports/room-store.js";
import type { SessionStore } from "../store/ports/session-store.js";

/**
 * The operator API (AdminService; the `presence` CLI is its client). Every call requires an admin
 * caller (JWT claim `role: "admin"`): no credential is `unauthenticated`, any other role is
 * `permission_denied`. Inputs are validated here; the store does the work (kicks and purges emit
 * the same events as a Leave, with reason KICKED). Listing calls walk the whole store (O(rooms) or
 * O(sessions)): operator tools, never request paths.
 */
export interface AdminService {
  listRooms(caller: Caller, req: { limit: number }): Promise<{ rooms: RoomSummary[]; totalRooms: number }>;
  listNodes(caller: Caller): Promise<{ nodes: NodeInfo[]; nodeId: string; deadAfterMs: number }>;
  kickSession(caller: Caller, req: { sessionId: string }): Promise<{ roomsLeft: number }>;
  purgeNode(caller: Caller, req: { nodeId: string; force: boolean }): Promise<{ sessionsKicked: number; roomsLeft: number }>;
}

export interface AdminServiceOptions {
  rooms: Pick<RoomStore, "listRooms">;
  sessions: Pick<SessionStore, "kickSession">;
  nodes: NodeRegistry;
  /** This process's node id (ListNodes says which node answered). */
  nodeId: string;
  /** ListRooms: rooms returned when the request's limit is 0 (PRESENCE_ADMIN_LIST_ROOMS_DEFAULT). */
  listRoomsDefault: number;
  /** ListRooms: the largest limit accepted (PRESENCE_ADMIN_LIST_ROOMS_MAX). */
  listRoomsMax: number;
  /** Called after each KickSession / PurgeNode with the sessions ended and the admin's `sub` (audit log). */
  onKick?: (how: "kick" | "purge", detail: { sessions: number; by: string; target: string }) => void;
}

export function createAdminService(o: AdminServiceOptions): AdminService {
  return {
    async listRooms(caller, req) {
      requireAdmin(caller);
      if (req.limit > o.listRoomsMax) throw limitExceeded("limit", o.listRoomsMax, req.limit, "rooms", "INVALID_ARGUMENT");
      return o.rooms.listRooms(req.limit === 0 ? o.listRoomsDefault : req.limit);
    },

    async listNodes(caller) {
      requireAdmin(caller);
      return { ...(await o.nodes.listNodes()), nodeId: o.nodeId };
    },

    async kickSession(caller, req) {
      requireAdmin(caller);
      if (req.sessionId === "") throw invalidArgument("session_id", "must not be empty");
      if (req.sessionId.length > MAX_SESSION_ID_CHARS) throw invalidArgument("session_id", `must be at most ${MAX_SESSION_ID_CHARS} characters`);
      const r = await o.sessions.kickSession(req.sessionId, { actor: caller.subject });
      o.onKick?.("kick", { sessions: 1, by: caller.subject, target: req.sessionId.slice(0, 6) + "…" });
      return r;
    },

    async purgeNode(caller, req) {
      requireAdmin(caller);
      if (req.nodeId === "") throw invalidArgument("node_id", "must not be empty");
      if (!NODE_ID.test(req.nodeId)) throw invalidArgument("node_id", "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'");
      const r = await o.nodes.purgeNode(req.nodeId, { force: req.force, actor: caller.subject });
      o.onKick?.("purge", { sessions: r.sessionsKicked, by: caller.subject, target: req.nodeId });
      return r;
    },
  };
}

/** Admin role or a rejection that says what credential is needed. */
function requireAdmin(caller: Caller): void {
  if (caller.role === "admin") return;
  if (caller.role === "anonymous") {
    throw new PresenceError("UNAUTHENTICATED", "authorization: the admin API requires an admin token (Bearer JWT with role \"admin\")", {
      field: "authorization",
    });
  }
  throw new PresenceError("PERMISSION_DENIED", `authorization: the admin API requires an admin token (JWT claim role "admin"); this token's role is "${caller.role}"`, {
    field: "authorization",
  });
}
