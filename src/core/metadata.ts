import { checkText, utf8Length } from "./room-name.js";
import { invalidArgument, limitExceeded } from "./presence-error.js";

/**
 * The one empty string map (metadata, typed presence) every member without entries shares: most
 * members have none, and an empty object per member and per copy of it is ~60 B per idle
 * connection. Frozen, so that no holder can change it for the others.
 */
export const EMPTY_RECORD: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** `r`, or the shared EMPTY_RECORD when `r` has no entries. */
export function orEmpty(r: Record<string, string>): Record<string, string> {
  for (const _ in r) return r;
  return EMPTY_RECORD;
}

/**
 * Member metadata: a small string map. Size = sum of key and value UTF-8 bytes + 2 per entry
 * (a stable, transport-independent measure). Checked before the store sees it.
 */
export function checkMetadata(
  metadata: Record<string, string>,
  maxBytes: number,
  maxEntries: number,
  field = "metadata",
): Record<string, string> {
  const keys = Object.keys(metadata);
  if (keys.length > maxEntries) {
    throw limitExceeded(field, maxEntries, keys.length, "entries", "METADATA_TOO_LARGE");
  }
  let bytes = 0;
  for (const k of keys) bytes += utf8Length(k) + utf8Length(metadata[k]!) + 2;
  if (bytes > maxBytes) throw limitExceeded(field, maxBytes, bytes, "bytes", "METADATA_TOO_LARGE");
  for (const k of keys) {
    if (k.startsWith("$")) throw invalidArgument(`${field}[${k}]`, "keys starting with '$' are reserved for the server");
    checkText(k, `${field} key`);
    checkText(metadata[k]!.replace(/[\n\t\r]/g, " "), `${field}[${k}]`);
  }
  return keys.length === 0 ? EMPTY_RECORD : metadata;
}

/** True when two metadata maps hold the same entries. */
export function sameMetadata(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
