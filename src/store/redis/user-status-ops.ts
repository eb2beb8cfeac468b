import type { Activity } from "../../core/presence-event.js";
import type { MemberIdentity } from "../../core/identity.js";
import type { UserStatusRecord } from "../../core/user-status.js";
import { decodeStatus, statusFromHash } from "./codec.js";
import type { Keys } from "./keys.js";
import type { ScriptName } from "./scripts.js";
import type { Subscriber } from "./subscriber.js";

/**
 * User status on Redis: one hash per user (`{u:<id>}`: its sessions' activities, last seen, custom
 * status, invisible), changed by the `userSession` and `userSetStatus` scripts, which publish the
 * new status on the user's channel when it changed. After a subscriber reconnect the current
 * status is read and sent again (changes may have been missed).
 */
export interface UserStatusOps {
  read(userIds: string[]): Promise<UserStatusRecord[]>;
  set(userId: string, customStatus: string | undefined, invisible: boolean | undefined): Promise<UserStatusRecord>;
  subscribe(userIds: string[], listener: (r: UserStatusRecord) => void): () => void;
  /** Records a session's activity under its user (`set`) or its end (`end`); anonymous sessions have none. */
  session(identity: MemberIdentity, op: "set" | "end", sid: string, activity: Activity): Promise<void>;
}

export interface UserStatusOpsDeps {
  keys: Keys;
  read(key: string): Promise<Record<string, string>>;
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown>;
  subscriber: Subscriber;
  pub: "PUBLISH" | "SPUBLISH";
  nowArg(): string;
  lastSeenRetentionMs: number;
}

export function createUserStatusOps(d: UserStatusOpsDeps): UserStatusOps {
  const read = async (userIds: string[]) => {
    const hashes = await Promise.all(userIds.map((id) => d.read(d.keys.user(id).status)));
    return userIds.map((id, i) => statusFromHash(id, hashes[i]!));
  };
  return {
    read,
    async set(userId, customStatus, invisible) {
      const k = d.keys.user(userId);
      const r = (await d.run("userSetStatus", [k.status], [
        userId,
        customStatus === undefined ? "0" : "1",
        customStatus ?? "",
        invisible === undefined ? "" : invisible ? "1" : "0",
        d.nowArg(),
        k.channel,
        d.pub,
      ])) as [number, string];
      return decodeStatus(r[1]);
    },
    subscribe(userIds, listener) {
      const subs = userIds.map((id) =>
        d.subscriber.add(d.keys.user(id).channel, {
          message: (payload) => listener(decodeStatus(payload)),
          reset: () => {
            read([id]).then(([r]) => r && listener(r), () => {});
          },
        }),
      );
      return () => subs.forEach((s) => s.remove());
    },
    async session(identity, op, sid, activity) {
      if (identity.kind !== "user") return;
      const k = d.keys.user(identity.user.userId);
      await d.run("userSession", [k.status], [identity.user.userId, op, sid, activity, d.nowArg(), d.lastSeenRetentionMs, k.channel, d.pub]);
    },
  };
}
