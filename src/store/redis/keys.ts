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
  channel: string;
}

export interface BucketKeys {
  /** zset session id → expiry ms (live sessions). */
  expiry: string;
  /** hash session id → session JSON. */
  sessions: string;
  /** zset session id → claim deadline ms (sessions being reaped or kicked). */
  reaping: string;
  /** hash owner key → live sessions of that owner in this bucket (countSessions sums the buckets). */
  owners: string;
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
        channel: `${t}:ch`,
      };
    },
    /** The bucket (0..63) of a session id. */
    bucketOf(sessionId: string): number {
      const i = B64.indexOf(sessionId.charAt(0));
      return i < 0 ? (sessionId.charCodeAt(0) || 0) % SESSION_BUCKETS : i;
    },
    bucket(bucket: number): BucketKeys {
      const t = `${prefix}:{s:${bucket}}`;
      return { expiry: `${t}:exp`, sessions: `${t}:ses`, reaping: `${t}:reap`, owners: `${t}:own` };
    },
    /** The rooms (room → metadata JSON) of one session; same slot as its bucket. */
    sessionRooms(sessionId: string): string {
      return `${prefix}:{s:${this.bucketOf(sessionId)}}:r:${sessionId}`;
    },
    user(userId: string): { status: string; channel: string } {
      const t = `${prefix}:{u:${userId}}`;
      return { status: `${t}:st`, channel: `${t}:ch` };
    },
    /** Deduplicates a retried first Join: scoped by the caller's owner key. */
    request(ownerKey: string, requestId: string): string {
      return `${prefix}:{q:${ownerKey}}:${requestId}`;
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
    /** A random value set once per Redis dataset: when it changes, Redis lost its data. */
    incarnation(): string {
      return `${prefix}:incarnation`;
    },
  };
}

export type Keys = ReturnType<typeof createKeys>;
