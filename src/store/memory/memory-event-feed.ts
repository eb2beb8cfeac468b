import type { BackendEvent } from "../../core/backend-events.js";
import type { Clock } from "../../core/clock.js";
import type { BackendEventFeed, FeedEntry } from "../ports/backend-event-feed.js";

/** The backend event feed of the embedded store: an array of entries with sequence ids, trimmed by age. */
export function createMemoryEventFeed(clock: Clock): BackendEventFeed {
  const entries: Array<FeedEntry & { atMs: number }> = [];
  let seq = 0;
  /** Sequence number of the first entry ever trimmed away (0: nothing trimmed yet). */
  let trimmedUpTo = 0;
  const num = (id: string) => (id === "" ? 0 : Number(id));
  return {
    async appendBackendEvents(events: BackendEvent[], retentionMs: number) {
      const now = clock.now();
      for (const event of events) entries.push({ id: String(++seq), event: structuredClone(event), atMs: now });
      let drop = 0;
      while (drop < entries.length && entries[drop]!.atMs < now - retentionMs) drop++;
      if (drop > 0) trimmedUpTo = num(entries[drop - 1]!.id);
      entries.splice(0, drop);
    },
    async readBackendEvents(afterId, limit) {
      const after = num(afterId);
      if (!Number.isInteger(after) || after < 0) return { entries: [], gap: true, lastId: seq === 0 ? "" : String(seq) };
      const gap = after < trimmedUpTo;
      const start = entries.findIndex((e) => num(e.id) > after);
      const out = start < 0 ? [] : entries.slice(start, start + limit).map(({ id, event }) => ({ id, event: structuredClone(event) }));
      return { entries: out, gap, lastId: seq === 0 ? "" : String(seq) };
    },
  };
}
