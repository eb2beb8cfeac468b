import type { MemberIdentity } from "../../core/identity.js";
import type { Activity } from "../../core/presence-event.js";
import { settingsChange, type UserSettingsChange } from "../../core/commit.js";
import { newerRestore, restoresSomething, type UserRestore, type UserStatusRecord } from "../../core/user-status.js";
import { decodeStatus } from "./codec.js";
import { ScriptReply, type ScriptContext } from "./script-reply.js";

/**
 * Typed wrappers of the user-status scripts (lua/user*.lua: one hash per user, `{u:<id>}`). A
 * status change is published by the script and handed to `committed` (the commit feed) with the
 * script's time; an unchanged status is neither.
 */
const CHANGED = { 1: "changed", 0: "unchanged" } as const;
const SESSION = { ...CHANGED, [-1]: "held_back" } as const;

/** The first Join a guarded `set` depends on: its member in the room and its session record (same Redis). */
export interface JoinGuard {
  membersKey: string;
  connectionId: string;
  sessionsKey: string;
}

/** What a node keeps of a user's own settings, to restore them after Redis lost its data. */
export interface UserSettings {
  customStatus: string;
  invisible: boolean;
  /** When they last changed (store time, ms; 0 = never set). */
  changedAtMs: number;
  /** The last seen others saw while invisible. */
  visibleLastSeenMs: number;
}

export interface UserScripts {
  /**
   * Records a session's activity under its user (`set`) or its end (`end`), or undoes the `set` of
   * a session whose first Join was refused (`forget`: no last seen); anonymous sessions have no
   * status. A `set` that creates the user's record starts it from the newer of `restore` and the
   * settings this node last saw of the user (core/user-presence.ts `applyUserSession`). With a
   * `guard` (standalone only), a `set` sent right after a first Join's session and room steps on
   * the same connection applies only if they admitted the session (`held_back` otherwise).
   */
  session(identity: MemberIdentity, op: "set" | "end" | "forget", sid: string, activity: Activity, restore?: UserRestore, guard?: JoinGuard): Promise<"applied" | "held_back">;
  /**
   * Sets the custom status, the invisible flag and/or the manual presence (undefined keeps); returns
   * the status after, the manual presence before, and the user's sessions with their activities.
   */
  setStatus(
    userId: string,
    customStatus: string | undefined,
    invisible: boolean | undefined,
    presence?: "auto" | "away" | "online",
  ): Promise<UserStatusRecord & { overrideBefore: "auto" | "away" | "online"; sessions: { sid: string; activity: Activity }[] }>;
  /** Puts back settings a node knew after Redis lost data, unless the record has newer ones. */
  restore(userId: string, settings: UserSettings): Promise<void>;
}

/**
 * `committed` receives every published change (with what a SetStatus set); `learned` every user's
 * settings as a script saw them (the node keeps them for the users of its sessions); `known` gives
 * them back, to restore a record Redis lost.
 */
export function createUserScripts(
  c: ScriptContext,
  committed: (status: UserStatusRecord, timeMs: number, settings?: UserSettingsChange) => void,
  learned: (userId: string, settings: UserSettings) => void,
  known: (userId: string) => UserSettings | undefined,
): UserScripts {
  const settingsOf = (s: UserStatusRecord, changedAtMs: number): UserSettings => ({
    customStatus: s.customStatus,
    invisible: s.invisible,
    changedAtMs,
    visibleLastSeenMs: s.visibleLastSeenMs,
  });
  return {
    async session(identity, op, sid, activity, restore, guard) {
      if (identity.kind !== "user") return "applied";
      const userId = identity.user.userId;
      const k = c.keys.user(userId);
      const args: (string | number)[] = [userId, op, sid, activity, c.nowArg(), c.timings.lastSeenRetentionMs, k.channel, c.pub];
      const r0 = op === "set" ? newerRestore(restore, restoreOfSettings(known(userId))) : undefined;
      if (restoresSomething(r0)) args.push(r0.lastSeenMs, r0.invisible ? r0.visibleLastSeenMs : r0.lastSeenMs, r0.customStatus, r0.invisible ? "1" : "0", r0.changedAtMs);
      else args.push("", "", "", "", "");
      args.push(guard && op === "set" ? guard.connectionId : "");
      const keys = guard && op === "set" ? [k.status, guard.membersKey, guard.sessionsKey] : [k.status, k.status, k.status];
      const r = new ScriptReply("userSession", await c.run("userSession", keys, args));
      const status = decodeStatus(r.str(1));
      learned(userId, settingsOf(status, r.int(3)));
      const result = r.status(0, SESSION);
      if (result === "changed") committed(status, r.int(2));
      return result === "held_back" ? "held_back" : "applied";
    },
    async setStatus(userId, customStatus, invisible, presence) {
      const k = c.keys.user(userId);
      const args = [userId, customStatus === undefined ? "0" : "1", customStatus ?? "", invisible === undefined ? "" : invisible ? "1" : "0", c.nowArg(), k.channel, c.pub, presence ?? ""];
      const raw = (await c.run("userSetStatus", [k.status], args)) as unknown[];
      const r = new ScriptReply("userSetStatus", raw);
      const status = decodeStatus(r.str(1));
      learned(userId, settingsOf(status, r.int(3)));
      if (r.status(0, CHANGED) === "changed") committed(status, r.int(2), settingsChange(customStatus, invisible));
      const before = r.str(4);
      const sessions: { sid: string; activity: Activity }[] = [];
      for (let i = 5; i + 1 < raw.length; i += 2) sessions.push({ sid: String(raw[i]), activity: raw[i + 1] === "away" ? "away" : "active" });
      return { ...status, overrideBefore: before === "away" || before === "online" ? before : "auto", sessions };
    },
    async restore(userId, st) {
      const k = c.keys.user(userId);
      const args = [userId, st.customStatus, st.invisible ? "1" : "0", st.changedAtMs, st.visibleLastSeenMs, c.nowArg(), k.channel, c.pub];
      const r = new ScriptReply("userRestore", await c.run("userRestore", [k.status], args));
      if (r.status(0, CHANGED) === "changed") committed(decodeStatus(r.str(1)), r.int(2));
    },
  };
}

/** What the node last saw of a user's settings, as a restore (no last seen: the node does not keep it). */
const restoreOfSettings = (s: UserSettings | undefined): UserRestore | undefined =>
  s && s.changedAtMs > 0 ? { lastSeenMs: 0, visibleLastSeenMs: s.visibleLastSeenMs, customStatus: s.customStatus, invisible: s.invisible, changedAtMs: s.changedAtMs } : undefined;

