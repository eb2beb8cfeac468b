import type { NodeInfo } from "../../core/node-id.js";

/**
 * The node registry (operator calls): which server nodes are alive, how many sessions each holds,
 * and the purge of a dead node's sessions. Enumeration is O(sessions): never on request paths.
 */
export interface NodeRegistry {
  /** Records this node as alive now (the app calls it every `nodeRefreshMs`). */
  announceNode(): Promise<void>;
  /** Nodes in the registry or named by a session, alive first, then by id. */
  listNodes(): Promise<{ nodes: NodeInfo[]; deadAfterMs: number }>;
  /**
   * Kicks every session recorded for `nodeId` and forgets the node. NODE_ALIVE (failed_precondition)
   * when the node was seen within the dead bound and `force` is false; NODE_NOT_FOUND when neither
   * the registry nor any session knows the node. `actor` goes into the commit feed.
   */
  purgeNode(nodeId: string, opts: { force: boolean; actor?: string }): Promise<{ sessionsKicked: number; roomsLeft: number }>;
}
