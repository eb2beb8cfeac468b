import { invalidArgument, limitExceeded } from "./presence-error.js";

/**
 * Room names: opaque UTF-8, 1..maxBytes bytes, no control characters (C0, DEL, C1), no unpaired
 * surrogates (which is how invalid UTF-8 in a binary body surfaces after decoding: U+FFFD is
 * refused too, because a decoder produces it for invalid bytes).
 */
export function parseRoomName(value: string, maxBytes: number, field = "room"): string {
  if (value.length === 0) throw invalidArgument(field, "must not be empty", "INVALID_ROOM");
  const bytes = utf8Length(value);
  if (bytes > maxBytes) {
    // A too-long name is malformed input, not a resource problem: invalid_argument.
    throw limitExceeded(field, maxBytes, bytes, "bytes", "INVALID_ROOM");
  }
  checkText(value, field, "INVALID_ROOM");
  return value;
}

/**
 * Refuses control characters, unpaired surrogates and U+FFFD (the decoder's mark for invalid UTF-8).
 */
export function checkText(value: string, field: string, reason: "INVALID_ROOM" | "INVALID_ARGUMENT" = "INVALID_ARGUMENT"): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      throw invalidArgument(field, `must not contain control characters (U+${c.toString(16).padStart(4, "0").toUpperCase()} at index ${i})`, reason);
    }
    if (c === 0xfffd) throw invalidArgument(field, "must be valid UTF-8 (found U+FFFD, the replacement for invalid bytes)", reason);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = value.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw invalidArgument(field, "must be valid UTF-8 (unpaired surrogate)", reason);
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw invalidArgument(field, "must be valid UTF-8 (unpaired surrogate)", reason);
    }
  }
}

/** UTF-8 byte length of a string without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * The page-presence rule: a page URL becomes a room name by dropping the query, the fragment and a
 * trailing slash; paths match exactly (`/tournament/5/players` ≠ `/tournament/5/games`). Absolute
 * URLs keep their origin (`https://example.com/docs/a`), so two sites never share a room; a bare
 * path stays a path. The root path is `/`.
 */
export function roomFromUrl(url: string): string {
  let s = url.trim();
  const cut = s.search(/[?#]/);
  if (cut >= 0) s = s.slice(0, cut);
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*)(.*)$/.exec(s);
  const origin = m ? m[1]!.toLowerCase() : "";
  let path = m ? m[2]! : s;
  if (path === "") path = "/";
  while (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  return origin + path;
}
