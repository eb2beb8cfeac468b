/**
 * The shape of a configuration option. Every option is a `PRESENCE_*` environment variable with a
 * documented default and, for numbers, inclusive bounds; docs/configuration.md is generated from
 * the spec tables in this folder (`npm run docs:config`), and a test keeps it current.
 *
 * To add an option: one entry in the table of its area (or a new `<area>-spec.ts` listed in
 * `CONFIG_SECTIONS`), read it in `loadConfig` (src/config.ts), then `npm run docs`. Modules that
 * take the value never define a default of their own (test/architecture/config-defaults.test.ts).
 */

/** An integer option: its variable, default, inclusive bounds and meaning. */
export interface IntSpec {
  readonly env: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly doc: string;
}

/** A non-numeric setting: its variable, the value used when unset (null: none), and its meaning. */
export interface SettingSpec {
  readonly env: string;
  readonly default: string | null;
  /** How the documentation shows a default that is computed at start-up (instead of `default`). */
  readonly shownDefault?: string;
  readonly doc: string;
}

/** How `loadConfig` reads one option (reporting a bad value in `problems`, then using the default). */
export interface OptionReader {
  num(s: IntSpec): number;
  /** The value, or the spec's default (undefined when it has none). */
  str(s: SettingSpec): string | undefined;
  /** `computed` replaces the spec's default when the default depends on other options. */
  bool(s: SettingSpec, computed?: boolean): boolean;
  /** A comma-separated list (empty when unset). */
  list(s: SettingSpec): string[];
  problems: string[];
}

export const int = (env: string, def: number, min: number, max: number, doc: string): IntSpec => ({ env, default: def, min, max, doc });

export const setting = (env: string, def: string | null, doc: string, shownDefault?: string): SettingSpec =>
  shownDefault === undefined ? { env, default: def, doc } : { env, default: def, doc, shownDefault };

/** The defaults of a table of integer options, by key. */
export function defaultsOf<K extends string>(spec: Readonly<Record<K, IntSpec>>): Record<K, number> {
  return Object.fromEntries(Object.entries<IntSpec>(spec).map(([k, s]) => [k, s.default])) as Record<K, number>;
}
