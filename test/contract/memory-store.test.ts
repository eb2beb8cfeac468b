import { randomBytes } from "node:crypto";
import { afterEach, describe } from "vitest";
import { createFakeClock } from "../../src/core/fake-clock.js";
import { createIdSource } from "../../src/core/ids.js";
import { DEFAULT_LIMITS, DEFAULT_TIMINGS } from "../../src/config.js";
import { createMemoryPresenceStore } from "../../src/store/memory/memory-store.js";
import type { PresenceStore } from "../../src/store/presence-store.js";
import { presenceStoreContract } from "./presence-store.contract.js";

const open: PresenceStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe("PresenceStore contract: memory", () => {
  presenceStoreContract(async () => {
    const clock = createFakeClock();
    const store = createMemoryPresenceStore({
      clock,
      ids: createIdSource((n) => randomBytes(n)),
      timings: { ...DEFAULT_TIMINGS, heartbeatIntervalMs: 100, sessionTtlMs: 300, nodeRefreshMs: 100 },
      limits: DEFAULT_LIMITS,
    });
    open.push(store);
    return {
      store,
      clock,
      settle: async () => {},
      expireIdleRoom: async () => clock.advance(DEFAULT_TIMINGS.roomRetentionMs + 1),
      exactRoomStats: true,
      memoryEstimated: true,
    };
  });
});
