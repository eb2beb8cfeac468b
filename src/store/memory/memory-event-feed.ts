import type { BackendEvent } from "../../core/backend-events.js";
import type { Clock } from "../../core/clock.js";
import type { BackendEventFeed, FeedEntry } from "../ports/backend-event-feed.js";

/**
 * The backend event feed of the embedded store: an array of entries trimmed by age. Ids are
 * `<incarnation>-<sequence>` (the incarnation is the store's start time), so a cursor from before a
 * restart is recognised: the reader gets a gap and everything retained, never a silent skip.
 */
export function createMemoryEventFeed(clock: Clock): BackendEventFeed {
  const incarnation = String(clock.now());
  const entries: Array<FeedEntry & { seq: number; atMs: number }> = [];
  let seq = 0;
  /** Highest sequence number trimmed away (0: nothing trimmed yet). */
  let trimmedUpTo = 0;
  const lastId = () => (seq === 0 ? "" : `${incarnation}-${seq}`);
  return {
    async appendBackendEvents(events: BackendEvent[], retentionMs: number) {
      const now = clock.now();
      for (const event of events) {
        seq++;
        entries.push({ id: `${incarnation}-${seq}`, seq, event: structuredClone(event), atMs: now });
      }
      let drop = 0;
      while (drop < entries.length && entries[drop]!.atMs < now - retentionMs) drop++;
      if (drop > 0) trimmedUpTo = entries[drop - 1]!.seq;
      entries.splice(0, drop);
    },
    async readBackendEvents(afterId, limit) {
      const [inc, s] = afterId.split("-");
      const foreign = afterId !== "" && inc !== incarnation; // a cursor of an earlier incarnation
      const after = afterId === "" || foreign ? 0 : Number(s);
      const gap = foreign || after < trimmedUpTo;
      const start = entries.findIndex((e) => e.seq > after);
      const out = start < 0 ? [] : entries.slice(start, start + limit).map(({ id, event }) => ({ id, event: structuredClone(event) }));
      return { entries: out, gap, lastId: lastId() };
    },
  };
}
