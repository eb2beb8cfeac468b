import type { BackendEvent } from "../../core/backend-events.js";
import type { BackendEventFeed, FeedEntry } from "../ports/backend-event-feed.js";
import type { RedisContext } from "./redis-context.js";

/**
 * The backend event feed on Redis: one stream, `<prefix>:{ev}:feed` (one slot on Cluster: backend
 * events are first/last arrivals and departures, far fewer than membership events), field `e` =
 * the event's JSON. XADD with `MINID <now − retention>` trims by age (stream ids start with the
 * Redis server's time in ms; exact trimming: the feed is small); reads are XRANGE with an exclusive start. A gap is a reader whose
 * cursor is older than the oldest retained entry while newer ones exist.
 */
/** True unless `first` could be the entry right after `cursor` (same ms, next sequence number). */
function trimmedAfter(cursor: string, first: string): boolean {
  const [cm, cs] = cursor.split("-").map(Number) as [number, number];
  const [fm, fs] = first.split("-").map(Number) as [number, number];
  return !(fm === cm && fs === cs + 1);
}

export function createRedisEventFeed(ctx: RedisContext): BackendEventFeed {
  const key = `${ctx.prefix}:{ev}:feed`;
  /** Stream ids compare as (ms, seq). */
  const after = (a: string, b: string) => {
    const [am, as] = a.split("-").map(Number) as [number, number];
    const [bm, bs] = b.split("-").map(Number) as [number, number];
    return am > bm || (am === bm && as > bs);
  };
  return {
    async appendBackendEvents(events: BackendEvent[], retentionMs: number) {
      if (events.length === 0) return;
      const minId = Math.max(0, ctx.clock.now() - retentionMs);
      await ctx.cmd("xadd", () => {
        const m = ctx.client.multi();
        for (const e of events) m.xadd(key, "MINID", String(minId), "*", "e", JSON.stringify(e));
        return m.exec();
      });
    },
    async readBackendEvents(afterId, limit) {
      if (afterId !== "" && !/^\d+-\d+$/.test(afterId)) return { entries: [], gap: true, lastId: "" };
      const res = await ctx.cmd("xrange", () =>
        ctx.client
          .multi()
          .xrange(key, afterId === "" ? "-" : `(${afterId}`, "+", "COUNT", Math.max(1, limit))
          .xinfo("STREAM", key)
          .exec(),
      );
      const range = (res?.[0]?.[1] ?? []) as Array<[string, string[]]>;
      const info = res?.[1]?.[0] ? undefined : (res?.[1]?.[1] as unknown[] | undefined);
      const field = (name: string) => {
        if (!info) return undefined;
        const i = info.indexOf(name);
        return i >= 0 ? info[i + 1] : undefined;
      };
      const lastId = (field("last-generated-id") as string | undefined) ?? "";
      const first = field("first-entry") as [string, string[]] | null | undefined;
      // The oldest retained entry is newer than the cursor's successor: what lay between was trimmed.
      const gap = afterId !== "" && first != null && after(first[0], afterId) && range.length > 0 && range[0]![0] === first[0] && trimmedAfter(afterId, first[0]);
      const entries: FeedEntry[] = range.slice(0, limit).map(([id, fields]) => ({ id, event: JSON.parse(fields[fields.indexOf("e") + 1]!) as BackendEvent }));
      return { entries, gap, lastId: lastId === "0-0" ? "" : lastId };
    },
  };
}
