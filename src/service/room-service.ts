import type { Clock } from "../core/clock.js";
import type { Caller } from "../core/identity.js";
import { checkMetadata } from "../core/metadata.js";
import type { Limits } from "../core/options.js";
import { invalidArgument, PresenceError } from "../core/presence-error.js";
import type { Counts, RoomEndedInfo } from "../core/presence-event.js";
import { canManageRoom, checkEndReason, checkRoomSettings, manageDenied, roomNotFound, type ManagedRoom, type RoomLimits, type RoomSettings } from "../core/room-lifecycle.js";
import { checkText, parseRoomName, utf8Length } from "../core/room-name.js";
import type { RoomLifecycleStore } from "../store/ports/room-lifecycle-store.js";

/**
 * Managed rooms (rooms.proto): CreateRoom, UpdateRoom, GetRoom, EndRoom. Validates input, decides
 * who may manage (owner, service and admin roles: `core/room-lifecycle.ts` canManageRoom; the
 * access model's rights check is one call away in `authorize`), keeps the record in the
 * RoomLifecycleStore and, for EndRoom, has the session store make every member leave with reason
 * ENDED and publish the room's `ended` message (`evict`). No I/O of its own.
 */
export interface RoomInfoView {
  room: string;
  managed: boolean;
  record: ManagedRoom | null;
  counts: Counts;
}

export interface RoomService {
  createRoom(caller: Caller, req: { room: string; metadata: Record<string, string>; maxParticipants: number; idleTimeoutMs: number; awayAfterMs: number; ownerUserId: string }): Promise<RoomInfoView>;
  updateRoom(caller: Caller, req: { room: string; patch: RoomSettings & { metadata?: Record<string, string>; ownerUserId?: string } }): Promise<RoomInfoView>;
  getRoom(caller: Caller, req: { room: string }): Promise<RoomInfoView>;
  endRoom(caller: Caller, req: { room: string; reason: string }): Promise<{ info: RoomInfoView; connectionsRemoved: number }>;
  /** The idle reaper's end of a managed room (ended_by empty, reason "idle"); no-op when it is no longer idle. */
  endIdle(room: string): Promise<void>;
}

export interface RoomServiceOptions {
  lifecycle: RoomLifecycleStore;
  clock: Clock;
  /** The room's counts now (RoomStore.getView without members). */
  counts(room: string): Promise<Counts>;
  /**
   * Makes every connection of the room leave with reason ENDED, then publishes `ended` (at the
   * room's position after the leaves). Returns the connections removed. Idempotent.
   */
  evict(room: string, ended: Omit<RoomEndedInfo, "room" | "epoch" | "version">): Promise<number>;
  /** The room's `away_after_ms` changed: the sessions in it take the new value into their away thresholds. */
  awayChanged?(room: string, awayAfterMs: number): Promise<unknown>;
  limits: Pick<Limits, "maxRoomNameBytes" | "maxMetadataBytes" | "maxMetadataEntries" | "maxUserIdBytes"> & RoomLimits;
  authorize?: (caller: Caller, op: "join" | "read" | "kick", room: string) => Promise<void>;
}

export function createRoomService(o: RoomServiceOptions): RoomService {
  const authorize = o.authorize ?? (async () => {});
  const room = (v: string) => parseRoomName(v, o.limits.maxRoomNameBytes);
  const metadata = (m: Record<string, string>) => checkMetadata(m, o.limits.maxMetadataBytes, o.limits.maxMetadataEntries);
  const userId = (v: string, field: string) => {
    if (v === "") throw invalidArgument(field, "must not be empty");
    const n = utf8Length(v);
    if (n > o.limits.maxUserIdBytes) throw invalidArgument(field, `must be at most ${o.limits.maxUserIdBytes} bytes (got ${n})`);
    checkText(v, field);
    return v;
  };
  const operator = (c: Caller) => c.role === "service" || c.role === "admin";
  const view = async (name: string, record: ManagedRoom | null): Promise<RoomInfoView> => ({ room: name, managed: record !== null, record, counts: await o.counts(name) });

  /**
   * May the caller change or end a room it does not own? With the access model: the `kick` right on
   * the room (per-room operators, capabilities); without it: services and admins only.
   */
  async function mayManageOthers(caller: Caller, name: string): Promise<void> {
    if (o.authorize) return o.authorize(caller, "kick", name);
    if (!operator(caller)) throw manageDenied(name);
  }

  /** The managed record the caller may change: ROOM_NOT_FOUND when not managed, PERMISSION_DENIED when not theirs. */
  async function manageable(caller: Caller, name: string): Promise<ManagedRoom> {
    const r = await o.lifecycle.getRoom(name);
    if (!r) throw roomNotFound(name);
    if (!canManageRoom(caller, r)) await mayManageOthers(caller, name);
    return r;
  }

  return {
    async createRoom(caller, req) {
      const name = room(req.room);
      const md = metadata(req.metadata);
      const settings = checkRoomSettings({ maxParticipants: req.maxParticipants, idleTimeoutMs: req.idleTimeoutMs, awayAfterMs: req.awayAfterMs }, o.limits) as Required<RoomSettings>;
      if (caller.role === "anonymous") throw new PresenceError("PERMISSION_DENIED", "room: anonymous viewers may not create rooms", { field: "room" });
      let owner = caller.subject;
      if (req.ownerUserId !== "") {
        if (!operator(caller) && req.ownerUserId !== caller.subject) {
          throw new PresenceError("PERMISSION_DENIED", "owner_user_id: only a service or admin may name another owner", { field: "owner_user_id" });
        }
        owner = userId(req.ownerUserId, "owner_user_id");
      }
      await authorize(caller, "join", name);
      return view(name, await o.lifecycle.createRoom({ room: name, ownerUserId: owner, metadata: md, settings }));
    },

    async updateRoom(caller, req) {
      const name = room(req.room);
      const p = req.patch;
      checkRoomSettings(p, o.limits);
      const patch = { ...p, metadata: p.metadata === undefined ? undefined : metadata(p.metadata), ownerUserId: p.ownerUserId === undefined ? undefined : userId(p.ownerUserId, "owner_user_id") };
      const before = await manageable(caller, name);
      const after = await o.lifecycle.updateRoom(name, patch);
      if (after.awayAfterMs !== before.awayAfterMs) await o.awayChanged?.(name, after.awayAfterMs);
      return view(name, after);
    },

    async getRoom(caller, req) {
      const name = room(req.room);
      await authorize(caller, "read", name);
      return view(name, await o.lifecycle.getRoom(name));
    },

    async endIdle(name) {
      const record = await o.lifecycle.getRoom(name);
      if (!record || record.status !== "open" || record.idleTimeoutMs <= 0 || o.clock.now() - record.lastActivityMs < record.idleTimeoutMs) return;
      const ended = await o.lifecycle.markEnded(name, "", "idle");
      if (!ended) return;
      await o.evict(name, { endedAtMs: ended.endedAtMs, endedBy: "", reason: "idle", tombstoneUntilMs: ended.tombstoneUntilMs });
    },

    async endRoom(caller, req) {
      const name = room(req.room);
      const reason = checkEndReason(req.reason);
      const record = await o.lifecycle.getRoom(name);
      if (!record && !operator(caller)) throw roomNotFound(name); // implicit rooms: operators only
      if (!record || !canManageRoom(caller, record)) await mayManageOthers(caller, name);
      const ended = record ? await o.lifecycle.markEnded(name, caller.subject, reason) : null;
      const endedAtMs = ended?.endedAtMs ?? o.clock.now();
      const removed = await o.evict(name, { endedAtMs, endedBy: caller.subject, reason, tombstoneUntilMs: ended?.tombstoneUntilMs ?? 0 });
      return { info: await view(name, ended), connectionsRemoved: removed };
    },
  };
}
