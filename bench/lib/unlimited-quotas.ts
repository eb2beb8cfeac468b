import { CONNECTION_SPEC, QUOTA_SPEC } from "../../src/config.js";

/**
 * Benchmarks drive a server from a handful of processes on one address with one or a few tokens:
 * far past the per-caller quotas a production server applies (issue 11, docs/security.md). They
 * measure the server's speed, not its abuse limits, so every quota is set to its maximum (like
 * bench:ws lifts the per-socket frame limit), and so is the number of connections one remote
 * address may hold (a generator process holds up to 5,000 sockets from one source address).
 */
export const UNLIMITED_QUOTAS_ENV: Record<string, string> = {
  ...Object.fromEntries(Object.values(QUOTA_SPEC).flatMap((cls) => Object.values(cls).map((s) => [s.env, String(s.max)]))),
  [CONNECTION_SPEC.maxConnectionsPerAddress.env]: String(CONNECTION_SPEC.maxConnectionsPerAddress.max),
};
