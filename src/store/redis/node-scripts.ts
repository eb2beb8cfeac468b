import { ScriptReply, type ScriptContext } from "./script-reply.js";

/** Typed wrappers of the node-registry scripts (lua/node*.lua: one hash for the deployment). */
export interface NodeScripts {
  /** Records `nodeId` as alive now and forgets entries older than `retentionMs`; returns the store's time. */
  announce(nodeId: string, retentionMs: number): Promise<{ nowMs: number }>;
  /** The registry (node id → last announcement ms) and the store's time, read together. */
  list(): Promise<{ nowMs: number; seen: Map<string, number> }>;
}

export function createNodeScripts(c: ScriptContext): NodeScripts {
  return {
    async announce(nodeId, retentionMs) {
      const r = new ScriptReply("nodeAnnounce", await c.run("nodeAnnounce", [c.keys.nodes()], [nodeId, c.nowArg(), retentionMs]));
      return { nowMs: r.int(0) };
    },
    async list() {
      const r = new ScriptReply("nodeList", await c.run("nodeList", [c.keys.nodes()], [c.nowArg()]));
      const seen = new Map<string, number>();
      for (let i = 1; i + 1 < r.length; i += 2) seen.set(r.str(i), r.int(i + 1));
      return { nowMs: r.int(0), seen };
    },
  };
}
