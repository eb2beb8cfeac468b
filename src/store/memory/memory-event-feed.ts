import type { BackendEvent } from "../../core/backend-events.js";
import type { Clock } from "../../core/clock.js";
import type { BackendEventFeed } from "../ports/backend-event-feed.js";

/**
 * The backend event feed of the embedded store: an array of entries trimmed by age. Ids are
 * `<incarnation>-<sequence>` (the incarnation is the store's start time), so a cursor from before a
 * restart is recognised: the reader gets a gap and everything retained, never a silent skip.
 *
 * Memory: the feed holds every join's events for the retention window (PRESENCE_EVENTS_RETENTION_MS,
 * 5 min) whether or not anyone reads it, so an entry keeps the appended event itself, not a copy:
 * its member, user and counts are the objects the room's state and the commit already hold (a deep
 * copy was ~1.6 KB per joined connection, its JSON text ~2 KB as V8 builds it, a rope). Appenders
 * never change an event after appending it (the service's derivation makes fresh ones); readers get
 * copies, so none can change the feed. Ids are made when read.
 */
export function createMemoryEventFeed(clock: Clock): BackendEventFeed {
  const incarnation = String(clock.now());
  // Retained entries as two parallel arrays (no wrapper object per entry): entry i has sequence
  // number `firstSeq + i`, its event and the time it was appended.
  const events: BackendEvent[] = [];
  const appendedAtMs: number[] = [];
  let firstSeq = 1;
  let seq = 0;
  /** Highest sequence number trimmed away (0: nothing trimmed yet). */
  let trimmedUpTo = 0;
  const idOf = (s: number) => `${incarnation}-${s}`;
  return {
    async appendBackendEvents(appended: BackendEvent[], retentionMs: number) {
      const now = clock.now();
      for (const event of appended) {
        seq++;
        events.push(event);
        appendedAtMs.push(now);
      }
      let drop = 0;
      while (drop < events.length && appendedAtMs[drop]! < now - retentionMs) drop++;
      if (drop > 0) {
        firstSeq += drop;
        trimmedUpTo = firstSeq - 1;
        events.splice(0, drop);
        appendedAtMs.splice(0, drop);
      }
    },
    async readBackendEvents(afterId, limit) {
      const [inc, s] = afterId.split("-");
      const foreign = afterId !== "" && inc !== incarnation; // a cursor of an earlier incarnation
      const after = afterId === "" || foreign ? 0 : Number(s);
      const gap = foreign || after < trimmedUpTo;
      const start = Math.max(0, after + 1 - firstSeq);
      const out = events.slice(start, start + limit).map((event, i) => ({ id: idOf(firstSeq + start + i), event: structuredClone(event) }));
      return { entries: out, gap, lastId: seq === 0 ? "" : idOf(seq) };
    },
  };
}
