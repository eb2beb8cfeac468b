import { invalidArgument } from "./presence-error.js";

/**
 * Away thresholds (issue 12): how long a session may stay silent before it shows away. The
 * default is PRESENCE_AWAY_AFTER_MS (5 min); a scope override (PRESENCE_AWAY_AFTER_MS_BY_SCOPE,
 * matched by scope-name prefix, longest prefix wins) replaces the default for the sessions of that
 * scope (longer or shorter), and the `away_after_ms` of a managed room a session is in shortens it:
 * a session uses the smallest of its base (scopes, else the default) and its managed rooms' values,
 * so a collaboration room with 2 min makes its members away after 2 min of silence even when the
 * default is 5 min. A threshold of 0 means "never away by silence".
 */
export interface AwayPolicy {
  defaultMs: number;
  /** Scope-name prefix → threshold (ms), e.g. `zone:` → 300,000. */
  scopeOverrides: ReadonlyArray<readonly [prefix: string, ms: number]>;
}

/** The threshold of one scope: the longest matching prefix override, or undefined. */
export function scopeThreshold(policy: AwayPolicy, scope: string): number | undefined {
  let best: readonly [string, number] | undefined;
  for (const o of policy.scopeOverrides) {
    if (scope.startsWith(o[0]) && (!best || o[0].length > best[0].length)) best = o;
  }
  return best?.[1];
}

/**
 * The base threshold of a session carrying `scopes`: the smallest positive override of its scopes
 * (0 when every override that applies is 0: never away in those scopes), or the default when no
 * override applies. Scope overrides may lengthen the default as well as shorten it.
 */
export function scopeBaseThreshold(policy: AwayPolicy, scopes: readonly string[]): number {
  let min = Number.POSITIVE_INFINITY;
  let applies = false;
  for (const s of scopes) {
    const t = scopeThreshold(policy, s);
    if (t === undefined) continue;
    applies = true;
    if (t > 0 && t < min) min = t;
  }
  if (!applies) return policy.defaultMs;
  return Number.isFinite(min) ? min : 0;
}

/**
 * A session's threshold from its base (`scopeBaseThreshold`) and the `away_after_ms` of the managed
 * rooms it is in (0 = the room has none): the smallest of them, where 0 means "never" (so a room's
 * value applies even in a never-away scope). Rooms only shorten: a room's value above the base does
 * nothing. 0 when nothing gives a threshold.
 */
export function combineThresholds(baseMs: number, roomThresholds: Iterable<number>): number {
  let min = baseMs > 0 ? baseMs : Number.POSITIVE_INFINITY;
  for (const t of roomThresholds) if (t > 0 && t < min) min = t;
  return Number.isFinite(min) ? min : 0;
}

/**
 * The threshold of a session carrying `scopes` and in rooms whose managed `away_after_ms` are
 * `roomThresholds` (0 = the room has none): the rooms' smallest value when below the base of its
 * scopes (or the default), else that base.
 */
export function sessionThreshold(policy: AwayPolicy, scopes: readonly string[], roomThresholds: readonly number[]): number {
  return combineThresholds(scopeBaseThreshold(policy, scopes), roomThresholds);
}

/**
 * Parses PRESENCE_AWAY_AFTER_MS_BY_SCOPE: comma-separated `prefix=ms` pairs (`zone:=120000,org:=600000`),
 * each ms an integer from `minMs` to `maxMs` (0 also allowed: never away in that scope). Throws a
 * PresenceError naming the entry.
 */
export function parseScopeOverrides(text: string, minMs: number, maxMs: number, field = "PRESENCE_AWAY_AFTER_MS_BY_SCOPE"): [string, number][] {
  const out: [string, number][] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const eq = entry.lastIndexOf("=");
    const prefix = entry.slice(0, eq).trim();
    const ms = Number(entry.slice(eq + 1).trim());
    if (eq <= 0 || prefix === "") throw invalidArgument(field, `entry "${entry}" must be prefix=milliseconds`);
    if (!Number.isInteger(ms) || (ms !== 0 && (ms < minMs || ms > maxMs))) {
      throw invalidArgument(field, `entry "${entry}": milliseconds must be 0 or an integer from ${minMs} to ${maxMs}`);
    }
    out.push([prefix, ms]);
  }
  return out;
}
