import fc from "fast-check";
import type { Effects } from "../../src/core/presence-model.js";
import { modelEndRoom, modelRoomAwayChanged, modelSignalActivity, modelSweepAway, modelUpdatePresence } from "../../src/core/presence-seeds.js";
import type { ManagedRoom } from "../../src/core/room-lifecycle.js";
import type { PresenceStore } from "../../src/store/presence-store.js";
import type { Resolved } from "./model-commands.js";
import { ROOMS, type Handle, type ModelWorld } from "./model-world.js";

/**
 * The model-run operations of issue 12's transitions (issue 10 item 6 extended): the away sweep
 * (with the clock's advances it makes silent sessions away, by the default, a scope's or a managed
 * room's threshold), activity signals, typed presence updates, managed rooms (create with a
 * participant limit and an away threshold, update the threshold, end: every member leaves with
 * ENDED and joins are refused during the tombstone). The manual presence is a field of `setStatus`
 * and scopes and typed presence are fields of `join` (model-commands.ts).
 *
 * Room records live beside the presence model (the model's `managedRooms`, each store's
 * RoomLifecycleStore), so ops on them run alone, never in a concurrent pair (model-runner.ts).
 */
export type SeedsOp =
  | { op: "sweep"; node: number }
  | { op: "signal"; node: number; handle: number; asOther: boolean }
  | { op: "presence"; node: number; handle: number; room: number; value: number; replace: boolean }
  | { op: "createRoom"; node: number; room: number; max: number; away: number }
  | { op: "updateRoom"; node: number; room: number; away: number }
  | { op: "endRoom"; node: number; room: number };

/** Typed presence values (top-level key → JSON text). */
export const PRESENCE: Record<string, string>[] = [{}, { tool: '"pen"' }, { sel: "[1,2]", tool: '"eraser"' }];
/** A managed room's participant limit: none, one, two. */
const MAX = [0, 1, 2];
/** A managed room's away_after_ms: none, or shorter than the default (700 ms). */
const AWAY = [0, 400];

/** Ops that change room records: never part of a concurrent pair. */
export const RECORD_OPS: ReadonlySet<string> = new Set(["createRoom", "updateRoom", "endRoom"]);
/** Ops whose leaves come in an unspecified order (reaping, the end of a room). */
export const UNORDERED_LEAVES: ReadonlySet<string> = new Set(["reap", "endRoom"]);

export function seedsOpArbitraries(node: fc.Arbitrary<number>, handle: fc.Arbitrary<number>, room: fc.Arbitrary<number>) {
  return [
    { weight: 3, arbitrary: fc.record({ op: fc.constant("sweep" as const), node }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("signal" as const), node, handle, asOther: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("presence" as const), node, handle, room, value: fc.nat({ max: PRESENCE.length - 1 }), replace: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("createRoom" as const), node, room, max: fc.nat({ max: MAX.length - 1 }), away: fc.nat({ max: AWAY.length - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("updateRoom" as const), node, room, away: fc.nat({ max: AWAY.length - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("endRoom" as const), node, room }) },
  ];
}

type Ref = { sessionId: string; ownerKey: string };
interface Helpers {
  node(n: number): PresenceStore;
  refOf(h: Handle | null, asOther?: boolean): { model: Ref; store: Ref };
  now(): number;
}

const pick = (w: ModelWorld, i: number): Handle | null => (w.handles.length === 0 ? null : w.handles[i % w.handles.length]!);
const same = (_side: "model" | "store", r: unknown) => r;
/** What a room record says, without its times (both sides stamp them with the same clock, but the model's is another store). */
const recordOf = (_side: "model" | "store", r: unknown) => {
  const m = r as ManagedRoom | null;
  return m && { status: m.status, maxParticipants: m.maxParticipants, awayAfterMs: m.awayAfterMs, endedBy: m.endedBy, endReason: m.endReason };
};

export function resolveSeeds(w: ModelWorld, op: SeedsOp, fx: Effects, h: Helpers): Resolved {
  const m = w.model;
  const records = (n: number) => w.nodes[n % w.nodes.length]!.rooms;
  switch (op.op) {
    case "sweep":
      return { model: () => modelSweepAway(m, h.now(), fx), store: () => h.node(op.node).sweepAway(), compare: same, sessions: [] };
    case "signal": {
      const ref = h.refOf(pick(w, op.handle), op.asOther);
      return { model: () => modelSignalActivity(m, ref.model, h.now(), fx), store: () => h.node(op.node).signalActivity(ref.store), compare: () => "done", sessions: [ref.store.sessionId] };
    }
    case "presence": {
      const ref = h.refOf(pick(w, op.handle));
      const args = { room: ROOMS[op.room]!, presence: PRESENCE[op.value]!, replace: op.replace };
      return {
        model: () => modelUpdatePresence(m, { ...ref.model, ...args }, h.now(), fx),
        store: () => h.node(op.node).updatePresence({ ...ref.store, ...args }),
        compare: () => "done",
        sessions: [ref.store.sessionId],
      };
    }
    case "createRoom": {
      const input = { room: ROOMS[op.room]!, ownerUserId: "ana", metadata: {}, settings: { maxParticipants: MAX[op.max]!, idleTimeoutMs: 0, awayAfterMs: AWAY[op.away]! } };
      return { model: () => w.modelRooms.createRoom(input), store: () => records(op.node).createRoom(input), compare: recordOf, sessions: [] };
    }
    case "updateRoom": {
      // As RoomService.updateRoom: the record, then the sessions in the room take the new threshold.
      const room = ROOMS[op.room]!;
      const ms = AWAY[op.away]!;
      return {
        model: async () => {
          const r = await w.modelRooms.updateRoom(room, { awayAfterMs: ms });
          modelRoomAwayChanged(m, room, ms);
          return r;
        },
        store: async () => {
          const r = await records(op.node).updateRoom(room, { awayAfterMs: ms });
          await h.node(op.node).roomAwayChanged(room, ms);
          return r;
        },
        compare: recordOf,
        sessions: [],
      };
    }
    case "endRoom": {
      // As RoomService.endRoom by an operator: the record (managed rooms), then every member leaves.
      const room = ROOMS[op.room]!;
      const info = (r: ManagedRoom | null) => ({ endedAtMs: r?.endedAtMs ?? h.now(), endedBy: "ana", reason: "done", tombstoneUntilMs: r?.tombstoneUntilMs ?? 0 });
      return {
        model: async () => modelEndRoom(m, room, info(await w.modelRooms.markEnded(room, "ana", "done")), h.now(), fx),
        store: async () => h.node(op.node).endRoom(room, info(await records(op.node).markEnded(room, "ana", "done"))),
        compare: same,
        sessions: [],
      };
    }
  }
}
