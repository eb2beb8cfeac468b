import type { Limits, Timings } from "../../core/options.js";
import type { Keys } from "./keys.js";
import type { ScriptName } from "./scripts.js";

/**
 * What the typed script wrappers (`*-scripts.ts`) need: the runner (Redis failures already mapped
 * to STORE_UNAVAILABLE), the key builder, the time argument, the publish command and the options
 * that scripts take as arguments.
 */
export interface ScriptContext {
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown>;
  keys: Keys;
  /** The `now` argument of every script: '0' = Redis TIME; the injected clock's ms in fixed-time tests. */
  nowArg(): string;
  /** PUBLISH on standalone Redis, SPUBLISH (sharded, the room's shard) on Cluster. */
  pub: "PUBLISH" | "SPUBLISH";
  /** Redis Cluster: a script reaches one slot only (keys.ts). */
  cluster: boolean;
  timings: Timings;
  limits: Limits;
}

/**
 * A script's reply array read by position with type checks. A reply of another shape is a bug (or
 * a script of another version): it throws a plain Error naming the script, which the transports
 * answer as `internal`, never a silent misreading.
 */
export class ScriptReply {
  private readonly items: readonly unknown[];

  constructor(
    readonly script: ScriptName,
    reply: unknown,
  ) {
    if (!Array.isArray(reply)) throw this.malformed("an array", reply);
    this.items = reply;
  }

  get length(): number {
    return this.items.length;
  }

  /** An integer (Redis integer reply, or a numeric bulk string such as a version read by HGET). */
  int(i: number): number {
    const v = this.items[i];
    const n = typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : Number.NaN;
    if (!Number.isInteger(n)) throw this.malformed(`an integer at ${i}`, v);
    return n;
  }

  /** A bulk string ('' stays ''). */
  str(i: number): string {
    const v = this.items[i];
    if (typeof v !== "string") throw this.malformed(`a string at ${i}`, v);
    return v;
  }

  /** A bulk string, or null for a nil reply (a missing field). */
  strOrNull(i: number): string | null {
    return this.items[i] === null ? null : this.str(i);
  }

  /** The status at `i` named by the script's status table. */
  status<T extends string>(i: number, table: Readonly<Record<number, T>>): T {
    const code = this.int(i);
    const name = table[code];
    if (name === undefined) throw this.malformed(`a status of ${Object.keys(table).join("|")} at ${i}`, code);
    return name;
  }

  /** A nested array (a script returning a table of tables). */
  array(i: number): unknown[] {
    const v = this.items[i];
    if (!Array.isArray(v)) throw this.malformed(`an array at ${i}`, v);
    return v;
  }

  /** A flat HGETALL list at `i` as an object (field → value). */
  hash(i: number): Record<string, string> {
    const flat = this.array(i);
    const out: Record<string, string> = {};
    for (let j = 0; j + 1 < flat.length; j += 2) out[String(flat[j])] = String(flat[j + 1]);
    return out;
  }

  /** Items from `start` on, as strings (variable-length tails such as claimed session ids). */
  strings(start: number): string[] {
    const out: string[] = [];
    for (let i = start; i < this.items.length; i++) out.push(this.str(i));
    return out;
  }

  private malformed(expected: string, got: unknown): Error {
    return new Error(`redis script ${this.script}: expected ${expected} in its reply, got ${JSON.stringify(got)?.slice(0, 80)}`);
  }
}
