/**
 * Every Redis key and channel name, in one place (house style §3.2.6). All keys of one room share
 * the hash tag `{r:<room>}`, all keys of one session bucket share `{s:<bucket>}`, all keys of one
 * user share `{u:<userId>}`: every script call touches exactly one slot, so the same code runs on
 * standalone Redis and on Redis Cluster. Sessions are spread over 64 buckets by the first character
 * of their (random) id, so no single key is a hot global index.
 */
export interface RoomKeys {
  meta: string;
  members: string;
  counters: string;
  log: string;
  typing: string;
  cursors: string;
  /** hash connectionId → number of the session call that left (fencing, see lua/lib/sessions.lua). */
  gone: string;
  /** zset connectionId → when that tombstone may be forgotten. */
  goneExpiry: string;
  channel: string;
  /** The managed room's record (rooms.proto; absent for implicit rooms). */
  cfg: string;
}

export interface BucketKeys {
  /** zset session id → expiry ms (live sessions). */
  expiry: string;
  /** hash session id → session JSON. */
  sessions: string;
  /** zset session id → claim deadline ms (sessions being reaped or kicked). */
  reaping: string;
  /** hash quota key (JoinInput.quotaKey, default the owner key) → live sessions counted against it in this bucket (the quota itself is `quota(key)`). */
  owners: string;
  /** zset session id → away deadline ms (last activity + threshold) of active sessions with a threshold (the away sweep; lua/lib/sessions.lua). */
  away: string;
  /** hash `<requestId>:<owner key>` → the session a first Join with that request id created. */
  requests: string;
  /** zset `<requestId>:<owner key>` → when that de-duplication ends (ms, script time). */
  requestsExpiry: string;
  /** hash session id → number of its last membership call (fencing of interleaved calls). */
  seqs: string;
}

export const SESSION_BUCKETS = 64;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export function createKeys(prefix: string) {
  return {
    room(room: string): RoomKeys {
      const t = `${prefix}:{r:${room}}`;
      return {
        meta: `${t}:meta`,
        members: `${t}:m`,
        counters: `${t}:n`,
        log: `${t}:log`,
        typing: `${t}:t`,
        cursors: `${t}:cur`,
        gone: `${t}:gone`,
        goneExpiry: `${t}:gonex`,
        channel: `${t}:ch`,
        cfg: `${t}:cfg`,
      };
    },
    /** The bucket (0..63) of a session id. */
    bucketOf(sessionId: string): number {
      const i = B64.indexOf(sessionId.charAt(0));
      return i < 0 ? (sessionId.charCodeAt(0) || 0) % SESSION_BUCKETS : i;
    },
    bucket(bucket: number): BucketKeys {
      const t = `${prefix}:{s:${bucket}}`;
      return { expiry: `${t}:exp`, sessions: `${t}:ses`, reaping: `${t}:reap`, owners: `${t}:own`, requests: `${t}:req`, requestsExpiry: `${t}:reqx`, seqs: `${t}:seq`, away: `${t}:away` };
    },
    /** The rooms (room → metadata JSON) of one session; same slot as its bucket. */
    sessionRooms(sessionId: string): string {
      return `${prefix}:{s:${this.bucketOf(sessionId)}}:r:${sessionId}`;
    },
    /**
     * The sessions counted against one quota key (JoinInput.quotaKey): a sorted set, member = session
     * id (lua/lib/quota.lua). Its own slot: on Cluster the session scripts cannot reach it.
     */
    quota(quotaKey: string): string {
      return `${prefix}:{q:${quotaKey}}:ses`;
    },
    user(userId: string): { status: string; channel: string } {
      const t = `${prefix}:{u:${userId}}`;
      return { status: `${t}:st`, channel: `${t}:ch` };
    },
    /**
     * Where a first Join with a request id is de-duplicated: the field in its bucket's `requests`
     * hash (scoped by the caller's owner key; request ids are [A-Za-z0-9_-], so ':' separates), and
     * that bucket, chosen from the field so that every node's retry lands in the same slot, where
     * one script checks the field and creates the session (F-C4).
     */
    request(ownerKey: string, requestId: string): { field: string; bucket: number } {
      const field = `${requestId}:${ownerKey}`;
      return { field, bucket: fnv1a(field) % SESSION_BUCKETS };
    },
    /** `sessionId` moved into `bucket` (its first character names the bucket; the rest stays random). */
    inBucket(sessionId: string, bucket: number): string {
      return B64[bucket]! + sessionId.slice(1);
    },
    /**
     * The node registry: node id → last announcement (ms). One key for the whole deployment: it is
     * written once per node per refresh interval and read only by operator calls (ListNodes,
     * PurgeNode), so it is never hot.
     */
    nodes(): string {
      return `${prefix}:nodes`;
    },
    /** SCAN pattern of every room's meta key (operator calls only); glob characters of the prefix escaped. */
    roomMetaPattern(): string {
      return `${prefix.replace(/[*?[\]\\]/g, "\\$&")}:{r:*}:meta`;
    },
    /** The room of a key matched by `roomMetaPattern`. */
    roomOfMetaKey(key: string): string {
      return key.slice(prefix.length + 4, -"}:meta".length);
    },
    /**
     * A random value set once per bucket's slot: when it changes (or is gone), the Redis master
     * holding that slot lost its data. 64 of them, spread over the slots like the buckets, so on
     * Cluster every master holds some and losing any one master's data is detected.
     */
    incarnation(bucket: number): string {
      return `${prefix}:{s:${bucket}}:inc`;
    },
    /** The channel a node's readiness probe publishes to and listens on (its own: end-to-end pub/sub check). */
    probeChannel(nodeId: string): string {
      return `${prefix}:probe:${nodeId}`;
    },
    /** Held by the node that sweeps orphaned room members after a data loss (one sweep per loss). */
    sweepLock(): string {
      return `${prefix}:sweep`;
    },
  };
}

export type Keys = ReturnType<typeof createKeys>;

/** FNV-1a (32 bits) of a string's UTF-16 code units: stable across nodes and versions. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
