/**
 * "Last seen 5 min ago": the wording of a user's status for people (the chat seed's friends list,
 * the zones seed's online lists). English by default, short and stable; pass a BCP 47 `locale` to
 * use the browser's `Intl.RelativeTimeFormat` instead. Pure functions of (status, now).
 */
export type UserState = "online" | "away" | "offline";

export interface LastSeenOptions {
  /** Use `Intl.RelativeTimeFormat` of this locale (e.g. "fr") instead of the built-in English. */
  locale?: string | undefined;
  /** Shown for an offline user never seen (or not within the retention). Default "offline". */
  never?: string | undefined;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * How long ago `thenMs` was, for people: "just now" (< 1 min), "5 min ago", "3 h ago",
 * "yesterday", "4 days ago", then "on 12 Mar 2026" (older than a week). With `locale`, the same
 * steps through `Intl.RelativeTimeFormat` (numeric "auto": "yesterday", "hier", …) and
 * `Intl.DateTimeFormat`.
 */
export function formatAgo(thenMs: number, nowMs: number, locale?: string): string {
  const ago = Math.max(0, nowMs - thenMs);
  if (locale !== undefined) {
    const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
    if (ago < MINUTE) return rtf.format(0, "second");
    if (ago < HOUR) return rtf.format(-Math.floor(ago / MINUTE), "minute");
    if (ago < DAY) return rtf.format(-Math.floor(ago / HOUR), "hour");
    if (ago < 7 * DAY) return rtf.format(-Math.floor(ago / DAY), "day");
    return new Intl.DateTimeFormat(locale, { day: "numeric", month: "short", year: "numeric" }).format(thenMs);
  }
  if (ago < MINUTE) return "just now";
  if (ago < HOUR) return `${Math.floor(ago / MINUTE)} min ago`;
  if (ago < DAY) return `${Math.floor(ago / HOUR)} h ago`;
  if (ago < 2 * DAY) return "yesterday";
  if (ago < 7 * DAY) return `${Math.floor(ago / DAY)} days ago`;
  return `on ${new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" }).format(thenMs)}`;
}

/**
 * The status line of a user: "online", "away", "last seen 5 min ago", or "offline" when never
 * seen. With `locale`, only the relative part is localised ("last seen" is the caller's to
 * translate: use `formatAgo` directly).
 */
export function formatLastSeen(status: { state: UserState; lastSeenMs: number }, nowMs: number, options: LastSeenOptions = {}): string {
  if (status.state === "online") return "online";
  if (status.state === "away") return "away";
  if (status.lastSeenMs <= 0) return options.never ?? "offline";
  return `last seen ${formatAgo(status.lastSeenMs, nowMs, options.locale)}`;
}

/** When `formatLastSeen`'s text will change next (ms from now), so a UI can re-render just then. */
export function nextLastSeenChangeMs(lastSeenMs: number, nowMs: number): number {
  const ago = Math.max(0, nowMs - lastSeenMs);
  const step = ago < HOUR ? MINUTE : ago < DAY ? HOUR : DAY;
  return step - (ago % step);
}
