import { createHash } from "node:crypto";
import {
  ACTIVITY_KINDS,
  decodePageToken,
  encodePageToken,
  parseRoomPattern,
  type ActivityKind,
  type ActivityQuery,
  type ActivityRecord,
  type RoomAt,
  type RoomPattern,
  type RoomStatistics,
} from "../core/activity.js";
import type { Clock } from "../core/clock.js";
import type { Caller } from "../core/identity.js";
import { invalidArgument, limitExceeded, PresenceError } from "../core/presence-error.js";
import { checkText, parseRoomName, utf8Length } from "../core/room-name.js";
import type { HistoryStore } from "../history/history-store.js";

/**
 * Reading the durable history back (HistoryService, the export route, the CLI's `activity` and
 * `stats`): validation of every input before the database is asked, the `audit` right, page
 * tokens, and the time-range rules (docs/history.md). Transports only translate.
 *
 * Ranges are [since, until) in ms; omitted: until = now, since = until − 24 h. Errors:
 * INVALID_TIME_RANGE (until before since, longer than `maxRangeMs`), INVALID_PAGE_TOKEN,
 * INVALID_ROOM, INVALID_ARGUMENT, UNAUTHENTICATED / PERMISSION_DENIED (no audit right),
 * HISTORY_UNAVAILABLE (database down or still starting), HISTORY_DISABLED (PRESENCE_HISTORY=off).
 */
export interface HistoryService {
  listActivity(caller: Caller, req: ListActivityCommand): Promise<{ records: ActivityRecord[]; nextPageToken: string; sinceMs: number; untilMs: number }>;
  roomAt(caller: Caller, req: { room: string; atMs: number }): Promise<RoomAt>;
  roomStatistics(caller: Caller, req: { room: string; sinceMs: number; untilMs: number }): Promise<RoomStatistics>;
  /**
   * Validates an export and returns its rows as an async iterable of pages (at most
   * `exportPageRows` rows each): throws before anything is streamed when the request is invalid.
   */
  exportActivity(caller: Caller, req: Omit<ListActivityCommand, "pageToken" | "pageSize" | "newestFirst">, signal?: AbortSignal): Promise<{ query: ActivityQuery; pages: AsyncIterable<ActivityRecord[]> }>;
}

export interface ListActivityCommand {
  room: string;
  userId: string;
  sinceMs: number;
  untilMs: number;
  kinds: string[];
  pageToken: string;
  pageSize: number;
  newestFirst: boolean;
}

export interface HistoryServiceOptions {
  mode: "postgres" | "embedded" | "off";
  /** The store once it is ready (the embedded database starts in the background). */
  store: () => HistoryStore | undefined;
  clock: Clock;
  maxRangeMs: number;
  maxPageSize: number;
  exportPageRows: number;
  maxRoomNameBytes: number;
  /** User ids in filters (PRESENCE_MAX_USER_ID_BYTES). */
  maxUserIdBytes: number;
  /**
   * The rights check for operation `audit` on one room (the access track's AccessGuard.authorize):
   * resolves, or rejects with the refusal to answer. Without it, history reads are for admins only.
   */
  authorizeRoom?: (caller: Caller, op: "audit", room: string) => Promise<void>;
}

/** ListActivity page size when the request says 0. */
export const DEFAULT_PAGE_SIZE = 100;
/** Range length when `since` is omitted. */
export const DEFAULT_RANGE_MS = 86_400_000;

export function createHistoryService(o: HistoryServiceOptions): HistoryService {
  const store = (): HistoryStore => {
    if (o.mode === "off") throw new PresenceError("HISTORY_DISABLED", "history: this server runs with PRESENCE_HISTORY=off; nothing is recorded");
    const s = o.store();
    if (!s) throw new PresenceError("HISTORY_UNAVAILABLE", "history: the history database is not ready yet (starting or unreachable); retry with backoff");
    return s;
  };

  const exactRoom = (room: string) => parseRoomName(room, o.maxRoomNameBytes);

  const userId = (value: string) => {
    const n = utf8Length(value);
    if (n > o.maxUserIdBytes) throw limitExceeded("user_id", o.maxUserIdBytes, n, "bytes", "INVALID_ARGUMENT");
    checkText(value, "user_id");
    return value;
  };

  /** [since, until) with defaults applied; `until` capped at now when `capAtNow`. */
  const range = (sinceMs: number, untilMs: number, capAtNow = false) => {
    if (!Number.isSafeInteger(sinceMs) || sinceMs < 0) throw invalidArgument("since_ms", "must be a time in ms since the Unix epoch (0: 24 h before until)", "INVALID_TIME_RANGE");
    if (!Number.isSafeInteger(untilMs) || untilMs < 0) throw invalidArgument("until_ms", "must be a time in ms since the Unix epoch (0: now)", "INVALID_TIME_RANGE");
    const now = o.clock.now();
    let until = untilMs === 0 ? now : untilMs;
    if (capAtNow) until = Math.min(until, now);
    const since = sinceMs === 0 ? Math.max(0, until - DEFAULT_RANGE_MS) : sinceMs;
    if (until < since) throw new PresenceError("INVALID_TIME_RANGE", `until_ms: must not be before since_ms (since ${since}, until ${until})`, { field: "until_ms" });
    if (until - since > o.maxRangeMs) {
      throw limitExceeded("until_ms - since_ms", o.maxRangeMs, until - since, "ms (PRESENCE_HISTORY_MAX_RANGE_MS)", "INVALID_TIME_RANGE");
    }
    return { sinceMs: since, untilMs: until };
  };

  const kinds = (values: string[]): ActivityKind[] => {
    for (const k of values) if (!(ACTIVITY_KINDS as readonly string[]).includes(k)) throw invalidArgument("kinds", `unknown kind ${JSON.stringify(k.slice(0, 32))}; one of ${ACTIVITY_KINDS.join(", ")}`);
    return [...new Set(values as ActivityKind[])].sort();
  };

  /** Filters of a ListActivity or export request (not yet its range). */
  /**
   * The one check of the `audit` right, for every read (ListActivity, GetRoomAt, GetRoomStatistics,
   * the export): an exact room asks the rights model (when the app gives one); a room pattern, a
   * user filter or no filter spans rooms nobody can enumerate rights for, so it needs an admin.
   */
  const audit = async (caller: Caller, target: { room?: RoomPattern; userId?: string }) => {
    const exact = target.room && "exact" in target.room ? target.room.exact : undefined;
    if (caller.role === "admin" || exact === undefined || !o.authorizeRoom) return authorizeAudit(caller, target);
    await o.authorizeRoom(caller, "audit", exact);
  };

  const filters = async (caller: Caller, req: { room: string; userId: string; kinds: string[] }) => {
    const pattern = req.room === "" ? undefined : parseRoomPattern(req.room);
    if (pattern && "exact" in pattern) exactRoom(pattern.exact);
    if (pattern && "prefix" in pattern && pattern.prefix !== "") exactRoom(pattern.prefix);
    const user = req.userId === "" ? undefined : userId(req.userId);
    await audit(caller, { room: pattern, userId: user });
    return { room: pattern, userId: user, kinds: kinds(req.kinds), includeInvisible: caller.role === "admin" };
  };

  return {
    async listActivity(caller, req) {
      const f = await filters(caller, req);
      if (req.pageSize > o.maxPageSize) throw limitExceeded("page_size", o.maxPageSize, req.pageSize, "rows", "INVALID_ARGUMENT");
      const pageSize = req.pageSize === 0 ? Math.min(DEFAULT_PAGE_SIZE, o.maxPageSize) : req.pageSize;
      // The hash covers the filters as requested (before defaults): a token is valid only for them.
      const hash = createHash("sha256")
        .update(JSON.stringify([req.room, req.userId, req.sinceMs, req.untilMs, f.kinds, req.newestFirst, f.includeInvisible]))
        .digest("base64url")
        .slice(0, 16);
      let after;
      let r;
      if (req.pageToken !== "") {
        const token = decodePageToken(req.pageToken, hash);
        if (!token) throw new PresenceError("INVALID_PAGE_TOKEN", "page_token: not a token of this query (malformed, or the other fields changed); start again without it", { field: "page_token" });
        after = token.cursor;
        r = { sinceMs: token.sinceMs, untilMs: token.untilMs };
      } else {
        r = range(req.sinceMs, req.untilMs);
      }
      const query: ActivityQuery = { ...f, ...r, newestFirst: req.newestFirst };
      const page = await store().listActivity(query, after, pageSize);
      return { records: page.rows, nextPageToken: page.next ? encodePageToken({ cursor: page.next, ...r }, hash) : "", ...r };
    },

    async roomAt(caller, req) {
      const room = exactRoom(req.room);
      await audit(caller, { room: { exact: room } });
      if (!Number.isSafeInteger(req.atMs) || req.atMs < 0) throw invalidArgument("at_ms", "must be a time in ms since the Unix epoch (0: now)", "INVALID_TIME_RANGE");
      return store().roomAt(room, req.atMs === 0 ? o.clock.now() : req.atMs, caller.role === "admin");
    },

    async roomStatistics(caller, req) {
      const room = exactRoom(req.room);
      await audit(caller, { room: { exact: room } });
      const r = range(req.sinceMs, req.untilMs, true);
      return store().roomStatistics(room, r.sinceMs, r.untilMs);
    },

    async exportActivity(caller, req, signal) {
      const query: ActivityQuery = { ...(await filters(caller, req)), ...range(req.sinceMs, req.untilMs), newestFirst: false };
      const s = store();
      return { query, pages: s.exportActivity(query, o.exportPageRows, signal) };
    },
  };
}

/**
 * The admin-only rule: history reads that span rooms (patterns, users, everything), and every read
 * when the app gives no rights model. Rows of invisible users are returned to admins only anyway.
 */
export function authorizeAudit(caller: Caller, target: { room?: RoomPattern; userId?: string }): void {
  if (caller.role === "admin") return;
  if (caller.role === "anonymous") {
    throw new PresenceError("UNAUTHENTICATED", "authorization: history reads need the audit right: an admin token (Bearer JWT with role \"admin\")", { field: "authorization" });
  }
  const across = !(target.room && "exact" in target.room);
  throw new PresenceError(
    "PERMISSION_DENIED",
    across
      ? `authorization: history across rooms (a room pattern, a user, or every room) needs an admin token; this token's role is "${caller.role}" (the audit right on one room reads that room)`
      : `authorization: history reads need the audit right (an admin token); this token's role is "${caller.role}"`,
    { field: "authorization" },
  );
}
