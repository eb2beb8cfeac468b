/**
 * Resource patterns of the rights model (room names and user ids), a deliberately small glob:
 *
 * | pattern | matches |
 * |---|---|
 * | `*`  | any run of characters without `/` (possibly empty): `/docs/*` matches `/docs/intro`, not `/docs/a/b` |
 * | `**` | any run of characters, `/` included: `/docs/**` matches `/docs/intro` and `/docs/a/b`; `**` alone matches every name |
 * | `\x` | the character `x` itself: `\*` is a literal star, `\\` a backslash |
 * | anything else | itself (case-sensitive, whole name) |
 *
 * A pattern always matches the whole name. There are no character classes, braces, `?` or
 * negations: room names are opaque strings (URLs, `chat:42`, `doc-17`), not file paths, and every
 * character other than `*` and `\` stands for itself. Matching is linear in the name times the
 * pattern (a state-set simulation, no backtracking), so no pattern can make a check slow.
 * (picomatch and minimatch were considered: they are path globs, with dot-file rules, braces,
 * extglobs and `!` negation, compiled to backtracking regular expressions.)
 */
import { invalidArgument } from "./presence-error.js";

/** A compiled pattern. */
export interface GlobPattern {
  /** The pattern as written. */
  readonly source: string;
  /** Characters that must match literally: a measure of specificity (exact names rank first). */
  readonly literalLength: number;
  /** True when the pattern has no wildcard (it names one resource). */
  readonly exact: boolean;
  /** Whether `name` matches the whole pattern. */
  matches(name: string): boolean;
}

const STAR = -1; // any run without '/'
const GLOBSTAR = -2; // any run
const SLASH = 0x2f;

/** Longest pattern accepted (characters). */
export const MAX_PATTERN_LENGTH = 1_024;

/**
 * Compiles a pattern. Throws `invalid_argument` (reason INVALID_ARGUMENT, naming `field`) for an
 * empty pattern, one longer than {@link MAX_PATTERN_LENGTH}, or a trailing lone `\`.
 */
export function compileGlob(source: string, field = "pattern"): GlobPattern {
  if (source.length === 0) throw invalidArgument(field, "must not be empty");
  if (source.length > MAX_PATTERN_LENGTH) throw invalidArgument(field, `must be at most ${MAX_PATTERN_LENGTH} characters (got ${source.length})`);
  // Atoms: a UTF-16 code unit (>= 0) or STAR / GLOBSTAR. Runs of stars collapse to one atom.
  const atoms: number[] = [];
  let literal = "";
  let wild = false;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      if (i + 1 >= source.length) throw invalidArgument(field, `must not end with a lone "\\" (pattern ${JSON.stringify(source)})`);
      const next = source.charCodeAt(++i);
      atoms.push(next);
      literal += source[i];
    } else if (c === 0x2a /* * */) {
      wild = true;
      let run = 1;
      while (source.charCodeAt(i + 1) === 0x2a) {
        run++;
        i++;
      }
      const atom = run >= 2 ? GLOBSTAR : STAR;
      const last = atoms[atoms.length - 1];
      if (last === GLOBSTAR) continue; // `**` absorbs a neighbouring `*`
      if (last === STAR && atom === GLOBSTAR) atoms[atoms.length - 1] = GLOBSTAR;
      else if (last !== STAR) atoms.push(atom);
    } else {
      atoms.push(c);
      literal += source[i];
    }
  }
  if (!wild) return { source, literalLength: literal.length, exact: true, matches: (name) => name === literal };
  // `prefix**`: the common "everything under" pattern, answered without the simulation.
  if (atoms[atoms.length - 1] === GLOBSTAR && atoms.indexOf(STAR) < 0 && atoms.indexOf(GLOBSTAR) === atoms.length - 1) {
    return { source, literalLength: literal.length, exact: false, matches: (name) => name.startsWith(literal) };
  }
  return { source, literalLength: literal.length, exact: false, matches: (name) => simulate(atoms, name) };
}

/**
 * Runs the pattern's automaton over `name`: `live[i]` says the first `i` atoms can match the input
 * read so far. O(name × atoms) time, two arrays of memory.
 */
function simulate(atoms: readonly number[], name: string): boolean {
  const m = atoms.length;
  let live = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  live[0] = 1;
  close(atoms, live);
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    next.fill(0);
    let any = false;
    for (let i = 0; i < m; i++) {
      if (!live[i]) continue;
      const a = atoms[i]!;
      if (a === GLOBSTAR || (a === STAR && c !== SLASH)) {
        next[i] = 1; // the star takes this character and may take more
        any = true;
      } else if (a === c) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) return false;
    close(atoms, next);
    [live, next] = [next, live];
  }
  return live[m] === 1;
}

/** A star may match nothing: whatever reaches a star also reaches the atom after it. */
function close(atoms: readonly number[], set: Uint8Array): void {
  for (let i = 0; i < atoms.length; i++) {
    if (set[i] && atoms[i]! < 0) set[i + 1] = 1;
  }
}
