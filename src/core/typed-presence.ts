import { invalidArgument, limitExceeded } from "./presence-error.js";
import { checkText, utf8Length } from "./room-name.js";

/**
 * Typed presence (member_presence.proto): a JSON object per connection and room. Stores keep it as
 * a map from top-level key to that value's JSON text, so merging is a map merge (no JSON parsing in
 * Lua, where cjson cannot tell `[]` from `{}`) and the size is measured exactly like metadata: key
 * and JSON-text UTF-8 bytes plus 2 per key. Pure functions; the service validates before the store
 * sees anything.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A presence as stores keep it: top-level key → JSON text of its value. */
export type PresenceRecord = Record<string, string>;

export interface PresenceLimits {
  /** PRESENCE_MAX_PRESENCE_BYTES (default 2,048). */
  maxBytes: number;
  /** PRESENCE_MAX_PRESENCE_KEYS (default 32). */
  maxKeys: number;
}

/** Nesting deeper than this is refused (bounded work for every reader). */
export const MAX_PRESENCE_DEPTH = 16;

/** Size of a presence record: key and JSON-text bytes plus 2 per key. */
export function presenceBytes(r: PresenceRecord): number {
  let n = 0;
  for (const k of Object.keys(r)) n += utf8Length(k) + utf8Length(r[k]!) + 2;
  return n;
}

/** Checks a record against the limits (PRESENCE_TOO_LARGE naming the limit). */
export function checkPresenceRecord(r: PresenceRecord, limits: PresenceLimits, field = "presence"): PresenceRecord {
  const keys = Object.keys(r).length;
  if (keys > limits.maxKeys) throw limitExceeded(field, limits.maxKeys, keys, "keys", "PRESENCE_TOO_LARGE");
  const bytes = presenceBytes(r);
  if (bytes > limits.maxBytes) throw limitExceeded(field, limits.maxBytes, bytes, "bytes", "PRESENCE_TOO_LARGE");
  return r;
}

function depthOf(v: JsonValue, limit: number, field: string, depth = 0): void {
  if (depth > limit) throw invalidArgument(field, `must not nest deeper than ${limit} levels`);
  if (Array.isArray(v)) for (const x of v) depthOf(x, limit, field, depth + 1);
  else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) depthOf(v[k]!, limit, field, depth + 1);
  else if (typeof v === "number" && !Number.isFinite(v)) throw invalidArgument(field, "numbers must be finite");
}

/**
 * Converts a JSON object (from a protobuf Struct or the SDK) to a record, validating keys (no
 * control characters), depth and size. Throws INVALID_ARGUMENT or PRESENCE_TOO_LARGE.
 */
export function presenceFromObject(obj: JsonObject, limits: PresenceLimits, field = "presence"): PresenceRecord {
  const out: PresenceRecord = {};
  const keys = Object.keys(obj);
  if (keys.length > limits.maxKeys) throw limitExceeded(field, limits.maxKeys, keys.length, "keys", "PRESENCE_TOO_LARGE");
  for (const k of keys) {
    if (k === "") throw invalidArgument(`${field} key`, "must not be empty");
    checkText(k, `${field} key`);
    const v = obj[k]!;
    depthOf(v, MAX_PRESENCE_DEPTH, `${field}.${k}`);
    out[k] = JSON.stringify(v);
  }
  return checkPresenceRecord(out, limits, field);
}

/** The JSON object of a record (values parsed; a value that is not JSON becomes null). */
export function presenceToObject(r: PresenceRecord): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(r)) {
    try {
      out[k] = JSON.parse(r[k]!) as JsonValue;
    } catch {
      out[k] = null;
    }
  }
  return out;
}

/** Merges `update` into `current` (top-level keys), or replaces it. Does not check limits. */
export function mergePresence(current: PresenceRecord, update: PresenceRecord, replace: boolean): PresenceRecord {
  return replace ? { ...update } : { ...current, ...update };
}

/** True when two records hold the same keys and JSON texts (a re-Join with the same presence is a no-op). */
export function samePresence(a: PresenceRecord, b: PresenceRecord): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
