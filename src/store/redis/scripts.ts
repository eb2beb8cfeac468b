import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";

/**
 * Loads the Lua scripts of `lua/` once (file name `camelCaseName-<numberOfKeys>.lua`; the loader
 * derives the name and key count from it and refuses files that do not match), prepends the shared
 * prelude, replaces each `--@include <name>` line with `lua/lib/<name>.lua` (functions shared by
 * several scripts, since Redis scripts cannot import), and runs them with EVALSHA, falling back to EVAL when Redis answers NOSCRIPT (after
 * `SCRIPT FLUSH` or a restart): the fallback loads the script again, transparently, and is counted.
 * Scripts are never run inside MULTI. Callers use the typed wrappers of `*-scripts.ts`, which own
 * each script's KEYS/ARGV and decode its reply; nothing else calls `run`.
 */
export interface ScriptRunner {
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown>;
  names(): string[];
}

/** Every script of `lua/`: the loader refuses a file not listed here, and a name listed without a file. */
export const SCRIPT_NAMES = [
  "roomJoin",
  "roomLeave",
  "roomActivity",
  "roomTyping",
  "roomCursors",
  "roomTouch",
  "roomRenewEpoch",
  "roomRead",
  "roomReadLog",
  "sessionOpen",
  "sessionCheck",
  "sessionsHeartbeat",
  "sessionLeaveRoom",
  "sessionNavigate",
  "sessionRelease",
  "sessionsClaimExpired",
  "sessionReapDone",
  "userSession",
  "userSetStatus",
  "userRestore",
  "sessionKick",
  "sessionSetNode",
  "nodeAnnounce",
  "nodeList",
  "scopeAdd",
  "scopeRemove",
  "scopeStamp",
  "roomCfgCreate",
  "roomCfgUpdate",
  "roomCfgEnd",
  "roomCfgTouch",
  "sessionsAwayDue",
  "sessionStamp",
  "sessionRoomAway",
  "roomStamp",
  "quotaAdmit",
  "quotaRepair",
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

const FILE = /^([a-z][A-Za-z]*)-(\d+)\.lua$/;

export function loadScripts(client: Redis | Cluster, onReload: (name: string) => void): ScriptRunner {
  const dir = new URL("./lua/", import.meta.url);
  const prelude = readFileSync(new URL("_prelude.lua", dir), "utf8");
  const scripts = new Map<string, { keys: number; lua: string; sha: string }>();
  for (const file of readdirSync(dir)) {
    if (file === "_prelude.lua" || file === "lib") continue;
    const m = FILE.exec(file);
    if (!m) throw new Error(`lua/${file}: script files must be named camelCaseName-<numberOfKeys>.lua`);
    const lua = `${prelude}\n${withIncludes(readFileSync(new URL(file, dir), "utf8"), dir, file)}`;
    if (!(SCRIPT_NAMES as readonly string[]).includes(m[1]!)) throw new Error(`lua/${file}: ${m[1]} is not in SCRIPT_NAMES (scripts.ts)`);
    scripts.set(m[1]!, { keys: Number(m[2]), lua, sha: createHash("sha1").update(lua).digest("hex") });
  }
  for (const name of SCRIPT_NAMES) if (!scripts.has(name)) throw new Error(`scripts.ts: no lua/${name}-<keys>.lua for ${name}`);
  /**
   * The EVAL under way per script after a NOSCRIPT: calls refused meanwhile wait for it and try
   * EVALSHA again, instead of each sending the whole script text (a restarted node's first storm of
   * reclaims sent hundreds of copies of the scripts nobody had run on that Redis yet). On Cluster
   * another master may still lack it: such a call then sends its own EVAL.
   */
  const loading = new Map<string, Promise<unknown>>();
  const noScript = (e: unknown) => e instanceof Error && e.message.startsWith("NOSCRIPT");
  return {
    names: () => [...scripts.keys()],
    async run(name, keys, args) {
      const s = scripts.get(name);
      if (!s) throw new Error(`unknown script ${name}`);
      if (keys.length !== s.keys) throw new Error(`script ${name} takes ${s.keys} keys, got ${keys.length}`);
      try {
        return await client.evalsha(s.sha, s.keys, ...keys, ...args);
      } catch (e) {
        if (!noScript(e)) throw e;
      }
      const pending = loading.get(name);
      if (pending) {
        await pending.catch(() => undefined);
        try {
          return await client.evalsha(s.sha, s.keys, ...keys, ...args);
        } catch (e) {
          if (!noScript(e)) throw e;
        }
      }
      onReload(name);
      const loaded = client.eval(s.lua, s.keys, ...keys, ...args);
      if (!loading.has(name)) {
        loading.set(name, loaded);
        void loaded.catch(() => undefined).finally(() => loading.delete(name));
      }
      return loaded;
    },
  };
}

/** Replaces `--@include <name>` lines with the file `lib/<name>.lua` (once each, no nesting). */
function withIncludes(lua: string, dir: URL, file: string): string {
  const seen = new Set<string>();
  return lua.replace(/^--@include ([a-zA-Z]+)$/gm, (_line, name: string) => {
    if (seen.has(name)) throw new Error(`lua/${file}: ${name} included twice`);
    seen.add(name);
    return readFileSync(new URL(`lib/${name}.lua`, dir), "utf8");
  });
}
