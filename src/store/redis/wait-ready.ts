import type { Cluster, Redis } from "ioredis";

/** Resolves when `client` is ready, or after `timeoutMs` (callers then see failing calls). */
export function waitReady(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      client.off("ready", done);
      resolve();
    };
    const t = setTimeout(done, timeoutMs);
    client.on("ready", done);
  });
}
