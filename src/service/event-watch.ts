import type { BackendEvent, BackendEventKind } from "../core/backend-events.js";
import { compileGlob } from "../core/glob-pattern.js";
import type { Caller } from "../core/identity.js";
import { invalidArgument, limitExceeded, presenceError } from "../core/presence-error.js";
import type { BackendEventHub, EventWatchItem } from "../fanout/backend-event-hub.js";

/**
 * WatchEvents, the service side: validates the request (room and user patterns in the rights
 * model's glob syntax, kinds, the resume cursor), builds the filter and opens a stream on the hub.
 * Who may: callers with the service or admin role (backend events name users across rooms); the
 * access model's per-room `watch` right replaces this once it is on main.
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

export function watchEvents(hub: BackendEventHub, caller: Caller, req: WatchEventsCommand): AsyncGenerator<EventWatchItem> {
  if (caller.role !== "service" && caller.role !== "admin") {
    throw presenceError("PERMISSION_DENIED", "WatchEvents: requires the service or admin role (events name users across rooms)", { field: "role" });
  }
  const compile = (list: string[], field: string) => {
    if (list.length > req.maxPatterns) throw limitExceeded(field, req.maxPatterns, list.length, "patterns", "INVALID_ARGUMENT");
    return list.map((p, i) => compileGlob(p, `${field}[${i}]`));
  };
  const rooms = compile(req.rooms, "rooms");
  const users = compile(req.users, "users");
  if (req.resumeAfter !== "" && !CURSOR.test(req.resumeAfter)) throw invalidArgument("resume_after", "must be a cursor received from WatchEvents");
  const kinds = new Set(req.kinds);
  const filter = (e: BackendEvent) =>
    (kinds.size === 0 || kinds.has(e.kind)) &&
    (e.room === "" || rooms.length === 0 || rooms.some((p) => p.matches(e.room))) &&
    (e.room !== "" || users.length === 0 || users.some((p) => p.matches(e.userId)));
  return hub.watch({ filter, resumeAfter: req.resumeAfter, signal: req.signal });
}
