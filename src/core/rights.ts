/**
 * Rights: which operations a caller may do on which resources (design §10 "Rights"). Pure data and
 * functions; the decision that combines a caller's sources of rights is `access-policy.ts`.
 *
 * Operations act on a room or on a user:
 *
 * | operation | resource | what it allows |
 * |---|---|---|
 * | `join` | room | Join, Navigate into the room (as a member; Leave and Heartbeat need only the session) |
 * | `watch` | room | WatchPresence, a WebSocket watch |
 * | `read` | room | GetPresence, BatchGetPresence |
 * | `typing` | room | SetTyping |
 * | `cursor` | room | UpdateCursor |
 * | `kick` | room | removing other members (operators) |
 * | `audit` | room | reading the room's activity log (history) |
 * | `status.read` | user | GetUserStatus of that user |
 * | `status.watch` | user | WatchUsers of that user |
 * | `*` | either | every operation of the pattern's kind |
 *
 * A rights map is an Ably-style object, `pattern → operations`, as JSON: a key starting with
 * `user:` is a user-id pattern (for `status.*`), any other key a room-name pattern (a leading
 * `room:` is optional and stripped, so a room whose name starts with `user:` is written
 * `room:user:…`). Patterns use the glob of `glob-pattern.ts`. Example:
 * `{"/docs/**": ["join", "watch", "read"], "user:**": ["status.read"]}`.
 */
import { compileGlob, type GlobPattern } from "./glob-pattern.js";
import { invalidArgument } from "./presence-error.js";

export const ROOM_OPERATIONS = ["join", "watch", "read", "typing", "cursor", "kick", "audit"] as const;
export const USER_OPERATIONS = ["status.read", "status.watch"] as const;
export type RoomOperation = (typeof ROOM_OPERATIONS)[number];
export type UserOperation = (typeof USER_OPERATIONS)[number];
export type Operation = RoomOperation | UserOperation;
/** Every operation, for tables and metric labels. */
export const OPERATIONS: readonly Operation[] = [...ROOM_OPERATIONS, ...USER_OPERATIONS];

const isRoomOperation = (op: string): op is RoomOperation => (ROOM_OPERATIONS as readonly string[]).includes(op);
const isUserOperation = (op: string): op is UserOperation => (USER_OPERATIONS as readonly string[]).includes(op);
export const isOperation = (op: string): op is Operation => isRoomOperation(op) || isUserOperation(op);

/** The kind of resource an operation acts on. */
export function resourceKindOf(op: Operation): "room" | "user" {
  return isUserOperation(op) ? "user" : "room";
}

/** One entry of a rights map: a pattern and the operations it grants. */
export interface Grant {
  readonly pattern: GlobPattern;
  readonly operations: ReadonlySet<Operation>;
}

/** A compiled rights map: room grants and user grants. */
export interface Rights {
  readonly rooms: readonly Grant[];
  readonly users: readonly Grant[];
}

export const NO_RIGHTS: Rights = Object.freeze({ rooms: Object.freeze([]), users: Object.freeze([]) }) as Rights;

const USER_PREFIX = "user:";
const ROOM_PREFIX = "room:";

/**
 * Parses a rights map (a JSON value already decoded). Throws `invalid_argument` naming `field`
 * for anything that is not an object of at most `maxEntries` entries whose values are arrays of
 * known operations of the key's kind (`status.read` on a room pattern is refused, and so is
 * `join` on a `user:` pattern: a mistake there would silently grant nothing).
 */
export function parseRights(value: unknown, field: string, maxEntries: number): Rights {
  const entries = objectEntries(value, field, maxEntries);
  const rooms: Grant[] = [];
  const users: Grant[] = [];
  for (const [key, ops] of entries) {
    const kind = key.startsWith(USER_PREFIX) ? "user" : "room";
    const source = kind === "user" ? key.slice(USER_PREFIX.length) : key.startsWith(ROOM_PREFIX) ? key.slice(ROOM_PREFIX.length) : key;
    const where = `${field}[${JSON.stringify(key)}]`;
    const pattern = compileGlob(source, where);
    if (!Array.isArray(ops)) throw invalidArgument(where, "must be an array of operations");
    const operations = new Set<Operation>();
    for (const op of ops) {
      if (typeof op !== "string") throw invalidArgument(where, "must be an array of operation names (strings)");
      if (op === "*") {
        for (const o of kind === "user" ? USER_OPERATIONS : ROOM_OPERATIONS) operations.add(o);
      } else if (kind === "room" && isRoomOperation(op)) {
        operations.add(op);
      } else if (kind === "user" && isUserOperation(op)) {
        operations.add(op);
      } else if (isOperation(op)) {
        throw invalidArgument(where, `operation ${JSON.stringify(op)} acts on ${resourceKindOf(op)}s: put it under a ${resourceKindOf(op) === "user" ? '"user:" key' : "room pattern"}`);
      } else {
        throw invalidArgument(where, `unknown operation ${JSON.stringify(op)} (known: ${[...OPERATIONS, "*"].join(", ")})`);
      }
    }
    (kind === "user" ? users : rooms).push({ pattern, operations });
  }
  return { rooms, users };
}

/** Whether `rights` grant `op` on `resource` (a room name or a user id, by the operation's kind). */
export function rightsAllow(rights: Rights, op: Operation, resource: string): boolean {
  for (const g of resourceKindOf(op) === "user" ? rights.users : rights.rooms) {
    if (g.operations.has(op) && g.pattern.matches(resource)) return true;
  }
  return false;
}

/** Whether `rights` grant `op` on at least one pattern (whatever the resource). */
export function rightsMention(rights: Rights, op: Operation): boolean {
  return (resourceKindOf(op) === "user" ? rights.users : rights.rooms).some((g) => g.operations.has(op));
}

/** One entry of a per-room role claim: rooms matching `pattern` give the caller `role`. */
export interface RoleGrant {
  readonly pattern: GlobPattern;
  readonly role: string;
}

/** Role names: 1..64 characters of A-Z, a-z, 0-9, '_', '-' and '.'. */
const ROLE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Parses a per-room role claim, `{"<room pattern>": "<role>"}` (e.g. `{"doc-17": "commenter",
 * "doc-*": "viewer"}`). Keys are room patterns (an optional `room:` prefix is stripped). Throws
 * `invalid_argument` naming `field`.
 */
export function parseRoleClaim(value: unknown, field: string, maxEntries: number): RoleGrant[] {
  return objectEntries(value, field, maxEntries).map(([key, role]) => {
    const where = `${field}[${JSON.stringify(key)}]`;
    const pattern = compileGlob(key.startsWith(ROOM_PREFIX) ? key.slice(ROOM_PREFIX.length) : key, where);
    if (typeof role !== "string" || !ROLE_NAME.test(role)) throw invalidArgument(where, "must be a role name (1 to 64 of A-Z, a-z, 0-9, '_', '-', '.')");
    return { pattern, role };
  });
}

/**
 * The caller's role in `room`: the entry with an exact pattern for it, else the most specific
 * matching pattern (most literal characters), ties to the first in claim order; "" when none.
 */
export function roleFor(grants: readonly RoleGrant[], room: string): string {
  let best: RoleGrant | undefined;
  for (const g of grants) {
    if (!g.pattern.matches(room)) continue;
    if (g.pattern.exact) return g.role;
    if (best === undefined || g.pattern.literalLength > best.pattern.literalLength) best = g;
  }
  return best?.role ?? "";
}

/** Role name → the room operations it grants. */
export type RoleTable = ReadonlyMap<string, ReadonlySet<RoomOperation>>;

/** Parses `{"<role>": ["<room operation>", …]}`; `*` is every room operation. Throws `invalid_argument` naming `field`. */
export function parseRoleTable(value: unknown, field: string): RoleTable {
  const table = new Map<string, ReadonlySet<RoomOperation>>();
  for (const [role, ops] of objectEntries(value, field, 1_000)) {
    const where = `${field}[${JSON.stringify(role)}]`;
    if (!ROLE_NAME.test(role)) throw invalidArgument(where, "role names are 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.'");
    if (!Array.isArray(ops)) throw invalidArgument(where, "must be an array of room operations");
    const set = new Set<RoomOperation>();
    for (const op of ops) {
      if (op === "*") ROOM_OPERATIONS.forEach((o) => set.add(o));
      else if (typeof op === "string" && isRoomOperation(op)) set.add(op);
      else throw invalidArgument(where, `${JSON.stringify(op)} is not a room operation (known: ${[...ROOM_OPERATIONS, "*"].join(", ")})`);
    }
    table.set(role, set);
  }
  return table;
}

function objectEntries(value: unknown, field: string, maxEntries: number): [string, unknown][] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalidArgument(field, "must be a JSON object");
  const entries = Object.entries(value);
  if (entries.length > maxEntries) throw invalidArgument(field, `must have at most ${maxEntries} entries (got ${entries.length})`);
  return entries;
}
