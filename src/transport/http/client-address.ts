/**
 * The client's address for quotas and connection limits: the socket's peer, or, when the peer is a
 * trusted proxy (PRESENCE_TRUSTED_PROXIES: addresses, CIDR ranges, or `loopback`, `linklocal`,
 * `uniquelocal`), the first address of `X-Forwarded-For` counted from the right that is not a
 * trusted proxy itself (proxy-addr, the same rules as Express's `trust proxy`). IPv4-mapped IPv6
 * addresses (`::ffff:10.0.0.1`) are written as IPv4, so one client has one key.
 *
 * Without trusted proxies every client behind one proxy shares the proxy's address: its
 * anonymous quotas and PRESENCE_MAX_CONNECTIONS_PER_ADDRESS (docs/security.md).
 */
import proxyaddr from "proxy-addr";

export type ClientAddressOf = (peer: string | undefined, forwardedFor: string | undefined) => string;

/** Builds the resolver; throws on an invalid proxy list (an address or range proxy-addr cannot parse). */
export function createClientAddress(trustedProxies: readonly string[]): ClientAddressOf {
  if (trustedProxies.length === 0) return (peer) => normalize(peer ?? "");
  const trust = proxyaddr.compile([...trustedProxies]);
  return (peer, forwardedFor) => {
    if (peer === undefined) return "";
    if (forwardedFor === undefined || forwardedFor === "") return normalize(peer);
    const req = { headers: { "x-forwarded-for": forwardedFor }, socket: { remoteAddress: peer }, connection: { remoteAddress: peer } };
    return normalize(proxyaddr(req as unknown as Parameters<typeof proxyaddr>[0], trust));
  };
}

function normalize(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
