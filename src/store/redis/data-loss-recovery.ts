import type { Cluster, Redis } from "ioredis";
import type { Clock } from "../../core/clock.js";
import type { MemberIdentity } from "../../core/identity.js";
import type { Activity } from "../../core/presence-event.js";
import type { StoredSession } from "./codec.js";
import type { KnownSessions } from "./known-sessions.js";
import { waitReady } from "./wait-ready.js";

/**
 * Recovery after Redis lost its data (invariant I2): every node writes a random "incarnation"
 * value once per dataset (`SET NX GET`); when a later check finds another value (or none), Redis
 * was restarted empty or flushed, and this node re-creates the live sessions it knows (same ids,
 * secrets and connection ids) and rejoins their rooms, so that clients see their own presence
 * come back without doing anything. Checks run when a known session is "not found" and after a
 * subscriber reconnect; concurrent checks share one run, so no caller misses a re-assertion.
 */
export interface DataLossRecovery {
  /** Checks (or sets) the dataset's incarnation marker. Call once at start-up. */
  init(): Promise<void>;
  /** True when `sid` is known here and Redis lost its data (its sessions were then re-asserted). */
  reassertIfDataLost(sid: string): Promise<boolean>;
  /** Re-asserts this node's sessions if Redis lost its data; true when it did (or a concurrent call did). */
  recoverIfDataLost(): Promise<boolean>;
  /**
   * The work after a subscriber reconnect, before watchers get their snapshot: wait for the
   * command connection (it may come back later than the subscriber), re-assert this node's
   * sessions if Redis lost its data, and give every watched room its state (epoch) again, so the
   * snapshot is taken in the room's new epoch and later re-assertions by other nodes arrive as
   * events in it, not as a second epoch change. Never rejects: reads report failures.
   */
  afterReconnect(watchedRooms: () => Iterable<string>): Promise<void>;
}

export interface DataLossRecoveryDeps {
  client: Redis | Cluster;
  clock: Clock;
  known: KnownSessions;
  incarnationKey: string;
  newIncarnation: () => string;
  sessionTtlMs: number;
  nodeId: string;
  cmd: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  sessionOpen: (mode: "new" | "use", sid: string, owner: string, arg: string, room: string, mdJson: string) => Promise<unknown>;
  roomJoin: (room: string, sid: string, session: StoredSession, metadata: Record<string, string>) => Promise<unknown>;
  userSession: (identity: MemberIdentity, op: "set", sid: string, activity: Activity) => Promise<void>;
  touch: (room: string) => Promise<unknown>;
  reassertFailed: () => void;
  reasserted: (n: number) => void;
}

/** How long the work after a subscriber reconnect waits for the command connection to be ready. */
const RECONNECT_WAIT_MS = 5_000;

export function createDataLossRecovery(d: DataLossRecoveryDeps): DataLossRecovery {
  let incarnation: string | null = null;
  let recovery: Promise<boolean> | null = null;

  const current = async (): Promise<string> => {
    const mine = d.newIncarnation();
    const prev = (await d.cmd("set", () => d.client.call("SET", d.incarnationKey, mine, "NX", "GET"))) as string | null;
    return prev ?? mine;
  };
  const dataLost = async (): Promise<boolean> => {
    if (incarnation === null) return false;
    const now = await current();
    if (now === incarnation) return false;
    incarnation = now;
    return true;
  };
  const reassertAll = async (): Promise<void> => {
    let n = 0;
    for (const k of d.known.reassertable(d.clock.now() - d.sessionTtlMs)) {
      const rooms = [...k.rooms];
      if (rooms.length === 0) continue;
      try {
        for (const [room, md] of rooms) {
          const mode = room === rooms[0]![0] ? "new" : "use";
          await d.sessionOpen(mode, k.sid, k.owner, mode === "new" ? JSON.stringify({ ...k.session, n: d.nodeId }) : "", room, JSON.stringify(md));
          await d.roomJoin(room, k.sid, k.session, md);
        }
        await d.userSession(k.session.id, "set", k.sid, k.session.act);
        n++;
      } catch {
        d.reassertFailed();
      }
    }
    d.reasserted(n);
  };
  const recoverIfDataLost = (): Promise<boolean> => {
    recovery ??= (async () => {
      try {
        if (!(await dataLost())) return false;
        await reassertAll();
        return true;
      } finally {
        recovery = null;
      }
    })();
    return recovery;
  };

  return {
    async init() {
      incarnation = await current();
    },
    async reassertIfDataLost(sid) {
      return d.known.has(sid) && recoverIfDataLost();
    },
    recoverIfDataLost,
    async afterReconnect(watchedRooms) {
      try {
        await waitReady(d.client, RECONNECT_WAIT_MS);
        await recoverIfDataLost();
        await Promise.all([...watchedRooms()].map((room) => d.touch(room)));
      } catch {
        // Redis went away again: the snapshot reads fail and end the streams with `unavailable`.
      }
    },
  };
}
