/**
 * Connections per remote address, counted across both ports (RPC and WebSocket) of the process
 * (PRESENCE_MAX_CONNECTIONS_PER_ADDRESS, default 1,024): one address cannot hold every socket of a
 * node. Each port's total is capped by the port itself (the RPC server's `maxConnections`, the
 * WebSocket bridge's count at the upgrade).
 *
 * Connections from a trusted proxy (PRESENCE_TRUSTED_PROXIES) are not counted per address: they
 * carry many clients, whose addresses are known only once a request names them (X-Forwarded-For);
 * the per-caller quotas count those. Memory: one map entry per address with open connections.
 */
import proxyaddr from "proxy-addr";

export interface ConnectionLimiter {
  /** Counts a new connection of `address`; null when it is over the per-address limit (nothing counted). */
  admit(address: string): (() => void) | null;
  /** Open connections of `address` (tests, debugging). */
  count(address: string): number;
  /** Addresses with open connections. */
  addresses(): number;
}

export function createConnectionLimiter(o: { maxPerAddress: number; trustedProxies?: readonly string[] }): ConnectionLimiter {
  const open = new Map<string, number>();
  const trusted = o.trustedProxies && o.trustedProxies.length > 0 ? proxyaddr.compile([...o.trustedProxies]) : undefined;
  const uncounted = () => {};
  return {
    admit(address) {
      const key = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
      if (trusted?.(key, 0)) return uncounted;
      const n = open.get(key) ?? 0;
      if (n >= o.maxPerAddress) return null;
      open.set(key, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (open.get(key) ?? 1) - 1;
        if (left > 0) open.set(key, left);
        else open.delete(key);
      };
    },
    count: (address) => open.get(address) ?? 0,
    addresses: () => open.size,
  };
}
