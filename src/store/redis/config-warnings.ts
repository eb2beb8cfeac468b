import type { Cluster, Redis } from "ioredis";

/**
 * Warnings about the Redis configuration: an evicting `maxmemory-policy` can silently drop room
 * or session keys (presence then heals through epoch changes and re-assertion, but members may
 * flicker). Returns human-readable lines; empty when all is well or CONFIG is not allowed.
 */
export async function redisConfigWarnings(client: Redis | Cluster, cluster: boolean): Promise<string[]> {
  try {
    const nodes = cluster ? (client as Cluster).nodes("master") : [client as Redis];
    const out: string[] = [];
    for (const node of nodes) {
      const [, policy] = (await node.config("GET", "maxmemory-policy")) as [string, string];
      if (policy && policy !== "noeviction") out.push(`redis maxmemory-policy is ${policy}; presence expects noeviction`);
    }
    return out;
  } catch {
    return [];
  }
}
