import type { BackendEvent, BackendEventKind } from "../core/backend-events.js";
import { roomForbidden } from "../core/access-errors.js";
import type { Clock } from "../core/clock.js";
import { compileGlob } from "../core/glob-pattern.js";
import type { Caller } from "../core/identity.js";
import { invalidArgument, limitExceeded } from "../core/presence-error.js";
import type { BackendEventHub, EventWatchItem } from "../fanout/backend-event-hub.js";
import type { AccessGuard } from "./access-guard.js";
import { guardedStream } from "./access-wrappers.js";

/**
 * WatchEvents, the service side: validates the request (room and user patterns in the rights
 * model's glob syntax, kinds, the resume cursor), builds the filter and opens a stream on the hub.
 *
 * Who sees what (the access model, checked per event, so patterns need no inclusion test): a room's
 * events (occupied, vacated, member added/removed, broadcast) need `watch` on that room, a user's
 * (online, away, offline) `status.watch` on that user; anything else is skipped silently, like a
 * room the request's patterns do not match. A user token with a capability on `/team/**` thus
 * watches the events of those rooms only; services and admins see everything by default. A caller
 * who may do neither anywhere is refused at once. The stream holds one `watches` unit and ends at
 * token expiry, like WatchPresence.
 */
const CURSOR = /^\d{1,20}(-\d{1,20})?$/;

export interface WatchEventsCommand {
  rooms: string[];
  users: string[];
  kinds: BackendEventKind[];
  resumeAfter: string;
  signal: AbortSignal;
  /** Patterns per list (PRESENCE_EVENTS_MAX_PATTERNS). */
  maxPatterns: number;
}

export interface EventWatchDeps {
  hub: BackendEventHub;
  access: AccessGuard;
  clock: Clock;
}

export function watchEvents(d: EventWatchDeps, caller: Caller, req: WatchEventsCommand): AsyncGenerator<EventWatchItem> {
  const compile = (list: string[], field: string) => {
    if (list.length > req.maxPatterns) throw limitExceeded(field, req.maxPatterns, list.length, "patterns", "INVALID_ARGUMENT");
    return list.map((p, i) => compileGlob(p, `${field}[${i}]`));
  };
  const rooms = compile(req.rooms, "rooms");
  const users = compile(req.users, "users");
  if (req.resumeAfter !== "" && !CURSOR.test(req.resumeAfter)) throw invalidArgument("resume_after", "must be a cursor received from WatchEvents");
  if (!d.access.mayEver(caller, "watch") && !d.access.mayEver(caller, "status.watch")) {
    throw roomForbidden("watch", req.rooms[0] ?? "**", "rooms");
  }
  const kinds = new Set(req.kinds);
  const wanted = (e: BackendEvent) =>
    (kinds.size === 0 || kinds.has(e.kind)) &&
    (e.room === "" || rooms.length === 0 || rooms.some((p) => p.matches(e.room))) &&
    (e.room !== "" || users.length === 0 || users.some((p) => p.matches(e.userId)));
  const filter = (e: BackendEvent) => {
    if (!wanted(e)) return false;
    return e.room !== "" ? d.access.allows(caller, "watch", e.room) : d.access.allows(caller, "status.watch", e.userId);
  };
  return guardedStream(d.access, d.clock, caller, req.signal, (signal) => d.hub.watch({ filter, resumeAfter: req.resumeAfter, signal }));
}
