import { PresenceError } from "./presence-error.js";

/**
 * Node identity and liveness, shared by the stores and the admin service. Every server process
 * has a node id (PRESENCE_NODE_ID); sessions record the node that created, attached or reclaimed
 * them last, and each node records itself in a registry every node refresh interval. A node not
 * seen for `deadAfterMs` (2 × the refresh interval: one missed refresh is tolerated) is dead, and
 * only then may its sessions be purged without `force`.
 */

/** A node as the registry and the sessions know it (AdminService.ListNodes). */
export interface NodeInfo {
  nodeId: string;
  /** Store time of its last announcement; 0 when only sessions name it. */
  lastSeenMs: number;
  /** How long ago that was, by the store's clock. */
  lastSeenAgeMs: number;
  alive: boolean;
  /** Sessions recorded for the node now. */
  sessions: number;
}

/** Node ids: 1..128 characters of [A-Za-z0-9._-] (host names fit; safe in logs and CLI output). */
export const NODE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The bound after which a silent node is considered dead. */
export const deadAfterMs = (nodeRefreshMs: number): number => 2 * nodeRefreshMs;

/** `<hostname>-<6 hex>`: names the host, and differs per process start (a restarted pod is a new node). */
export function defaultNodeId(hostname: string, random: string): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 100) || "node";
  return `${host}-${random}`;
}

/** PurgeNode of a node seen alive within the bound. */
export function nodeAlive(nodeId: string, ageMs: number, boundMs: number): PresenceError {
  return new PresenceError(
    "NODE_ALIVE",
    `node_id: node ${nodeId} was seen ${formatAge(ageMs)} ago, within the dead bound of ${formatAge(boundMs)} (2 × node refresh); ` +
      "it may still be running: stop it first, wait until it is reported dead, or pass force",
    { field: "node_id", limit: boundMs, actual: ageMs },
  );
}

/** PurgeNode of a node that neither the registry nor any session knows. */
export function nodeNotFound(nodeId: string): PresenceError {
  return new PresenceError("NODE_NOT_FOUND", `node_id: no node ${nodeId} is known (no registry entry, no session); see ListNodes`, {
    field: "node_id",
  });
}

/** "850 ms", "12.3 s", "4 min 10 s". */
export function formatAge(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const s = Math.round(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
}

/** Alive first, then by id (ListNodes order). */
export function compareNodes(a: { alive: boolean; nodeId: string }, b: { alive: boolean; nodeId: string }): number {
  return a.alive === b.alive ? (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0) : a.alive ? -1 : 1;
}
