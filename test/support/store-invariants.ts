import type { Redis } from "ioredis";

/**
 * Consistency of the Redis store's data at rest (standalone Redis, prefix `pr`), for fault tests
 * that must show "no corruption" after a fault: each room's counts match its members; every member
 * belongs to a session that exists and lists the room, with the same connection; every session
 * listing a room is a member there; every session record is live or being reaped. Call it when
 * the system is quiet (no call in flight): a join lists the room before it joins it.
 * Returns the problems found (empty when consistent).
 */
export async function storeProblems(client: Redis, prefix = "pr"): Promise<string[]> {
  const problems: string[] = [];
  const scan = async (pattern: string) => {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", pattern, "COUNT", "1000");
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    return keys;
  };
  const bucketOf = (sid: string) => {
    const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const i = B64.indexOf(sid.charAt(0));
    return i < 0 ? (sid.charCodeAt(0) || 0) % 64 : i;
  };
  const sessionsOf = async (b: number) => client.hgetall(`${prefix}:{s:${b}}:ses`);

  for (const metaKey of await scan(`${prefix}:{r:*}:meta`)) {
    const room = metaKey.slice(prefix.length + 4, -"}:meta".length);
    const [nu, nc, na] = (await client.hmget(metaKey, "nu", "nc", "na")).map((v) => Number(v ?? 0));
    const members = Object.values(await client.hgetall(`${prefix}:{r:${room}}:m`)).map((j) => JSON.parse(j) as { c: string; s: string; k: string; u?: { userId: string }; a?: string });
    const users = new Set(members.filter((m) => m.k === "u").map((m) => m.u?.userId));
    const anon = new Set(members.filter((m) => m.k !== "u").map((m) => m.a));
    if (nc !== members.length || nu !== users.size || na !== anon.size) {
      problems.push(`${room}: counts nu=${nu} nc=${nc} na=${na}, members give nu=${users.size} nc=${members.length} na=${anon.size}`);
    }
    for (const m of members) {
      const b = bucketOf(m.s);
      const json = await client.hget(`${prefix}:{s:${b}}:ses`, m.s);
      if (!json) {
        problems.push(`${room}: member ${m.c} of a session ${m.s} that does not exist`);
        continue;
      }
      if ((JSON.parse(json) as { c: string }).c !== m.c) problems.push(`${room}: member ${m.c} but session ${m.s} has another connection`);
      if ((await client.hexists(`${prefix}:{s:${b}}:r:${m.s}`, room)) !== 1) problems.push(`${room}: member ${m.c} whose session ${m.s} does not list the room`);
    }
  }
  for (let b = 0; b < 64; b++) {
    const sessions = await sessionsOf(b);
    for (const [sid, json] of Object.entries(sessions)) {
      const live = (await client.zscore(`${prefix}:{s:${b}}:exp`, sid)) !== null || (await client.zscore(`${prefix}:{s:${b}}:reap`, sid)) !== null;
      if (!live) problems.push(`session ${sid}: neither live nor being reaped`);
      const cid = (JSON.parse(json) as { c: string }).c;
      for (const room of Object.keys(await client.hgetall(`${prefix}:{s:${b}}:r:${sid}`))) {
        const m = await client.hget(`${prefix}:{r:${room}}:m`, cid);
        if (!m || (JSON.parse(m) as { s: string }).s !== sid) problems.push(`session ${sid} lists ${room} where ${cid} is not its member`);
      }
    }
  }
  return problems;
}
