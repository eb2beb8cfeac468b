import { readFileSync } from "node:fs";
import { setting, type OptionReader, type SettingSpec } from "./option-spec.js";

/**
 * Redis Sentinel (reliability.md F-R4): the Redis store on the master a set of Sentinels names,
 * following failovers. The data nodes' credentials and TLS are the ordinary Redis ones
 * (PRESENCE_REDIS_USERNAME, PRESENCE_REDIS_PASSWORD, PRESENCE_REDIS_TLS…); the Sentinels' own
 * credentials are separate (Sentinel's `requirepass` / ACL is its own).
 */
export const SENTINEL_SPEC = {
  sentinels: setting(
    "PRESENCE_REDIS_SENTINELS",
    null,
    "`host:port,host:port,…` of Redis Sentinels: use the Redis store on the master they name (`PRESENCE_REDIS_SENTINEL_MASTER`), reconnecting to the new master after a failover; not together with `PRESENCE_REDIS_URL` or `PRESENCE_REDIS_CLUSTER`",
  ),
  master: setting("PRESENCE_REDIS_SENTINEL_MASTER", null, "name of the master group the Sentinels monitor (`sentinel monitor <name> …`); required with `PRESENCE_REDIS_SENTINELS`"),
  username: setting("PRESENCE_REDIS_SENTINEL_USERNAME", null, "ACL user for the Sentinels themselves (Redis 6.2+ Sentinel); needs a password"),
  password: setting("PRESENCE_REDIS_SENTINEL_PASSWORD", null, "password for the Sentinels (their `requirepass`); the data nodes take `PRESENCE_REDIS_PASSWORD`"),
  passwordFile: setting("PRESENCE_REDIS_SENTINEL_PASSWORD_FILE", null, "a file holding the Sentinels' password (not together with `PRESENCE_REDIS_SENTINEL_PASSWORD`)"),
} as const satisfies Record<string, SettingSpec>;

export interface RedisSentinel {
  sentinels: { host: string; port: number }[];
  /** The master group's name. */
  master: string;
  username?: string;
  password?: string;
}

/**
 * Reads the Sentinel options; undefined when PRESENCE_REDIS_SENTINELS is not set. `others` names
 * the other Redis topologies that are set (each a problem: one topology at a time).
 */
export function loadRedisSentinel(read: OptionReader, others: string[]): RedisSentinel | undefined {
  const S = SENTINEL_SPEC;
  const { problems } = read;
  const addresses = read.list(S.sentinels);
  const master = read.str(S.master);
  if (addresses.length === 0) {
    for (const s of [S.master, S.username, S.password, S.passwordFile]) {
      if (read.str(s) !== undefined) problems.push(`${s.env}: only with ${S.sentinels.env}`);
    }
    return undefined;
  }
  for (const other of others) problems.push(`${S.sentinels.env} and ${other}: set one Redis topology, not both`);
  const sentinels: RedisSentinel["sentinels"] = [];
  for (const a of addresses) {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(a);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65_535) problems.push(`${S.sentinels.env}: ${JSON.stringify(a)} must be host:port (port 1–65535)`);
    else sentinels.push({ host: m[1]!, port: Number(m[2]) });
  }
  if (master === undefined) problems.push(`${S.master.env}: required with ${S.sentinels.env} (the name of the master group)`);
  const out: RedisSentinel = { sentinels, master: master ?? "" };
  const username = read.str(S.username);
  const passwordFile = read.str(S.passwordFile);
  let password = read.str(S.password);
  if (password !== undefined && passwordFile !== undefined) problems.push(`${S.password.env} and ${S.passwordFile.env}: set one, not both`);
  if (password === undefined && passwordFile !== undefined) {
    try {
      password = readFileSync(passwordFile, "utf8").trim();
    } catch (err) {
      problems.push(`${S.passwordFile.env}=${JSON.stringify(passwordFile)}: cannot read it (${(err as Error).message})`);
    }
  }
  if (username !== undefined && password === undefined) problems.push(`${S.username.env}: needs ${S.password.env} or ${S.passwordFile.env}`);
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  return out;
}
