import type { FakeClock } from "../../src/core/fake-clock.js";
import type { MemberIdentity } from "../../src/core/identity.js";
import { PresenceError } from "../../src/core/presence-error.js";
import type { StoreMessage } from "../../src/core/presence-event.js";
import type { PresenceStore } from "../../src/store/presence-store.js";

/**
 * The store contract: one suite per port, every implementation. The memory store is the
 * specification; a new store passes this suite unchanged. Timings expected by the suite:
 * heartbeat 100 ms, TTL 300 ms, node refresh 100 ms (a node is dead 200 ms after its last
 * announcement), typing TTL 5 s, cursor flush 50 ms, cursor TTL 10 s, 16 rooms per session,
 * large-room threshold 1,000. The store's node id is the default, "local". `advance` moves the store's clock.
 */
export type MakeHarness = () => Promise<ContractHarness>;

export interface ContractHarness {
  store: PresenceStore;
  /** The store's clock (scripts take their time from it too). */
  clock: FakeClock;
  /** Waits until everything published so far has reached this process's subscribers. */
  settle(): Promise<void>;
  /** Lets an empty, unwatched room's state expire (memory: virtual time; Redis: its short TTL). */
  expireIdleRoom(): Promise<void>;
  /** Whether `stats().rooms` is exact (the memory store counts rooms; Redis only watched ones). */
  exactRoomStats: boolean;
  /** Whether `memoryUsage()` is an estimate (memory store) rather than measured (Redis INFO). */
  memoryEstimated: boolean;
}

export const ana: MemberIdentity = { kind: "user", user: { userId: "ana", name: "Ana", avatarUrl: "https://a/ana.png", metadata: {} } };
export const bob: MemberIdentity = { kind: "user", user: { userId: "bob", name: "Bob", avatarUrl: "", metadata: {} } };
export const OWNER_ANA = "u:ana";
export const OWNER_BOB = "u:bob";

export async function record(store: PresenceStore, room: string) {
  const messages: StoreMessage[] = [];
  const off = store.subscribe(room, (m) => messages.push(m));
  await store.ready(room);
  const events = () => messages.flatMap((m) => (m.type === "event" ? [m.event] : []));
  return { messages, events, off };
}

export async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof PresenceError ? e.reason : `unexpected ${String(e)}`;
  }
}
