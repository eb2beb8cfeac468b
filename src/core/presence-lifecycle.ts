import { compareNodes, deadAfterMs, nodeAlive, nodeNotFound, type NodeInfo } from "./node-id.js";
import { sessionNotFound } from "./presence-error.js";
import { endSessionWith, requireSession, type Effects, type PresenceModel } from "./presence-model.js";
import { extendSession, expiredSessions, liveSession, pruneRequests, sessionsPerNode, type SessionEntry } from "./session-table.js";
import { pruneUsers } from "./user-presence.js";

/**
 * Session lifecycle transitions of the presence model (presence-model.ts): binding to a node's
 * streams, node refreshes, the reconnect grace, reaping by expiry, operator kicks and purges, and
 * the node registry. Pure; every transition takes `nowMs` and fills `Effects`.
 */

/** Binds a session to a stream of this node: refreshed now and recorded for this node. */
export function modelAttach(m: PresenceModel, ref: { sessionId: string; ownerKey: string }, nowMs: number): SessionEntry {
  const s = requireSession(m, ref, nowMs);
  extendSession(s, nowMs, m.o.timings.sessionTtlMs);
  s.nodeId = m.o.nodeId;
  return s;
}

/** A node's batch refresh of its bound sessions (no owner check: it verified them when binding). Returns the ids that are gone. */
export function modelRefresh(m: PresenceModel, sessionIds: readonly string[], nowMs: number): string[] {
  const missing: string[] = [];
  for (const id of sessionIds) {
    const s = liveSession(m.sessions, id, nowMs);
    if (s) extendSession(s, nowMs, m.o.timings.sessionTtlMs);
    else missing.push(id);
  }
  return missing;
}

/**
 * The last stream of a session on this node ended: it expires after `graceMs` unless bound again.
 * A gone or foreign session is ignored, and so is one recorded for another node (a reconnect
 * attached or reclaimed it there since: a late release of the old node must not cut the new
 * binding down to the grace).
 */
export function modelRelease(m: PresenceModel, ref: { sessionId: string; ownerKey: string }, graceMs: number, nowMs: number): void {
  const s = liveSession(m.sessions, ref.sessionId, nowMs);
  if (s && s.ownerKey === ref.ownerKey && (s.nodeId === "" || s.nodeId === m.o.nodeId)) extendSession(s, nowMs, graceMs);
}

/**
 * Ends every session whose expiry has passed (each leaves its rooms with TIMEOUT), forgets
 * request ids and offline users past their retention, and drops idle rooms past theirs.
 */
export function modelReap(m: PresenceModel, nowMs: number, fx: Effects): { expiredSessions: number; leaves: number } {
  const expired = expiredSessions(m.sessions, nowMs);
  let leaves = 0;
  for (const s of expired) leaves += endSessionWith(m, s, "timeout", nowMs, fx);
  pruneRequests(m.sessions, nowMs);
  pruneUsers(m.users, nowMs, m.o.timings.lastSeenRetentionMs);
  for (const [name, r] of m.rooms) {
    if (r.idleSinceMs > 0 && r.idleSinceMs + m.o.timings.roomRetentionMs <= nowMs) m.rooms.delete(name);
  }
  return { expiredSessions: expired.length, leaves };
}

/** An operator ends a live session now: it leaves every room with KICKED. SESSION_NOT_FOUND otherwise. */
export function modelKick(m: PresenceModel, sessionId: string, nowMs: number, fx: Effects): { session: SessionEntry; roomsLeft: number } {
  const s = liveSession(m.sessions, sessionId, nowMs);
  if (!s) throw sessionNotFound();
  return { session: s, roomsLeft: endSessionWith(m, s, "kicked", nowMs, fx) };
}

/** Records this node as alive now. */
export function modelAnnounce(m: PresenceModel, nowMs: number): void {
  m.nodes.set(m.o.nodeId, nowMs);
}

/** Nodes in the registry or named by a live session, alive first, then by id. */
export function modelListNodes(m: PresenceModel, nowMs: number): { nodes: NodeInfo[]; deadAfterMs: number } {
  const bound = deadAfterMs(m.o.timings.nodeRefreshMs);
  const sessions = sessionsPerNode(m.sessions, nowMs);
  const ids = new Set([...m.nodes.keys(), ...sessions.keys()]);
  const nodes = [...ids].map((nodeId): NodeInfo => {
    const lastSeenMs = m.nodes.get(nodeId) ?? 0;
    const lastSeenAgeMs = lastSeenMs === 0 ? 0 : nowMs - lastSeenMs;
    return { nodeId, lastSeenMs, lastSeenAgeMs, alive: lastSeenMs > 0 && lastSeenAgeMs < bound, sessions: sessions.get(nodeId) ?? 0 };
  });
  return { nodes: nodes.sort(compareNodes), deadAfterMs: bound };
}

/**
 * Kicks every live session recorded for `nodeId` and forgets the node. NODE_ALIVE when it was seen
 * within the dead bound and `force` is false; NODE_NOT_FOUND when nothing knows it.
 */
export function modelPurge(m: PresenceModel, nodeId: string, force: boolean, nowMs: number, fx: Effects): { sessionsKicked: number; roomsLeft: number } {
  const lastSeen = m.nodes.get(nodeId);
  const bound = deadAfterMs(m.o.timings.nodeRefreshMs);
  if (lastSeen !== undefined && nowMs - lastSeen < bound && !force) throw nodeAlive(nodeId, nowMs - lastSeen, bound);
  const victims = [...m.sessions.sessions.values()].filter((s) => s.nodeId === nodeId && s.expiresAtMs > nowMs);
  if (lastSeen === undefined && victims.length === 0) throw nodeNotFound(nodeId);
  let roomsLeft = 0;
  for (const s of victims) roomsLeft += endSessionWith(m, s, "kicked", nowMs, fx);
  m.nodes.delete(nodeId);
  return { sessionsKicked: victims.length, roomsLeft };
}
