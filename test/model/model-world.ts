import type { Commit } from "../../src/core/commit.js";
import type { FakeClock } from "../../src/core/fake-clock.js";
import type { IdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import type { Limits, Timings } from "../../src/core/options.js";
import { createPresenceModel, type Effects, type PresenceModel } from "../../src/core/presence-model.js";
import type { PresenceEvent, RoomView } from "../../src/core/presence-event.js";
import type { UserStatusRecord } from "../../src/core/user-status.js";
import type { PresenceStore } from "../../src/store/presence-store.js";
import type { AwayPolicy } from "../../src/core/away-policy.js";
import type { RoomLimits } from "../../src/core/room-lifecycle.js";
import type { Member } from "../../src/core/presence-event.js";
import { createMemoryRoomLifecycle } from "../../src/store/memory/memory-room-lifecycle.js";
import type { RoomLifecycleStore } from "../../src/store/ports/room-lifecycle-store.js";

/** A member's typed presence (sorted keys) and last activity, as comparable text. */
const member = (m: Member) => `pr=${JSON.stringify(Object.entries(m.presence ?? {}).sort())} la=${m.lastActiveMs ?? m.joinedAtMs}`;

/**
 * The world of one model-based run: the pure presence model (the specification) and the store
 * under test, driven by the same fake clock, plus the translation between them. Ids differ (the
 * model's are counters, the store's random), so sessions are named by handles and the model's
 * connection ids and epochs are mapped to the store's as they appear (a bijection per run).
 *
 * Timings: TTL 1 s, heartbeat 0.5 s, rooms and logs retained far longer than a run (their Redis
 * expiry is real time, the model's is the fake clock's), 2 rooms per session, large-room threshold 3
 * (so Join views omit members above it).
 */
export const MODEL_TIMINGS: Timings = {
  ...DEFAULT_TIMINGS,
  heartbeatIntervalMs: 500,
  sessionTtlMs: 1_000,
  nodeRefreshMs: 500,
  roomRetentionMs: 3_600_000,
  logMaxAgeMs: 3_600_000,
};
export const MODEL_LIMITS: Limits = { ...DEFAULT_LIMITS, maxRoomsPerSession: 2, largeRoomThreshold: 3 };

export const ROOMS = ["r0", "r1", "r2"];
export const USERS = ["ana", "bob", "cy"];
export const OWNERS = [...USERS.map((u) => `u:${u}`), ""];
/** The quota key anonymous sessions are made under (JoinInput.quotaKey, like `a:<address>`). */
export const ANON_QUOTA_KEY = "a:10.0.0.1";
/** Every key whose session count is compared (owner keys, and the anonymous quota key). */
export const QUOTA_KEYS = [...OWNERS, ANON_QUOTA_KEY];

/**
 * Server-side away in the model runs (shorter than the TTL, so sweeps find live silent sessions):
 * 700 ms by default, 300 ms in `fast:` scopes; managed rooms give 400 ms or none.
 */
export const MODEL_AWAY: AwayPolicy = { defaultMs: 700, scopeOverrides: [["fast:", 300]] };
/** Managed rooms in the model runs: ended rooms refuse joins for 1.5 s. */
export const MODEL_ROOM_LIMITS: RoomLimits = { maxParticipants: 100, defaultIdleTimeoutMs: 3_600_000, tombstoneMs: 1_500 };

/** Deterministic ids for the model (the store keeps its own random ones). */
export function counterIds(): IdSource {
  let n = 0;
  const next = (p: string) => `${p}${++n}`;
  return { sessionId: () => next("s"), resumeSecret: () => next("k"), connectionId: () => next("c"), epoch: () => next("e"), anonymousId: () => next("a") };
}

/** A session as both sides know it. */
export interface Handle {
  owner: string;
  model: { sessionId: string; resumeSecret: string };
  store: { sessionId: string; resumeSecret: string };
}

export interface StoreNode {
  store: PresenceStore;
  /** The managed-room records the store admits joins against (Redis: shared by the nodes). */
  rooms: RoomLifecycleStore;
  /** Waits until what was published has reached this node (Redis: subscriber round trip). */
  settle(): Promise<void>;
}

export class ModelWorld {
  readonly model: PresenceModel;
  /** The model's managed-room records (the specification's `managedRooms`). */
  readonly modelRooms: ReturnType<typeof createMemoryRoomLifecycle>;
  readonly handles: Handle[] = [];
  private conns = new Map<string, string>(); // store connection id → model connection id
  private epochs = new Map<string, string>(); // store epoch → model epoch
  private epochsBack = new Map<string, string>();
  private saved: { conns: Map<string, string>; epochs: Map<string, string>; epochsBack: Map<string, string>; handles: number } | null = null;
  /** Commits the store's nodes reported during the current step. */
  commits: Commit[] = [];

  /** The model acts as store node `n` from now on (the node id it records on sessions and compares in fences). */
  actAs(n: number): void {
    (this.model.o as { nodeId: string }).nodeId = `n${n}`;
  }

  constructor(
    readonly clock: FakeClock,
    readonly nodes: StoreNode[],
  ) {
    this.modelRooms = createMemoryRoomLifecycle({ clock, limits: MODEL_ROOM_LIMITS });
    this.model = createPresenceModel({ ids: counterIds(), timings: MODEL_TIMINGS, limits: MODEL_LIMITS, nodeId: "model", awayPolicy: MODEL_AWAY, managedRooms: this.modelRooms });
    for (const n of nodes) n.store.onCommit((c) => this.commits.push(c));
  }

  /** Starts a tentative pairing and handles (a concurrent pair tries two orders): `commit` keeps them, `rollback` drops them. */
  begin(): void {
    this.saved = { conns: new Map(this.conns), epochs: new Map(this.epochs), epochsBack: new Map(this.epochsBack), handles: this.handles.length };
  }

  commit(): void {
    this.saved = null;
  }

  rollback(): void {
    if (!this.saved) return;
    ({ conns: this.conns, epochs: this.epochs, epochsBack: this.epochsBack } = this.saved);
    this.handles.length = this.saved.handles;
    this.saved = null;
  }

  /** Records that the store's connection `storeConn` is the model's `modelConn` (checks the bijection). */
  pairConnection(storeConn: string, modelConn: string): void {
    const known = this.conns.get(storeConn);
    if (known !== undefined && known !== modelConn) throw new Error(`store connection ${storeConn} is ${known} in the model, not ${modelConn}`);
    for (const [s, m] of this.conns) {
      if (m === modelConn && s !== storeConn) throw new Error(`model connection ${modelConn} is store connection ${s}, not ${storeConn}: the store made another session`);
    }
    this.conns.set(storeConn, modelConn);
  }

  conn(storeConn: string): string {
    return this.conns.get(storeConn) ?? `unknown:${storeConn}`;
  }

  /** The model's epoch for a store epoch; pairs them the first time (both must be new). */
  epoch(storeEpoch: string, modelEpoch: string): string {
    if (storeEpoch === "" || modelEpoch === "") return storeEpoch === modelEpoch ? "" : `mismatch:${storeEpoch}/${modelEpoch}`;
    const known = this.epochs.get(storeEpoch);
    if (known !== undefined) return known;
    if (this.epochsBack.has(modelEpoch)) return `second store epoch ${storeEpoch} for ${modelEpoch}`;
    this.epochs.set(storeEpoch, modelEpoch);
    this.epochsBack.set(modelEpoch, storeEpoch);
    return modelEpoch;
  }

  /** A view as comparable data (connections in model ids, users and connections sorted). */
  view(v: RoomView, side: "model" | "store", modelEpoch: string): unknown {
    const conn = (c: string) => (side === "model" ? c : this.conn(c));
    return {
      room: v.room,
      epoch: side === "model" ? v.epoch : this.epoch(v.epoch, modelEpoch),
      version: v.version,
      counts: v.counts,
      membersOmitted: v.membersOmitted,
      users: v.users
        .map((u) => ({
          userId: u.user.userId,
          activity: u.activity,
          connections: u.connections
            .map((m) => ({ conn: conn(m.connectionId), metadata: m.metadata, activity: m.activity, joinedAtMs: m.joinedAtMs, lastActiveMs: m.lastActiveMs ?? m.joinedAtMs, presence: m.presence ?? {} }))
            .sort((a, b) => (a.conn < b.conn ? -1 : 1)),
        }))
        .sort((a, b) => (a.userId < b.userId ? -1 : 1)),
    };
  }

  /** An event as comparable text. */
  event(e: PresenceEvent | null, side: "model" | "store"): string {
    if (!e) return "none";
    const conn = (c: string) => (side === "model" ? c : this.conn(c));
    const epoch = side === "model" ? e.epoch : (this.epochs.get(e.epoch) ?? `new:${e.epoch}`);
    const base = `${e.room}/${epoch}@${e.version} ${e.kind} u${e.counts.users}/c${e.counts.connections}/a${e.counts.anonymous}`;
    switch (e.kind) {
      case "joined":
        return `${base} ${conn(e.member.connectionId)} ${e.user.userId} first=${e.firstOfUser} ${JSON.stringify(e.member.metadata)} ${e.member.activity} ${member(e.member)}`;
      case "updated":
        return `${base} ${conn(e.member.connectionId)} ${JSON.stringify(e.member.metadata)} ${e.member.activity} ${member(e.member)}`;
      case "left":
        return `${base} ${conn(e.connectionId)} ${e.userId} ${e.reason} last=${e.lastOfUser}`;
      default:
        return `${base} viewers${e.viewersDelta} connections${e.connectionsDelta}`;
    }
  }

  /** Commits as comparable text: room events per room in order, statuses per user in order (no order across). */
  commitsOf(side: "model", fx: Effects): string[];
  commitsOf(side: "store", commits: Commit[]): string[];
  commitsOf(side: "model" | "store", src: Effects | Commit[]): string[] {
    const events: PresenceEvent[] = [];
    const statuses: UserStatusRecord[] = [];
    if (side === "model") {
      const fx = src as Effects;
      for (const r of fx.room) if (r.message.type === "event") events.push(r.message.event);
      for (const u of fx.users) statuses.push(u.status);
    } else {
      for (const c of src as Commit[]) {
        if (c.type === "room_event") events.push(c.event);
        if (c.type === "user_status") statuses.push(c.status);
      }
    }
    const byRoom = ROOMS.flatMap((room) => events.filter((e) => e.room === room).map((e) => this.event(e, side)));
    const byUser = USERS.flatMap((u) => statuses.filter((s) => s.userId === u).map((s) => `status ${s.userId} ${s.state} seen=${s.lastSeenMs} "${s.customStatus}" inv=${s.invisible} vseen=${s.visibleLastSeenMs}`));
    return [...byRoom, ...byUser];
  }
}
